/**
 * StoreDestination: an image written into the blob store under a name (store:REPO:TAG). Blobs are
 * store blobs already (the pipeline puts everything through the store), so writing one is usually
 * nothing at all; commit() sets the ref, which is what makes the image visible.
 */
import { OcikitError } from '../../errors.js';
import { shortDigest, type Digest } from '../../digest/index.js';
import { DOCKER_LIST, DOCKER_V2S2_MANIFEST, OCI_INDEX, OCI_MANIFEST } from '../../manifest/index.js';
import type { BlobStore } from '../../store/index.js';
import type { BlobInfo, BlobInput, ImageDestination, ImageDestinationProperties, ImageReference, ManifestBlob } from '../types.js';
import { storeRefName, type StoreName } from './names.js';

export class StoreDestination implements ImageDestination {
  readonly properties: ImageDestinationProperties = {
    // Every type the store can serve, as the source has it: nothing is converted unless --format says so.
    supportedManifestTypes: [OCI_MANIFEST, DOCKER_V2S2_MANIFEST, OCI_INDEX, DOCKER_LIST],
    desiredCompression: 'preserve',
    concurrentPutBlob: 8,
    supportsIndex: true,
    acceptsForeignLayers: true,
    verifiesWhileWriting: false,
  };
  #top: Digest | undefined;

  constructor(
    readonly reference: ImageReference,
    /** The name the image gets at commit. */
    private readonly name: StoreName,
    private readonly store: BlobStore,
  ) {}

  async tryReusingBlob(info: BlobInfo): Promise<BlobInfo | undefined> {
    const st = this.store.stat(info.digest);
    if (!st || (info.size >= 0 && info.size !== st.size)) return undefined;
    return { ...info, size: st.size };
  }

  /** The pipeline hands over the store's own file (nothing to do) or bytes to store, verified against `info` on the way in. */
  async putBlob(input: BlobInput, info: BlobInfo): Promise<BlobInfo> {
    const what = `blob ${shortDigest(info.digest)} for ${this.reference}`;
    const expect = { digest: info.digest, ...(info.size >= 0 ? { size: info.size } : {}), what, ...(info.mediaType ? { mediaType: info.mediaType } : {}) };
    if (input.kind === 'path') {
      const st = this.store.stat(info.digest);
      if (st && st.path === input.path) return { ...info, size: st.size };
      const got = await this.store.put({ path: input.path }, expect);
      return { ...info, size: got.size };
    }
    const got = await this.store.put(input.stream, expect);
    return { ...info, size: got.size };
  }

  async putManifest(m: ManifestBlob, instance?: Digest): Promise<void> {
    const stored = await this.store.put(m.bytes, { what: `manifest for ${this.reference}`, ...(m.mediaType ? { mediaType: m.mediaType } : {}) });
    if (instance === undefined) this.#top = stored.digest;
  }

  /** Point the name at the top-level manifest. A name with a digest must get exactly that manifest. */
  async commit(): Promise<void> {
    if (this.#top === undefined) throw new OcikitError('E_INTERNAL', `committing ${this.reference}: no manifest was written`);
    const n = this.name;
    if (n.digest !== undefined && n.digest !== this.#top) {
      throw new OcikitError('E_CONFLICT', `writing ${this.reference}: the manifest written has digest ${this.#top}, not the one named`, {
        hint: 'name the destination by tag, or copy with --preserve-digests',
      });
    }
    this.store.setRef(storeRefName(n), this.#top);
  }

  async close(): Promise<void> {
    // Nothing to discard: blobs without a ref are what store gc removes.
  }
}
