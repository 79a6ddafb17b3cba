/**
 * DockerDestination: writes an image (or an index and its instances) to a registry repository.
 *
 * Order, as the registry requires: blobs, then each instance manifest by digest, then at commit()
 * the top-level manifest under the tag (or digest), then the referrers (putReferrer) by digest, each
 * after its subject, and last the fallback tags of the referrers the registry did not index itself
 * (referrers.ts). Nothing is visible under the tag before commit(); blobs and instance manifests
 * pushed by a failed copy are unreferenced, and the registry's garbage collection owns them.
 *
 * A blob is reused when HEAD finds it in the repository, or mounted (POST …/blobs/uploads/?mount=
 * D&from=REPO) from another repository of the same registry: the source's own repository when the
 * copy is between two repositories of one registry (the pipeline hands it over as
 * ReuseOptions.sourceLocation, as containers/image passes its source reference), then those the
 * store's location cache names. A mount moves no bytes: the registry links the blob it holds under
 * that digest. A refused mount leaves an upload session, which the upload then uses; close()
 * cancels any left unused.
 *
 * A copy whose manifest the tag already shows (hasManifest: one HEAD) moves nothing: the pipeline
 * skips the blobs and commit() skips the PUT of the manifest it found there.
 */
import { OcikitError, isOcikitError } from '../../errors.js';
import { digestBytes, shortDigest, type Digest } from '../../digest/index.js';
import { DOCKER_LIST, DOCKER_V2S2_MANIFEST, OCI_INDEX, OCI_MANIFEST, parseManifest, referrerDescriptor, subjectOf, type Descriptor } from '../../manifest/index.js';
import { DEFAULT_PER_HOST, uploadBlob, type Repository, type UploadSession } from '../../registry/index.js';
import type { BlobInfo, BlobInput, BlobLedger, BlobLocation, ImageDestination, ImageReference, ManifestBlob, ReuseOptions, SystemContext } from '../types.js';
import { MemoryBlobLedger } from '../blob-ledger.js';
import { LOCATION_TRANSPORT } from './source.js';
import type { DockerReference } from '../../reference/index.js';
import { DockerSignatureStore } from './signatures.js';
import { addToFallbackTag } from './referrers.js';

/** Mount sources tried per blob before uploading it. */
const MAX_MOUNT_TRIES = 3;

/** Writes to one registry repository; see the module comment for order and reuse. */
export class DockerDestination implements ImageDestination {
  readonly properties = {
    supportedManifestTypes: [OCI_MANIFEST, DOCKER_V2S2_MANIFEST, OCI_INDEX, DOCKER_LIST],
    // As containers/image: registries get compressed layers (an uncompressed docker-archive layer is gzipped).
    desiredCompression: 'compress' as const,
    concurrentPutBlob: DEFAULT_PER_HOST,
    supportsIndex: true,
    acceptsForeignLayers: true,
    // An upload reads every byte anyway: it checks a source file's digest as it sends it.
    verifiesWhileWriting: true,
  };
  #top: ManifestBlob | undefined;
  /** The digest hasManifest found where commit() writes: commit() does not write it again. */
  #shown: Digest | undefined;
  /** Upload sessions a refused mount left open, used by putBlob for that digest. */
  readonly #sessions = new Map<Digest, UploadSession>();
  /** Shared with the other copies of a sync (WriteOptions.blobLedger), else this copy's own. */
  readonly #ledger: BlobLedger;
  /** Blobs claimed in the ledger and found nowhere: settled by putBlob, or by close(). */
  readonly #claimed = new Set<Digest>();
  /** Per repository mounted from: whether its first mount went through (201 or a refusal, not an error). */
  readonly #mountProbes = new Map<string, Promise<boolean>>();
  #signatureStore: DockerSignatureStore | undefined;
  readonly #signatures: Array<{ instance?: Digest; planned: Awaited<ReturnType<DockerSignatureStore['plan']>> }> = [];
  /** Referrers to push at commit(), in the order given (a subject before its referrers). */
  readonly #referrers: Array<{ manifest: ManifestBlob; digest: Digest; subject: Digest }> = [];

