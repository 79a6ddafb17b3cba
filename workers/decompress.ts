/**
 * The decompress job: `src` (gzip or zstd) -> `dst`, hashing the output on the way, so the reply
 * carries the layer's diff ID.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { CountTap, HashTap } from './tap.js';
import { JobError } from './errors.js';
import type { DecompressJob, DecompressResult } from './protocol.js';

/** Run a decompress job. Throws on failure (corrupt input included); entry.ts turns that into a reply. */
export async function decompress(job: DecompressJob): Promise<DecompressResult> {
  let codec: Transform;
  // 1 MiB output chunks: fewer, larger writes and hash updates (hashing is fastest at that size).
  if (job.format === 'gzip') codec = createGunzip({ chunkSize: 1 << 20 });
  // zstd-napi is imported on first use: a worker that only handles gzip never loads it.
  else if (job.format === 'zstd') codec = new (await import('zstd-napi')).DecompressStream() as unknown as Transform;
  else throw new JobError('E_UNSUPPORTED', `unknown compression format ${JSON.stringify(job.format)}`);
  const counter = new CountTap();
  const tap = new HashTap();
  await pipeline(createReadStream(job.src, { highWaterMark: 1 << 20 }), counter, codec, tap, createWriteStream(job.dst, { flags: 'wx' }));
  return { digest: tap.digest(), size: tap.size, inputSize: counter.size };
}
