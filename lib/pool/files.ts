/**
 * Whole-file transforms on the pool, for callers outside the copy pipeline (the bench's image
 * generator, tools, tests): one blob job each, file to file, in one pass.
 */
import type { CompressionFormat } from '../manifest/media-types.js';
import type { Hashed } from '../../workers/protocol.js';
import type { WorkerPool } from './pool.js';

/** Compress `src` into `dst` (which MUST NOT exist); returns the digest and size of what was written. */
export async function compressFile(pool: WorkerPool, src: string, dst: string, format: CompressionFormat, level: number): Promise<Hashed & { inputSize: number }> {
  const r = await pool.run({
    kind: 'blob',
    input: { kind: 'file', path: src, offset: 0, length: -1 },
    expect: { size: -1 },
    what: `compressing ${src}`,
    compress: { format, level, out: { kind: 'new-file', path: dst }, threads: pool.threads },
  });
  return { digest: r.compressed!.digest, size: r.compressed!.size, inputSize: r.input.size };
}

/** Decompress `src` into `dst` (which MUST NOT exist); returns the digest and size of the plain bytes. */
export async function decompressFile(pool: WorkerPool, src: string, dst: string, format: CompressionFormat): Promise<Hashed & { inputSize: number }> {
  const r = await pool.run({
    kind: 'blob',
    input: { kind: 'file', path: src, offset: 0, length: -1 },
    expect: { size: -1 },
    what: `decompressing ${src}`,
    decompress: { format, out: { kind: 'new-file', path: dst } },
  });
  return { digest: r.plain!.digest, size: r.plain!.size, inputSize: r.input.size };
}
