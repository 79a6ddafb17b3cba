/** StoreSource: an image read from the blob store by one of its names (store:REPO:TAG). */
import { closeSync, openSync } from 'node:fs';
import { OcikitError, wrapError } from '../../errors.js';
import { shortDigest, type Digest } from '../../digest/index.js';
import { MAX_MANIFEST_SIZE, guessManifestMediaType } from '../../manifest/index.js';
import type { BlobStore } from '../../store/index.js';
import type { BlobInfo, BlobPayload, ImageReference, ImageSource, ManifestBlob } from '../types.js';
import { resolveStoreName, type StoreName } from './names.js';

export class StoreSource implements ImageSource {
  readonly properties = { concurrentGetBlob: 8, blobsAre: 'read' } as const;
  readonly #fds: number[] = [];

  private constructor(
    readonly reference: ImageReference,
    private readonly store: BlobStore,
    private readonly top: Digest,
  ) {}

  /**
   * Resolve the name (E_NOT_FOUND when no ref gives it). A digest the store holds is found even
   * when no ref names it: the store is content-addressed, and the bytes are checked against it.
   */
  static async open(reference: ImageReference, n: StoreName, store: BlobStore): Promise<StoreSource> {
    const resolved = resolveStoreName(store, n.repository, n);
    const top = resolved?.digest ?? (n.digest !== undefined && store.has(n.digest) ? n.digest : undefined);
    if (top === undefined) throw new OcikitError('E_NOT_FOUND', `reading ${reference}: the store has no image of that name`, { hint: 'ocikit store ls lists what it holds' });
    return new StoreSource(reference, store, top);
  }

  async getManifest(instance?: Digest): Promise<ManifestBlob> {
    const d = instance ?? this.top;
    let bytes: Buffer;
    try {
      // readBytes verifies the bytes against the digest.
      bytes = await this.store.readBytes(d, MAX_MANIFEST_SIZE);
    } catch (err) {
      throw wrapError(err, `reading manifest ${shortDigest(d)} of ${this.reference}`);
    }
    return { bytes, mediaType: guessManifestMediaType(bytes) ?? '' };
  }

  async getBlob(info: BlobInfo): Promise<BlobPayload> {
    const st = this.store.stat(info.digest);
    if (!st) throw new OcikitError('E_NOT_FOUND', `reading blob ${shortDigest(info.digest)} of ${this.reference}: not in the store`);
    let fd: number;
    try {
      // Held until close(): the path may be replaced (a repair) but this descriptor keeps the verified file.
      fd = openSync(st.path, 'r');
    } catch (err) {
      throw wrapError(err, `reading blob ${shortDigest(info.digest)} of ${this.reference}`);
    }
    this.#fds.push(fd);
    return { kind: 'path', path: st.path, size: st.size, fd };
  }

  async close(): Promise<void> {
    for (const fd of this.#fds.splice(0)) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}
