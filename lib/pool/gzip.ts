/**
 * One gzip stream from many workers: the file is cut into BLOCK_SIZE blocks, each block is a
 * `gzip-block` job (any worker, any order), and the compressed blocks are emitted in order
 * between one header and one trailer. See workers/gzip-blocks.ts for why the result is
 * byte-identical however many workers there are.
 */
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { BLOCK_SIZE, gzipHeader, gzipTrailer } from '../../workers/gzip-blocks.js';
import { crc32Combine } from '../../workers/crc32.js';
import { OcikitError } from '../errors.js';
import type { GzipBlockResult } from '../../workers/protocol.js';
import type { WorkerPool } from './pool.js';

export interface ParallelGzipOptions {
  level: number;
  /** Blocks in flight for this stream, at most (default: 2 per worker, so no worker waits for the next block). */
  window?: number;
  /** Called after each block with the input bytes compressed so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** For error messages. */
  what?: string;
}

/**
 * The gzip compression of the file at `path`, as a stream of its bytes. Memory stays bounded:
 * at most `window` blocks (1 MiB in, roughly 0.3–1 MiB out each) are in flight.
 */
export function gzipFileParallel(pool: WorkerPool, path: string, opts: ParallelGzipOptions): Readable {
  return Readable.from(gzipBlocks(pool, path, opts), { objectMode: false, highWaterMark: 1 << 20 });
}

async function* gzipBlocks(pool: WorkerPool, path: string, opts: ParallelGzipOptions): AsyncGenerator<Buffer> {
  const level = opts.level;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new OcikitError('E_USAGE', `gzip level must be a whole number from 0 to 9, got ${level}`);
  const what = opts.what ?? `compressing ${path}`;
  let size: number;
  try {
    const fh = await open(path, 'r');
    try {
      size = (await fh.stat()).size;
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new OcikitError((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO', `${what}: ${(err as Error).message}`, { cause: err });
  }

  const blocks = Math.max(1, Math.ceil(size / BLOCK_SIZE));
  const window = Math.max(1, opts.window ?? pool.threads * 2);
  const inflight: Array<Promise<GzipBlockResult>> = [];
  let next = 0;
  const launch = (): void => {
    const i = next++;
    const offset = i * BLOCK_SIZE;
    const p = pool.run({ kind: 'gzip-block', src: path, offset, length: Math.min(BLOCK_SIZE, size - offset), level, final: i === blocks - 1 }, what);
    // Settle quietly if the consumer stops early; the error still reaches whoever awaits p.
    p.catch(() => undefined);
    inflight.push(p);
  };

  yield gzipHeader(level);
  let crc = 0;
  let total = 0;
  while (next < blocks && inflight.length < window) launch();
  while (inflight.length > 0) {
    const r = await inflight.shift()!;
    if (next < blocks) launch();
    crc = crc32Combine(crc, r.crc, r.length);
    total += r.length;
    opts.onProgress?.(total, size);
    yield Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  }
  yield gzipTrailer(crc, total);
}
