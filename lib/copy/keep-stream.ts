/**
 * A download kept as it is, on the main thread: each chunk hashed as it arrives and written with
 * positional vectored writes (libuv's pool does the I/O), the digest and size checked at the end,
 * the outputs fsynced when asked. The same contract as a worker's pass-through blob job
 * (workers/blob.ts): new files are created exclusively and removed on failure, regions must be
 * filled exactly, and nothing is reported before the whole stream was verified.
 *
 * WHY here and not on a worker (an exception, for this one case, to the rule that big hashing runs
 * on workers, docs/ARCHITECTURE.md): a registry download exists only on the main thread. Handing it to a worker costs a copy
 * into 1 MiB buffers and a postMessage per MiB on this thread, which measured more main-thread
 * CPU than hashing the bytes here (sha256 runs at ~1.5 GB/s with SHA-NI), and the round trips
 * left both threads idle half the time: a 528 MB pull took 3.7 s against skopeo's 2.1 s. Streams
 * that must be (de)compressed still go to a worker, where that CPU work belongs.
 */
import { createHash } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { OcikitError, atPath, isDiskFull, wrapWriteError } from '../errors.js';
import type { BlobResult, JobOutput } from '../../workers/protocol.js';
import type { BlobMeter } from './progress.js';

/** Bytes gathered before one vectored write (small: six downloads are kept at once). */
const BATCH = 256 * 1024;

interface Open {
  out: JobOutput;
  fh: FileHandle;
  pos: number;
}

/** Keep `stream` as it is in every output of `keep`, verifying it against `expect`. */
export async function keepStream(stream: Readable, job: { expect: { digest?: string; size: number }; what: string; keep: JobOutput[] }, meter?: BlobMeter): Promise<BlobResult> {
  const outs: Open[] = [];
  const hash = createHash('sha256');
  const limit = job.expect.size;
  let size = 0;
  let batch: Buffer[] = [];
  let batchLen = 0;
  let writing: Promise<unknown> = Promise.resolve();
  const flush = async (): Promise<void> => {
    // One write in flight while the next batch is read: wait for the last before starting another.
    await writing;
    if (batchLen === 0) return;
    const bufs = batch;
    const n = batchLen;
    batch = [];
    batchLen = 0;
    writing = Promise.all(outs.map((o) => writeAll(o, bufs, n))).then(() => meter?.wrote(n));
    // Never an unhandled rejection meanwhile: the next flush (or the final one) awaits it.
    writing.catch(() => undefined);
  };
  try {
    for (const out of job.keep) {
      if (out.kind === 'region' && (limit < 0 || limit !== out.length)) throw new OcikitError('E_INTERNAL', `${job.what}: a reserved region needs the blob's exact size`);
      // 'wx': a new file MUST NOT exist (tmp names are unique; an existing one is someone else's).
      outs.push({ out, fh: await open(out.path, out.kind === 'new-file' ? 'wx' : 'r+'), pos: out.kind === 'region' ? out.offset : 0 });
    }
    // Flowing mode, not `for await`: the async iterator's read() joins whatever is buffered into
    // one new Buffer (a copy of every byte); 'data' hands over the chunks as they came.
    await new Promise<void>((resolve, reject) => {
      const fail = (err: unknown): void => {
        stream.off('data', onData);
        reject(err instanceof Error ? err : new Error(String(err)));
      };
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        if (limit >= 0 && size > limit) {
          fail(new OcikitError('E_SIZE_MISMATCH', `${job.what}: more than the expected ${limit} bytes`));
          return;
        }
        hash.update(chunk);
        meter?.read(chunk.length);
        batch.push(chunk);
        batchLen += chunk.length;
        if (batchLen >= BATCH) {
          stream.pause();
          flush().then(() => stream.resume(), fail);
        }
      };
      stream.on('data', onData);
      stream.once('end', () => resolve());
      stream.once('error', fail);
      stream.once('close', () => {
        if (!stream.readableEnded) fail(new OcikitError('E_IO', `${job.what}: the stream closed before its end`));
      });
    });
    await flush();
    await writing;
    const digest = `sha256:${hash.digest('hex')}`;
    if (limit >= 0 && size !== limit) throw new OcikitError('E_SIZE_MISMATCH', `${job.what}: got ${size} bytes, expected ${limit} (truncated?)`);
    if (job.expect.digest !== undefined && digest !== job.expect.digest) throw new OcikitError('E_DIGEST_MISMATCH', `${job.what}: content has digest ${digest}, expected ${job.expect.digest}`);
    await Promise.all(outs.filter((o) => o.out.sync).map((o) => o.fh.sync().catch((err: unknown) => Promise.reject(atPath(err, o.out.path)))));
    const closing = outs.splice(0);
    await Promise.all(closing.map((o) => o.fh.close()));
    return { input: { digest, size } };
  } catch (err) {
    await writing.catch(() => undefined);
    if (!stream.readableEnded) stream.destroy();
    await Promise.all(
      outs.map(async (o) => {
        await o.fh.close().catch(() => undefined);
        if (o.out.kind === 'new-file') await rm(o.out.path, { force: true });
      }),
    );
    // A full disk is the machine's, not the download's: E_IO naming where the writing went.
    if (isDiskFull(err)) throw wrapWriteError(err, `writing ${job.what}`);
    throw err;
  }
}

/** Write `bufs` (n bytes in all) at the output's position, all of them. */
async function writeAll(o: Open, bufs: Buffer[], n: number): Promise<void> {
  let left = bufs;
  let done = 0;
  while (done < n) {
    const { bytesWritten } = await o.fh.writev(left, o.pos + done).catch((err: unknown) => Promise.reject(atPath(err, o.out.path)));
    done += bytesWritten;
    if (done < n) left = rest(bufs, done);
  }
  o.pos += n;
}

/** The buffers after the first `skip` bytes. */
function rest(bufs: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}
