/**
 * Layer transforms, one step each: decompress a compressed store blob, or compress an uncompressed
 * one. A recompression (zstd -> gzip) is the two steps in a row, so the uncompressed digest is
 * always learned and cached.
 *
 * Results go into the store (which hashes them) and into the blob-info cache, so the same
 * transform of the same content is never run twice on this machine.
 */
import { createReadStream } from 'node:fs';
import { createGunzip, createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { PassThrough, type Transform } from 'node:stream';
import { CompressStream, DecompressStream } from 'zstd-napi';
import type { Digest } from '../digest/index.js';
import type { BlobStore } from '../store/index.js';

export type CompressFormat = 'gzip' | 'zstd';

/** Default levels: gzip 6 (zlib's default, as Go's gzip.DefaultCompression), zstd 3 (zstd's default). */
export const DEFAULT_LEVEL: Record<CompressFormat, number> = { gzip: 6, zstd: 3 };

export interface StoredBlob {
  digest: Digest;
  size: number;
  path: string;
}

function codec(kind: 'compress' | 'decompress', format: CompressFormat, level: number): Transform {
  if (format === 'gzip') return kind === 'compress' ? createGzip({ level, chunkSize: 1 << 20 }) : createGunzip({ chunkSize: 1 << 20 });
  return (kind === 'compress' ? new CompressStream({ compressionLevel: level }) : new DecompressStream()) as unknown as Transform;
}

async function run(store: BlobStore, srcPath: string, t: Transform, what: string): Promise<StoredBlob> {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const feeding = pipeline(createReadStream(srcPath, { highWaterMark: 1 << 20 }), t, out);
  const [res] = await Promise.all([store.put(out, { what }), feeding]);
  return res;
}

/**
 * Decompress the store blob `src` (compressed as `format`) into a new store blob; records the pair.
 * Returns the cached result without work when the store already knows it.
 */
export async function decompressLayer(store: BlobStore, src: StoredBlob, format: CompressFormat, what: string): Promise<StoredBlob> {
  const known = store.cache.uncompressedOf(src.digest);
  if (known && known !== src.digest) {
    const st = store.stat(known);
    if (st) return { digest: known, size: st.size, path: st.path };
  }
  const res = await run(store, src.path, codec('decompress', format, 0), `decompressing ${what}`);
  store.cache.recordUncompressed(src.digest, res.digest);
  store.cache.recordUncompressed(res.digest, res.digest);
  store.cache.recordVariant(res.digest, format, -1, src.digest);
  return res;
}

/**
 * Compress the uncompressed store blob `src` as `format` at `level`; records the variant.
 * Returns the cached variant without work when the store already has it.
 */
export async function compressLayer(store: BlobStore, src: StoredBlob, format: CompressFormat, level: number, what: string): Promise<StoredBlob> {
  const known = store.cache.findVariant(src.digest, format, level);
  if (known) {
    const st = store.stat(known);
    if (st) return { digest: known, size: st.size, path: st.path };
  }
  const res = await run(store, src.path, codec('compress', format, level), `compressing ${what}`);
  store.cache.recordUncompressed(res.digest, src.digest);
  store.cache.recordUncompressed(src.digest, src.digest);
  store.cache.recordVariant(src.digest, format, level, res.digest);
  return res;
}
