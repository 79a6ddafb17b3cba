/**
 * The compress job: `src` -> `dst` as gzip (block-joined, identical to the parallel path) or zstd.
 * The worker hashes what it writes, so the reply carries the output's digest; the main thread
 * still has the store hash the file when it adopts it (see lib/pool/README.md).
 */
import { createReadStream, createWriteStream, closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';
import { BLOCK_SIZE, crcOf, deflateBlock, gzipHeader, gzipTrailer, readBlock } from './gzip-blocks.js';
import { CountTap, HashTap } from './tap.js';
import { JobError } from './errors.js';
import type { CompressJob, CompressResult } from './protocol.js';

/** Run a compress job. Throws (JobError or a system error) on failure; entry.ts turns that into a reply. */
export async function compress(job: CompressJob): Promise<CompressResult> {
  if (job.format === 'gzip') return gzipSerial(job);
  if (job.format === 'zstd') return zstdFile(job);
  throw new JobError('E_UNSUPPORTED', `unknown compression format ${JSON.stringify(job.format)}`);
}

/**
 * gzip, one block after another on this thread: the same bytes as lib/pool's parallel path,
 * for callers that want one job per layer (and for tests that compare the two).
 */
function gzipSerial(job: CompressJob): CompressResult {
  if (!Number.isInteger(job.level) || job.level < 0 || job.level > 9) throw new JobError('E_USAGE', `gzip level must be 0..9, got ${job.level}`);
  const inFd = openSync(job.src, 'r');
  let outFd: number | undefined;
  try {
    const size = fstatSync(inFd).size;
    outFd = openSync(job.dst, 'wx');
    const h = createHash('sha256');
    let outSize = 0;
    const emit = (b: Buffer): void => {
      h.update(b);
      outSize += b.length;
      let off = 0;
      while (off < b.length) off += writeSync(outFd!, b, off, b.length - off);
    };
    emit(gzipHeader(job.level));
    const n = Math.max(1, Math.ceil(size / BLOCK_SIZE));
    let crc = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const offset = i * BLOCK_SIZE;
      const length = Math.min(BLOCK_SIZE, size - offset);
      const { buf, dictLen, got } = readBlock(inFd, offset, length);
      if (got !== length) throw new JobError('E_IO', `${job.src} shrank while it was compressed`);
      emit(deflateBlock(buf, dictLen, job.level, i === n - 1));
      crc = crcOf(buf.subarray(dictLen), crc);
      total += got;
    }
    emit(gzipTrailer(crc, total));
    return { digest: `sha256:${h.digest('hex')}`, size: outSize, inputSize: total };
  } finally {
    closeSync(inFd);
    if (outFd !== undefined) closeSync(outFd);
  }
}

/**
 * zstd through zstd-napi with `threads` native workers. With nbWorkers >= 1 zstd produces the
 * same frame whatever the number of workers, so a layer's digest does not depend on the machine's
 * core count; nbWorkers 0 (single-threaded mode) would produce different bytes, so it is never used.
 */
async function zstdFile(job: CompressJob): Promise<CompressResult> {
  if (!Number.isInteger(job.level) || job.level < -7 || job.level > 22) throw new JobError('E_USAGE', `zstd level must be -7..22, got ${job.level}`);
  const counter = new CountTap();
  const tap = new HashTap();
  // Imported on first use: a worker that only gzips never loads the native zstd module.
  const { CompressStream } = await import('zstd-napi');
  const z = new CompressStream({ compressionLevel: job.level, nbWorkers: Math.max(1, job.threads ?? 1) }) as unknown as Transform;
  await pipeline(createReadStream(job.src, { highWaterMark: 1 << 20 }), counter, z, tap, createWriteStream(job.dst, { flags: 'wx' }));
  return { digest: tap.digest(), size: tap.size, inputSize: counter.size };
}
