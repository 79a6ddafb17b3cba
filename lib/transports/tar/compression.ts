/**
 * Telling compressed streams apart by their first bytes, and checking a compressed layer against
 * its diff ID while it streams past. Archives do not label their members: docker's manifest.json
 * names a file, and the file may be a plain tar, gzip or zstd (docker load accepts all three).
 */
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { Transform, type TransformCallback } from 'node:stream';
import { zstd } from '../../lazy.js';
import { OcikitError } from '../../errors.js';
import { algorithmOf, type Digest } from '../../digest/index.js';

export type SniffedCompression = 'gzip' | 'zstd' | 'none';

/** How many leading bytes `sniffCompression` looks at. */
export const SNIFF_BYTES = 6;

/**
 * The compression of a stream from its first bytes: gzip (1f 8b), zstd (28 b5 2f fd), or none.
 * bzip2 and xz, which old docker versions accepted, are refused with E_UNSUPPORTED naming `what`.
 */
export function sniffCompression(head: Uint8Array, what: string): SniffedCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) {
    throw new OcikitError('E_UNSUPPORTED', `${what}: bzip2 compression is not supported`);
  }
  if (head.length >= 6 && head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a && head[5] === 0x00) {
    throw new OcikitError('E_UNSUPPORTED', `${what}: xz compression is not supported`);
  }
  return 'none';
}

/** A decompressing transform for `c` (node:zlib for gzip, zstd-napi for zstd). */
export function decompressor(c: 'gzip' | 'zstd'): Transform {
  return c === 'gzip' ? createGunzip({ chunkSize: 1 << 20 }) : new (zstd().DecompressStream)();
}

/**
 * A pass-through stream for a compressed layer that also decompresses what passes and, at the end,
 * fails with E_DIGEST_MISMATCH when the uncompressed bytes do not hash to `diffID`, and with
 * E_BAD_INPUT when they do not decompress. Bytes flow on unchanged, so the caller still verifies
 * the compressed digest as usual; this adds the one check a compressed source can't get otherwise.
 *
 * After a successful end, `compressedDigest` holds the digest of the bytes that passed (sha256),
 * so the caller can record the verified compressed -> uncompressed pair.
 */
export class DiffIdCheck extends Transform {
  private readonly dec: Transform;
  private readonly plain;
  private readonly packed = createHash('sha256');
  private decError: Error | undefined;
  private readonly decEnded: Promise<void>;
  compressedDigest: Digest | undefined;

  constructor(
    compression: 'gzip' | 'zstd',
    private readonly diffID: Digest,
    private readonly what: string,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.plain = createHash(algorithmOf(diffID));
    this.dec = decompressor(compression);
    this.dec.on('data', (c: Buffer) => this.plain.update(c));
    this.decEnded = new Promise<void>((resolve) => {
      this.dec.once('end', () => resolve());
      this.dec.once('error', (err: Error) => {
        this.decError = err;
        resolve();
      });
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.packed.update(chunk);
    if (this.decError) {
      cb(this.badData());
      return;
    }
    // Backpressure from the decompressor holds the stream: the check never buffers a whole layer.
    if (this.dec.write(chunk)) {
      cb(null, chunk);
      return;
    }
    // A decompressor that fails never drains: wait for whichever comes first.
    const onDrain = (): void => {
      this.dec.off('error', onError);
      cb(null, chunk);
    };
    const onError = (): void => {
      this.dec.off('drain', onDrain);
      cb(this.badData());
    };
    this.dec.once('drain', onDrain);
    this.dec.once('error', onError);
  }

  override _flush(cb: TransformCallback): void {
    this.dec.end();
    void this.decEnded.then(() => {
      if (this.decError) {
        cb(this.badData());
        return;
      }
      const got = `${algorithmOf(this.diffID)}:${this.plain.digest('hex')}`;
      if (got !== this.diffID) {
        cb(new OcikitError('E_DIGEST_MISMATCH', `${this.what}: uncompressed content has digest ${got}, but the image config's diff ID is ${this.diffID}`));
        return;
      }
      this.compressedDigest = `sha256:${this.packed.digest('hex')}`;
      cb();
    });
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.dec.destroy();
    cb(err);
  }

  private badData(): OcikitError {
    return new OcikitError('E_BAD_INPUT', `${this.what}: does not decompress: ${this.decError?.message ?? 'unknown error'}`, { cause: this.decError });
  }
}