  constructor(
    readonly reference: ImageReference & { ref: DockerReference },
    private readonly repo: Repository,
    private readonly ctx: SystemContext,
  ) {
    this.#ledger = ctx.write?.blobLedger ?? new MemoryBlobLedger();
  }

  /**
   * Signatures go where registries.d says (signatures.ts). They are checked now, so one that cannot
   * be stored fails the copy before anything is visible, and written at commit(), before the tag moves.
   */
  async putSignatures(signatures: Buffer[], instance?: Digest): Promise<void> {
    this.#signatureStore ??= new DockerSignatureStore(this.repo, this.reference.ref, this.ctx.registry?.registriesDir);
    this.#signatures.push({ ...(instance ? { instance } : {}), planned: await this.#signatureStore.plan(signatures) });
  }

  /** A --debug line about this destination's decisions. */
  #debug(line: string): void {
    this.ctx.events?.debug?.(line);
  }

  private record(d: Digest): void {
    this.ctx.store.get().cache.recordLocation(LOCATION_TRANSPORT, this.repo.name, d);
  }

  /**
   * The ledger first (another image of this sync may have found or be writing the blob: wait for
   * it), then a HEAD, then a mount. A blob found nowhere stays claimed until putBlob (or close())
   * settles it, so the other images of the sync wait for this upload instead of making their own.
   */
  async tryReusingBlob(info: BlobInfo, opts: ReuseOptions = {}): Promise<BlobInfo | undefined> {
    for (;;) {
      const known = this.#ledger.claim(this.repo.name, info.digest);
      if (!known) break;
      if (await known) {
        this.#debug(`blob ${shortDigest(info.digest)}: already in ${this.repo.name} (another image of this operation found or wrote it)`);
        return info;
      }
    }
    let found: BlobInfo | undefined;
    try {
      found = await this.find(info, opts.sourceLocation);
    } catch (err) {
      this.#ledger.settle(this.repo.name, info.digest, false);
      throw err;
    }
    if (found) this.#ledger.settle(this.repo.name, info.digest, true);
    else this.#claimed.add(info.digest);
    return found;
  }

  /** A HEAD, then a mount. */
  private async find(info: BlobInfo, source: BlobLocation | undefined): Promise<BlobInfo | undefined> {
    const size = await this.repo.headBlob(info.digest);
    if (size !== undefined && (info.size < 0 || size < 0 || size === info.size)) {
      this.#debug(`blob ${shortDigest(info.digest)}: already in ${this.repo.name} (HEAD), not uploaded`);
      this.record(info.digest);
      return { ...info, size: size >= 0 ? size : info.size };
    }
    return this.tryMount(info, source);
  }

  /** Settle a blob this destination claimed (tryReusingBlob found it nowhere): written, or given up. */
  private settle(d: Digest, present: boolean): void {
    if (this.#claimed.delete(d)) this.#ledger.settle(this.repo.name, d, present);
  }

  /**
   * Repositories of this registry to mount `digest` from, best first: the source's own (a copy
   * between two repositories of one registry), then those the location cache names (most recently
   * seen first); at most MAX_MOUNT_TRIES.
   */
  private mountSources(digest: Digest, source: BlobLocation | undefined): string[] {
    const registry = this.repo.client.registry;
    const scopes = source?.transport === LOCATION_TRANSPORT ? [source.scope] : [];
    scopes.push(...this.ctx.store.get().cache.locations(LOCATION_TRANSPORT, digest));
    const out = new Set<string>();
    for (const scope of scopes) {
      if (scope.startsWith(`${registry}/`) && scope.length > registry.length + 1) out.add(scope.slice(registry.length + 1));
    }
    out.delete(this.repo.path);
    return [...out].slice(0, MAX_MOUNT_TRIES);
  }

  private async tryMount(info: BlobInfo, source: BlobLocation | undefined): Promise<BlobInfo | undefined> {
    for (const from of this.mountSources(info.digest, source)) {
      // The first mount from each repository goes alone: when it fails outright (we may not read
      // that repository: the token service refused the scope), the other blobs do not ask again.
      const first = this.#mountProbes.get(from);
      if (first && !(await first)) continue;
      let settle: ((usable: boolean) => void) | undefined;
      if (!first) this.#mountProbes.set(from, new Promise((resolve) => (settle = resolve)));
      try {
        const r = await this.repo.mountBlob(info.digest, from);
        settle?.(true);
        if (r === 'mounted') {
          this.#debug(`blob ${shortDigest(info.digest)}: mounted from ${from}, not uploaded`);
          this.record(info.digest);
          // The registry just showed that `from` holds it too.
          this.ctx.store.get().cache.recordLocation(LOCATION_TRANSPORT, `${this.repo.client.registry}/${from}`, info.digest);
          return info;
        }
        // Refused (that repository lacks it, or the registry does not mount): the registry opened an
        // upload session instead, which putBlob uses, so a refusal costs no extra request.
        this.#debug(`blob ${shortDigest(info.digest)}: the registry refused to mount it from ${from}`);
        const old = this.#sessions.get(info.digest);
        this.#sessions.set(info.digest, r);
        if (old) await this.repo.cancelUpload(old.location);
      } catch (err) {
        settle?.(false);
        // A mount is an optimisation: any failure but cancellation falls back to uploading.
        if (isOcikitError(err, 'E_ABORTED')) throw err;
        this.#debug(`blob ${shortDigest(info.digest)}: mounting from ${from} failed (${err instanceof Error ? err.message : String(err)})`);
      }
    }
    return undefined;
  }

  async putBlob(input: BlobInput, info: BlobInfo): Promise<BlobInfo> {
    const session = this.#sessions.get(info.digest);
    this.#sessions.delete(info.digest);
    this.#debug(
      `blob ${shortDigest(info.digest)}: uploading ${info.size >= 0 ? `${info.size} bytes ` : ''}to ${this.repo.name}${this.ctx.registry?.uploadChunkSize ? ` in chunks of ${this.ctx.registry?.uploadChunkSize}` : ''}`,
    );
    try {
      await this.upload(input, info, session);
    } catch (err) {
      this.settle(info.digest, false);
      throw err;
    }
    this.record(info.digest);
    this.settle(info.digest, true);
    return info;
  }

  private async upload(input: BlobInput, info: BlobInfo, session: UploadSession | undefined): Promise<void> {
    await uploadBlob(
      this.repo,
      input.kind === 'path' ? { kind: 'path', path: input.path, verify: input.verify !== undefined } : { kind: 'stream', stream: input.stream, verify: !input.checkedByCaller },
      { digest: info.digest, size: input.kind === 'path' && input.verify ? input.verify.size : info.size },
      {
        ...(this.ctx.registry?.uploadChunkSize !== undefined ? { chunkSize: this.ctx.registry.uploadChunkSize } : {}),
        ...(session ? { session } : {}),
      },
    );
  }

  /**
   * One HEAD of the manifest where commit() would write it (the tag, or the digest the reference
   * names): whether it is `digest` already. Remembered, so that commit() does not PUT it again.
   */
  async hasManifest(digest: Digest): Promise<boolean> {
    const r = this.reference.ref;
    let head: Awaited<ReturnType<Repository['headManifest']>>;
    try {
      head = await this.repo.headManifest(r.digest ?? r.tag!);
    } catch (err) {
      // Only an answer counts: anything else (a registry that mishandles HEAD, auth) means a normal copy, which meets it properly.
      if (isOcikitError(err, 'E_ABORTED')) throw err;
      return false;
    }
    if (head?.digest !== digest) return false;
    this.#debug(`manifest ${shortDigest(digest)}: ${this.reference} shows it already: no blob is copied, the manifest is not written again`);
    this.#shown = digest;
    return true;
  }

  async putManifest(m: ManifestBlob, instance?: Digest): Promise<void> {
    if (instance === undefined) {
      // The top-level manifest makes the image visible under its tag: that is commit()'s job.
      this.#top = m;
      return;
    }
    const digest = digestBytes(m.bytes);
    if (digest !== instance) throw new OcikitError('E_INTERNAL', `writing manifest ${shortDigest(instance)} to ${this.reference}: its bytes have digest ${digest}`);
    await this.repo.putManifest(digest, m.bytes, m.mediaType);
  }

  /** A referrer, pushed at commit() after its subject (see the module comment). */
  async putReferrer(manifest: ManifestBlob, digest: Digest, subject: Digest): Promise<void> {
    const got = digestBytes(manifest.bytes);
    if (got !== digest) throw new OcikitError('E_INTERNAL', `writing referrer ${shortDigest(digest)} to ${this.reference}: its bytes have digest ${got}`);
    this.#referrers.push({ manifest, digest, subject });
  }

  async commit(): Promise<void> {
    const top = this.#top;
    if (!top) throw new OcikitError('E_INTERNAL', `committing ${this.reference}: no manifest was written`);
    const r = this.reference.ref;
    const digest = digestBytes(top.bytes);
    if (r.digest !== undefined && r.digest !== digest) {
      throw new OcikitError('E_CONFLICT', `writing ${this.reference}: the manifest to write has digest ${digest}, not the one the destination names`, {
        hint: 'push by tag, or add --preserve-digests and drop options that change the manifest',
      });
    }
    for (const s of this.#signatures) await this.#signatureStore!.write(s.instance ?? digest, s.planned);
    // A manifest the registry already shows there (hasManifest) is not written again, unless it is a
    // referrer itself: then the PUT's OCI-Subject answer says whether the registry indexed it.
    const topSubject = top.mediaType === OCI_MANIFEST || top.mediaType === OCI_INDEX ? subjectOf(parseManifest(top.bytes, top.mediaType)) : undefined;
    const pushed = this.#shown === digest && !topSubject ? { digest } : await this.repo.pushManifest(r.digest ?? r.tag!, top.bytes, top.mediaType);
    // The registry showed this image there, so this repository holds its blobs: a store in use
    // learns where they are (a later copy to another repository of the registry mounts them from
    // here). A push again that needed no store does not open one to record it (advisory).
    if (this.#shown === digest) this.recordBlobsOf(top);
    // === REFERRERS: each after its subject; the fallback tags last, for those the registry did not index.
    const unindexed = new Map<Digest, Descriptor[]>();
    const note = (m: ManifestBlob, d: Digest, subject: Digest, ociSubject: string | undefined): void => {
      if (ociSubject === subject) return;
      const list = unindexed.get(subject) ?? [];
      list.push(referrerDescriptor(parseManifest(m.bytes, m.mediaType || undefined), d, m.bytes.length));
      unindexed.set(subject, list);
    };
    // A top-level manifest that is itself a referrer (an artifact copied on its own) is listed too.
    if (topSubject) note(top, digest, topSubject.digest, pushed.ociSubject);
    for (const ref of this.#referrers) {
      const p = await this.repo.pushManifest(ref.digest, ref.manifest.bytes, ref.manifest.mediaType);
      note(ref.manifest, ref.digest, ref.subject, p.ociSubject);
    }
    for (const [subject, entries] of unindexed) await addToFallbackTag(this.repo, subject, entries);
  }

  /** Record every blob an image manifest names as present in this repository, if the store is open. */
  private recordBlobsOf(m: ManifestBlob): void {
    const cache = this.ctx.store.opened()?.cache;
    if (!cache) return;
    const parsed = parseManifest(m.bytes, m.mediaType || undefined);
    if (parsed.kind !== 'oci-manifest' && parsed.kind !== 'docker-v2s2') return;
    for (const d of [parsed.value.config, ...parsed.value.layers]) cache.recordLocation(LOCATION_TRANSPORT, this.repo.name, d.digest);
  }

  async close(): Promise<void> {
    for (const d of [...this.#claimed]) this.settle(d, false);
    const open = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(open.map((s) => this.repo.cancelUpload(s.location)));
  }
}
