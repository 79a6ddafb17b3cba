/**
 * The pool's one worker module: piscina calls the default export with each job. It dispatches on
 * `job.kind` and ALWAYS resolves to a JobReply; nothing it does can throw across the thread
 * boundary (see protocol.ts).
 *
 * Workers get paths and reply; they never import lib/store (the main thread owns the index).
 */
import { compress } from './compress.js';
import { decompress } from './decompress.js';
import { hash } from './hash.js';
import { gzipBlockOfFile } from './gzip-blocks.js';
import { JobError, errorReply } from './errors.js';
import type { Job, JobReply } from './protocol.js';
import { move, transferableSymbol, valueSymbol } from 'piscina';

/** A reply whose ArrayBuffer piscina transfers (moves) instead of copying. */
function movable(reply: JobReply<unknown>, buffer: ArrayBufferLike): unknown {
  return move({ [transferableSymbol]: buffer, [valueSymbol]: reply } as never);
}

/** Run one job; resolves to a JobReply (wrapped for transfer when it carries a buffer), never rejects. */
export default async function run(job: Job): Promise<unknown> {
  try {
    switch (job.kind) {
      case 'hash':
        return { ok: true, value: await hash(job) };
      case 'compress':
        try {
          return { ok: true, value: await compress(job) };
        } catch (err) {
          return errorReply(err, `compressing ${job.src} as ${job.format}`);
        }
      case 'decompress':
        try {
          return { ok: true, value: await decompress(job) };
        } catch (err) {
          return errorReply(err, `decompressing ${job.src}`, `not valid ${job.format} data`);
        }
      case 'gzip-block': {
        const r = gzipBlockOfFile(job.src, job.offset, job.length, job.level, job.final);
        if (r.length !== job.length) throw new JobError('E_IO', `${job.src} shrank while it was compressed`);
        // A Buffer from zlib may be a view of a larger pooled ArrayBuffer: copy into an exact
        // one only when it is, so the transfer moves ownership of just these bytes.
        const data = r.data.byteOffset === 0 && r.data.byteLength === r.data.buffer.byteLength ? r.data : Uint8Array.prototype.slice.call(r.data);
        return movable({ ok: true, value: { data, crc: r.crc, length: r.length } }, data.buffer);
      }
      case 'fail':
        if (job.raw) throw new Error(job.message);
        throw new JobError(job.code, job.message);
      default:
        throw new JobError('E_INTERNAL', `unknown job kind ${JSON.stringify((job as { kind?: unknown }).kind)}`);
    }
  } catch (err) {
    return errorReply(err, `${job.kind} job`);
  }
}
