/**
 * Layer transforms, one step each: decompress a compressed store blob, or compress an uncompressed
 * one. A recompression (zstd -> gzip) is the two steps in a row, so the uncompressed digest is
 * always learned and cached.
 *
 * The work runs on the worker pool (lib/pool), never on the main thread:
 * - gzip compression: the layer is cut into blocks deflated by every worker at once and joined
 *   into one gzip stream (lib/pool/gzip.ts), which flows straight into `store.put`: the store
 *   hashes and writes it, so no extra copy is made.
 * - zstd compression and all decompression: one job per layer; the worker writes its output to a
 *   tmp file in the store's tmp dir and the store adopts it (see `adopt`).
 *
 * Results go into the store and into the blob-info cache, so the same transform of the same
 * content is never run twice on this machine.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { hexOf, type Digest } from '../digest/index.js';
import { isOcikitError, wrapError } from '../errors.js';
import type { BlobStore, StoredBlob as StoreBlob } from '../store/index.js';
import { WorkerPool, gzipFileParallel } from '../pool/index.js';

export type CompressFormat = 'gzip' | 'zstd';

/**
 * Default levels when --dest-compress-level is not given: gzip 4, zstd 3 (zstd's default).
 *
 * WHY gzip 4 and not zlib's 6: skopeo compresses with pgzip at its default level, whose output on
 * the bench image (real files from /usr) is 3.8% larger than zlib -6 and 0.7% larger than zlib -4
 * (54.09 / 52.11 / 53.72 MB for 203 MB of tar). zlib -4 takes two thirds of -6's CPU time, so
 * level 4 gives output no larger than skopeo's for much less work. Pass --dest-compress-level 6
 * (or 9) for the smallest output.
 */
export const DEFAULT_LEVEL: Record<CompressFormat, number> = { gzip: 4, zstd: 3 };

export interface StoredBlob {
  digest: Digest;
  size: number;
  path: string;
}

/** Options shared by the transforms. */
export interface TransformOptions {
  /**
   * The pool to run on. Without one, a pool is started for this call and closed after it (fine for
   * one-off calls; a copy passes its own so the threads are shared by every layer).
   */
  pool?: WorkerPool;
  /** Input bytes processed so far, of the total (called as blocks complete; may not be called for one-job transforms). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Decompress the store blob `src` (compressed as `format`) into a new store blob; records the pair.
 * Returns the cached result without work when the store already knows it.
 * Corrupt input fails with E_BAD_INPUT naming `what`.
 */
export async function decompressLayer(store: BlobStore, src: StoredBlob, format: CompressFormat, what: string, opts: TransformOptions = {}): Promise<StoredBlob> {
  const known = store.cache.uncompressedOf(src.digest);
  if (known && known !== src.digest) {
    const st = store.stat(known);
    if (st) return { digest: known, size: st.size, path: st.path };
  }
  const res = await withPool(opts.pool, async (pool) => {
    const tmp = tmpPath(store, 'decompress', src.digest);
    try {
      const r = await pool.run({ kind: 'decompress', src: src.path, dst: tmp, format }, `decompressing ${what}`);
      opts.onProgress?.(src.size, src.size);
      return await adopt(store, tmp, r.digest as Digest, r.size, `decompressed ${what}`);
    } finally {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  });
  store.cache.recordUncompressed(src.digest, res.digest);
  store.cache.recordUncompressed(res.digest, res.digest);
  store.cache.recordVariant(res.digest, format, -1, src.digest);
  return res;
}

/**
 * Compress the uncompressed store blob `src` as `format` at `level`; records the variant.
 * Returns the cached variant without work when the store already has it.
 *
 * The output for a given input, format and level is byte-identical on every run and for any pool
 * size (block-joined gzip; zstd with >= 1 native worker), so its digest is reproducible.
 */
export async function compressLayer(store: BlobStore, src: StoredBlob, format: CompressFormat, level: number, what: string, opts: TransformOptions = {}): Promise<StoredBlob> {
  const known = store.cache.findVariant(src.digest, format, level);
  if (known) {
    const st = store.stat(known);
    if (st) return { digest: known, size: st.size, path: st.path };
  }
  const res = await withPool(opts.pool, async (pool) => {
    if (format === 'gzip') {
      const stream = gzipFileParallel(pool, src.path, { level, what: `compressing ${what}`, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
      return stripPut(await store.put(stream, { what: `gzip-compressed ${what}` }));
    }
    const tmp = tmpPath(store, 'compress', src.digest);
    // zstd parallelises inside one job (its own native threads), so one job per layer; the cores
    // are shared among the zstd jobs running at once (the output does not depend on the split),
    // which keeps several layers from starting threads × threads native threads and their buffers.
    const active = (zstdActive.get(pool) ?? 0) + 1;
    zstdActive.set(pool, active);
    try {
      const threads = Math.max(1, Math.floor(pool.threads / active));
      const r = await pool.run({ kind: 'compress', src: src.path, dst: tmp, format, level, threads }, `compressing ${what}`);
      opts.onProgress?.(src.size, src.size);
      return await adopt(store, tmp, r.digest as Digest, r.size, `${format}-compressed ${what}`);
    } finally {
      zstdActive.set(pool, (zstdActive.get(pool) ?? 1) - 1);
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  });
  store.cache.recordUncompressed(res.digest, src.digest);
  store.cache.recordUncompressed(src.digest, src.digest);
  store.cache.recordVariant(src.digest, format, level, res.digest);
  return res;
}

/** zstd compress jobs running now, per pool. */
const zstdActive = new WeakMap<WorkerPool, number>();

/**
 * Put a worker's output file into the store.
 *
 * WHO VERIFIES: the store. `store.put({path})` hashes what it places, and is told the digest and
 * size the worker computed while writing, so a worker bug (or anything touching the tmp file in
 * between) fails with E_DIGEST_MISMATCH instead of recording a wrong digest. Trusting the
 * worker's digest and renaming the file in would save a read of the output, but the store's
 * promise is that it verified every blob it holds, and the blob-info cache records pairs only
 * when they were hashed locally: one read at hashing speed is the price of keeping both.
 */
async function adopt(store: BlobStore, tmp: string, digest: Digest, size: number, what: string): Promise<StoredBlob> {
  // The worker's file is private and on the store's filesystem: moved in, not copied; the store hashes it.
  return stripPut(await store.put({ path: tmp, move: true }, { digest, size, what }));
}

function stripPut(r: StoreBlob): StoredBlob {
  return { digest: r.digest, size: r.size, path: r.path };
}

/** A unique path in the store's tmp dir (same filesystem as blobs/, and swept by `store gc`). */
function tmpPath(store: BlobStore, kind: string, from: Digest): string {
  return join(store.root, 'tmp', `${kind}.${hexOf(from).slice(0, 16)}.${process.pid}.${threadId}.${randomBytes(4).toString('hex')}.tmp`);
}

async function withPool<T>(pool: WorkerPool | undefined, fn: (pool: WorkerPool) => Promise<T>): Promise<T> {
  const own = pool ? undefined : new WorkerPool();
  try {
    return await fn(pool ?? own!);
  } catch (err) {
    throw isOcikitError(err) ? err : wrapError(err, 'transforming a layer', 'E_WORKER');
  } finally {
    await own?.close();
  }
}
