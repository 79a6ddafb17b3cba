/**
 * DockerSource: reads one image (or index) from a registry repository.
 *
 * Transfers are saved where the store already knows the answer: an index instance (a manifest by
 * digest) the store holds is read from the store without asking the registry; a tag the store has
 * recorded before is first resolved with HEAD and its manifest taken from the store when the store
 * has that digest (a tag it never saw is fetched at once: the HEAD would only delay the GET).
 * WARNING: the registry is untrusted. Manifests by digest are verified (lib/registry), blobs by the
 * copy pipeline; this class records a blob's location only when the pipeline says it verified it
 * (onVerified), never merely because its stream ended.
 */
import { OcikitError, isOcikitError } from '../../errors.js';
import { digestBytes, shortDigest, verifyBytes, type Digest } from '../../digest/index.js';
import { MAX_MANIFEST_SIZE, type Descriptor } from '../../manifest/index.js';
import type { Repository } from '../../registry/index.js';
import type { DockerReference } from '../../reference/index.js';
import type { StoreHandle } from '../../store/index.js';
import type { BlobInfo, BlobLocation, BlobPayload, ImageReference, ImageSource, ManifestBlob } from '../types.js';
import { DEFAULT_PER_HOST } from '../../registry/index.js';
import { DockerSignatureStore } from './signatures.js';
import { readReferrers } from './referrers.js';

/** The transport name the store's location cache files registry repositories under. */
export const LOCATION_TRANSPORT = 'docker';

/** Reads from one registry repository; see the module comment for what is taken from the store. */
export class DockerSource implements ImageSource {
  readonly properties = { concurrentGetBlob: DEFAULT_PER_HOST, blobsAre: 'fetched' } as const;
  /** This repository, as the location cache names it: a destination in the same registry mounts from here. */
  readonly blobLocation: BlobLocation;
  #top: Promise<ManifestBlob> | undefined;
  readonly #signatures: DockerSignatureStore;
  readonly #sigCache = new Map<string, Promise<Buffer[]>>();

  constructor(
    readonly reference: ImageReference & { ref: DockerReference },
    private readonly repo: Repository,
    private readonly store: StoreHandle,
    registriesDir?: string,
    /** Where the image is really read (a registries.conf mirror or location); default the reference itself. Signatures are read there too, as containers/image does. */
    physical?: DockerReference,
  ) {
    this.#signatures = new DockerSignatureStore(repo, physical ?? reference.ref, registriesDir);
    this.blobLocation = { transport: LOCATION_TRANSPORT, scope: repo.name };
  }

  /**
   * Signatures of the top manifest or an instance: lookaside, then sigstore attachments, as
   * registries.d configures (signatures.ts). Read once per manifest: the trust policy and the copy
   * of signatures both ask.
   */
  getSignatures(instance?: Digest): Promise<Buffer[]> {
    const key = instance ?? '';
    let p = this.#sigCache.get(key);
    if (!p) {
      p = (async () => this.#signatures.read(instance ?? this.reference.ref.digest ?? digestBytes((await this.getManifest()).bytes)))();
      this.#sigCache.set(key, p);
    }
    return p;
  }

  /** OCI 1.1 referrers of `subject`: the referrers API, else the fallback tag (referrers.ts). */
  listReferrers(subject: Digest, artifactTypes?: string[]): Promise<Descriptor[]> {
    return readReferrers(this.repo, subject, artifactTypes);
  }

  getManifest(instance?: Digest): Promise<ManifestBlob> {
    if (instance !== undefined) return this.byDigest(instance);
    this.#top ??= this.topManifest();
    return this.#top;
  }

  private async topManifest(): Promise<ManifestBlob> {
    const r = this.reference.ref;
    if (r.digest !== undefined) return this.byDigest(r.digest);
    const tag = r.tag!;
    // A HEAD first pays only when the store may hold the manifest: when it recorded this reference
    // before (a copy records its source). Otherwise it would be one more round trip before the GET.
    const store = this.store.get();
    if (store.getRef(this.reference.toString()) !== undefined) {
      const head = await this.repo.headManifest(tag).catch((err: unknown) => {
        // A registry that mishandles HEAD on manifests still answers GET: only auth, network and cancellation are final.
        if (isOcikitError(err, 'E_UNSUPPORTED') || isOcikitError(err, 'E_BAD_INPUT')) return 'no-head' as const;
        throw err;
      });
      if (!head) throw new OcikitError('E_NOT_FOUND', `reading manifest ${tag} from ${this.reference}: manifest unknown`);
      if (head !== 'no-head' && head.digest && store.has(head.digest)) {
        const bytes = await this.fromStore(head.digest);
        if (bytes) return { bytes, mediaType: head.mediaType };
      }
    }
    const m = await this.repo.getManifest(tag);
    return { bytes: m.bytes, mediaType: m.mediaType };
  }

  private async byDigest(d: Digest): Promise<ManifestBlob> {
    const cached = await this.fromStore(d);
    if (cached) return { bytes: cached, mediaType: '' };
    const m = await this.repo.getManifest(d);
    return { bytes: m.bytes, mediaType: m.mediaType };
  }

  /** The store's copy of a manifest, verified again (cheap) so a damaged store file is never served. */
  private async fromStore(d: Digest): Promise<Buffer | undefined> {
    const store = this.store.get();
    if (!store.has(d)) return undefined;
    try {
      const bytes = await store.readBytes(d, MAX_MANIFEST_SIZE);
      verifyBytes(bytes, { digest: d, what: `manifest ${shortDigest(d)} in the store` });
      return bytes;
    } catch {
      return undefined;
    }
  }

  async getBlob(info: BlobInfo): Promise<BlobPayload> {
    const { stream, size } = await this.repo.getBlob(info.digest, info.size);
    return { kind: 'stream', stream, size };
  }

  /** The pipeline verified a blob we served: now, and only now, the store may learn that this repository has it. */
  onVerified(info: BlobInfo): void {
    this.store.get().cache.recordLocation(LOCATION_TRANSPORT, this.repo.name, info.digest);
  }

  async close(): Promise<void> {}
}
