/** A pass-through stream that hashes (sha256) and counts what flows through it. */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** Hashes (sha256) and counts the bytes passing through; `digest()` after the stream finished. */
export class HashTap extends Transform {
  readonly #hash: Hash = createHash('sha256');
  size = 0;

  constructor() {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }

  /** The digest; call once, after the stream finished. */
  digest(): string {
    return `sha256:${this.#hash.digest('hex')}`;
  }
}

/** A pass-through stream that only counts bytes (`size`). */
export class CountTap extends Transform {
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    cb(null, chunk);
  }
}
