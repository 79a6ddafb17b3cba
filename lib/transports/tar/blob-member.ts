/**
 * The blobs of an archive being written, as `blobs/<alg>/<hex>` members: what the archive holds
 * (copied from the archive being added to, or written now), and the members being written. Both
 * archive destinations (oci-archive:, docker-archive:) keep their blobs through this one class.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { OcikitError } from '../../errors.js';
import { algorithmOf, type Digest } from '../../digest/index.js';
import type { StoreHandle } from '../../store/index.js';
import type { BlobInfo, BlobInput, BlobReservation } from '../types.js';
import { blobMemberName } from './names.js';
import type { TarWriter } from './writer.js';

/** A blob the archive holds: the member that holds it. */
export interface HeldBlob {
  name: string;
  size: number;
}

export class ArchiveBlobs {
  /** Every blob the new archive holds, by digest. */
  readonly held = new Map<Digest, HeldBlob>();
  /** Blobs being written, so two puts of one digest write it once. */
  readonly #pending = new Map<Digest, Promise<void>>();

  constructor(
    private readonly writer: TarWriter,
    private readonly where: string,
    private readonly store: StoreHandle,
  ) {}

  /** Whether the archive holds `info` (at its size, when known), once any write of it in flight has settled. */
  async reuse(info: BlobInfo): Promise<BlobInfo | undefined> {
    await this.#pending.get(info.digest)?.catch(() => undefined);
    const w = this.held.get(info.digest);
    return w && (info.size < 0 || w.size === info.size) ? { ...info, size: w.size } : undefined;
  }

  /**
   * Append the blob as a member. A stream input is verified into the store first: a tar member
   * cannot be taken back once written, and putBlob MUST keep nothing of a blob that does not
   * match. A path input is the store's verified file.
   */
  async put(input: BlobInput, info: BlobInfo): Promise<void> {
    const inFlight = this.#pending.get(info.digest);
    if (inFlight) return inFlight;
    if (this.held.has(info.digest)) return;
    const p = (async () => {
      let path: string;
      let size: number;
      if (input.kind === 'path') {
        if (input.verify) throw new OcikitError('E_INTERNAL', `writing ${this.where}: an unverified file was handed to a destination that does not verify`);
        path = input.path;
        size = info.size >= 0 ? info.size : (await fsp.stat(path)).size;
      } else {
        const res = await this.store.get().put(input.stream, { digest: info.digest, size: info.size, what: `blob for ${this.where}` });
        path = res.path;
        size = res.size;
      }
      const name = await this.#dirsFor(info.digest);
      await this.writer.addStream(name, size, () => createReadStream(path, { highWaterMark: 1 << 20 }));
      this.held.set(info.digest, { name, size });
    })();
    this.#pending.set(info.digest, p);
    try {
      await p;
    } finally {
      this.#pending.delete(info.digest);
    }
  }

  /**
   * Room for the blob's member (FILE-mode archives only; undefined when the writer cannot
   * reserve); `{}` when the archive holds the blob already or is writing it.
   */
  async reserve(info: BlobInfo): Promise<{ res?: BlobReservation } | undefined> {
    if (!this.writer.reserve) return undefined;
    if (this.held.has(info.digest) || this.#pending.has(info.digest)) return {};
    const name = await this.#dirsFor(info.digest);
    const res = await this.writer.reserve(name, info.size);
    let settle!: (ok: boolean) => void;
    const p = new Promise<void>((resolve, reject) => {
      settle = (ok) => (ok ? resolve() : reject(new OcikitError('E_ABORTED', `writing ${name} to ${this.where} failed`)));
    });
    p.catch(() => undefined);
    this.#pending.set(info.digest, p);
    const finish = (ok: boolean): void => {
      this.#pending.delete(info.digest);
      if (ok) this.held.set(info.digest, { name, size: info.size });
      settle(ok);
    };
    return {
      res: {
        path: res.path,
        offset: res.offset,
        size: res.size,
        done: async () => {
          await res.done();
          finish(true);
        },
        abandon: async () => {
          await res.abandon();
          finish(false);
        },
      },
    };
  }

  async #dirsFor(d: Digest): Promise<string> {
    await this.writer.addDirectory('blobs');
    await this.writer.addDirectory(`blobs/${algorithmOf(d)}`);
    return blobMemberName(d);
  }
}
