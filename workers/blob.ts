/**
 * The blob job: one pass over a blob's bytes (see BlobJob in protocol.ts).
 *
 *   input ─┬─ sha256 (checked against expect) ── keep outputs (the bytes as they are)
 *          └─ [decrypt] ─ sha256 ── decrypted output
 *               └─ [gunzip | unzstd] ─┬─ sha256 (the diff ID, checked against the config's)
 *                                     ├─ plain output
 *                                     └─ [block gzip | zstd | zstd:chunked] ── sha256 ── compressed output
 *                                          └─ [encrypt] ── sha256 ── encrypted output (and its HMAC)
 *
 * Each byte is read once; every stage hashes what passes and writes it where the job says, so no
 * output is ever read back. Decompression and block gzip run on libuv's thread pool (node:zlib's
 * asynchronous API), zstd on zstd-napi's own threads, hashing and the writes on this thread.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { describeSystemError, isDiskFull } from '../lib/errors.js';
import { JobError } from './errors.js';
import { GzipBlockEncoder } from './gzip-blocks.js';
import { ZstdChunkedEncoder } from './zstd-chunked.js';
import { LayerCipher } from './crypt.js';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CHUNK, OutputFile, inputStream } from './io.js';
import type { BlobJob, BlobResult, FeedAck, FeedMessage, Hashed, HashJob } from './protocol.js';

/** Run one blob job. Throws (JobError, a codec or system error) on failure; entry.ts makes it a reply. */
export async function runBlob(job: BlobJob): Promise<BlobResult> {
  const progress = job.progress ? new Float64Array(job.progress) : undefined;
  const outputs: OutputFile[] = [];
  const open = (o: Parameters<typeof openOutput>[0]): OutputFile => openOutput(o, outputs);
  try {
    const wantDigest = job.expect.digest;
    const algorithm = wantDigest ? wantDigest.slice(0, wantDigest.indexOf(':')) : 'sha256';
    const hashed = wantDigest !== undefined || job.expect.learn === true;
    if (!job.decompress && !job.compress && !job.decrypt && !job.encrypt) {
      // Copied as it is: no stream machinery, one buffer for the whole blob (no garbage to collect).
      const got = await passThrough(job, hashed ? createHash(algorithm) : undefined, (job.keep ?? []).map(open), progress);
      for (const o of outputs) o.finish();
      checkInput(job, got);
      return { input: got };
    }
    const input = new Tap(hashed ? createHash(algorithm) : undefined, (job.keep ?? []).map(open), job.expect.size);
    const source = inputStream(job.input, (n) => {
      if (progress) progress[0] = progress[0]! + n;
    });

    const stages: NodeJS.ReadWriteStream[] = [input];
    let plain: Tap | undefined;
    let compressed: Tap | undefined;
    let decrypted: Tap | undefined;
    let encrypted: Tap | undefined;
    let last: Tap = input;
    if (job.decrypt) {
      const d = job.decrypt;
      stages.push(new LayerCipher('decrypt', Buffer.from(d.key, 'base64'), Buffer.from(d.nonce, 'base64'), Buffer.from(d.hmac, 'base64')));
      decrypted = new Tap(createHash('sha256'), d.out ? [open(d.out)] : [], -1);
      stages.push(decrypted);
      last = decrypted;
    }
    if (job.decompress) {
      stages.push(await decoder(job.decompress.format));
      plain = new Tap(createHash('sha256'), job.decompress.out ? [open(job.decompress.out)] : [], -1);
      stages.push(plain);
      last = plain;
    }
    let enc: Transform | undefined;
    if (job.compress) {
      const c = job.compress;
      enc = await encoder(c.format, c.level, c.threads ?? 1);
      stages.push(enc);
      compressed = new Tap(createHash('sha256'), [open(c.out)], -1);
      stages.push(compressed);
      last = compressed;
    }
    let cipher: LayerCipher | undefined;
    if (job.encrypt) {
      const e = job.encrypt;
      cipher = new LayerCipher('encrypt', Buffer.from(e.key, 'base64'), Buffer.from(e.nonce, 'base64'));
      encrypted = new Tap(createHash('sha256'), [open(e.out)], -1);
      stages.push(cipher, encrypted);
      last = encrypted;
    }
    if (progress) last.onWrite = (n) => void (progress[1] = progress[1]! + n);

    try {
      await (pipeline as (...streams: Array<NodeJS.ReadableStream | NodeJS.WritableStream>) => Promise<void>)(source, ...stages, discard());
    } catch (err) {
      throw codecError(err, job);
    }
    for (const o of outputs) o.finish();

    const got: Hashed = { digest: input.digest(), size: input.size };
    checkInput(job, got);
    const result: BlobResult = { input: got };
    if (plain) {
      result.plain = { digest: plain.digest(), size: plain.size };
      const diffID = job.decompress!.diffID;
      if (diffID !== undefined && result.plain.digest !== diffID) {
        throw new JobError('E_DIGEST_MISMATCH', `${job.what}: uncompressed content has digest ${result.plain.digest}, but the image config's diff ID is ${diffID}`);
      }
    }
    if (decrypted) result.decrypted = { digest: decrypted.digest(), size: decrypted.size };
    if (encrypted) result.encrypted = { digest: encrypted.digest(), size: encrypted.size, hmac: cipher!.hmac.toString('base64') };
    if (compressed) {
      result.compressed = { digest: compressed.digest(), size: compressed.size };
      if (enc instanceof ZstdChunkedEncoder && enc.annotations) result.compressed.annotations = enc.annotations;
    }
    return result;
  } catch (err) {
    for (const o of outputs) o.discard();
    // A full disk is the machine's, not the bytes': E_IO naming where the writing went.
    if (isDiskFull(err)) throw new JobError('E_IO', `writing ${job.what}: ${describeSystemError(err as NodeJS.ErrnoException)}`);
    throw err;
  }
}

/** The input's size and digest against what the job expects. */
function checkInput(job: BlobJob, got: Hashed): void {
  if (job.expect.size >= 0 && got.size !== job.expect.size) {
    throw new JobError('E_SIZE_MISMATCH', `${job.what}: got ${got.size} bytes, expected ${job.expect.size} (truncated?)`);
  }
  if (job.expect.digest !== undefined && got.digest !== job.expect.digest) {
    throw new JobError('E_DIGEST_MISMATCH', `${job.what}: content has digest ${got.digest}, expected ${job.expect.digest}`);
  }
}

/**
 * A blob copied as it is: each chunk hashed and written to every output, then dropped. A file is
 * read into one reused buffer; a port's chunks are handed back to the main thread with the ack.
 */
async function passThrough(job: BlobJob, hash: Hash | undefined, outs: OutputFile[], progress: Float64Array | undefined): Promise<Hashed> {
  const limit = job.expect.size;
  let size = 0;
  const take = (b: Buffer): void => {
    size += b.length;
    if (limit >= 0 && size > limit) throw new JobError('E_SIZE_MISMATCH', `${job.what}: more than the expected ${limit} bytes`);
    hash?.update(b);
    for (const o of outs) o.write(b);
    if (progress) {
      progress[0] = progress[0]! + b.length;
      progress[1] = progress[1]! + b.length;
    }
  };
  const digest = (): string => (hash ? `sha256:${hash.digest('hex')}` : '');
  const input = job.input;
  if (input.kind === 'file') {
    const own = input.fd === undefined;
    const fd = input.fd ?? openSync(input.path, 'r');
    try {
      if (own && !fstatSync(fd).isFile()) throw new JobError('E_BAD_INPUT', `${input.path} is not a regular file`);
      const buf = Buffer.allocUnsafeSlow(CHUNK);
      let pos = input.offset;
      let left = input.length < 0 ? Infinity : input.length;
      while (left > 0) {
        const n = readSync(fd, buf, 0, Math.min(CHUNK, left), pos);
        if (n === 0) break;
        pos += n;
        left -= n;
        take(buf.subarray(0, n));
      }
    } finally {
      if (own) closeSync(fd);
    }
    return { digest: digest(), size };
  }
  if (input.kind === 'stream') {
    for await (const chunk of inputStream(input, () => undefined)) take(chunk as Buffer);
    return { digest: digest(), size };
  }
  const port = input.port;
  await new Promise<void>((resolve, reject) => {
    let ended = false;
    const fail = (err: unknown): void => {
      ended = true;
      port.close();
      reject(err);
    };
    port.on('message', (m: FeedMessage) => {
      if (ended) return;
      if (m.type === 'chunk') {
        try {
          take(Buffer.from(m.data));
        } catch (err) {
          fail(err);
          return;
        }
        port.postMessage({ type: 'ack', data: m.data } satisfies FeedAck, [m.data]);
      } else if (m.type === 'end') {
        ended = true;
        port.close();
        resolve();
      } else {
        fail(new JobError(m.code, `${job.what}: ${m.message}`));
      }
    });
    port.on('close', () => {
      if (!ended) fail(new JobError('E_ABORTED', `${job.what}: the input stopped before its end`));
    });
  });
  return { digest: digest(), size };
}

/** sha256 of a whole file, read once in 1 MiB chunks. */
export async function runHash(job: HashJob): Promise<Hashed> {
  const tap = new Tap(createHash('sha256'), [], -1);
  await pipeline(
    inputStream({ kind: 'file', path: job.src, offset: 0, length: -1 }, () => undefined),
    tap,
    discard(),
  );
  return { digest: tap.digest(), size: tap.size };
}

function openOutput(o: ConstructorParameters<typeof OutputFile>[0], all: OutputFile[]): OutputFile {
  const f = new OutputFile(o);
  all.push(f);
  return f;
}

/**
 * A pass-through stage that hashes, counts and writes what flows through it. With an expected
 * size it fails as soon as more bytes arrive than expected (a hostile source cannot make us
 * write without bound).
 */
class Tap extends Transform {
  size = 0;
  onWrite: ((n: number) => void) | undefined;

  constructor(
    private readonly hash: Hash | undefined,
    private readonly outs: OutputFile[],
    private readonly limit: number,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    if (this.limit >= 0 && this.size > this.limit) {
      cb(new JobError('E_SIZE_MISMATCH', `more than the expected ${this.limit} bytes`));
      return;
    }
    try {
      this.hash?.update(chunk);
      for (const o of this.outs) o.write(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    this.onWrite?.(chunk.length);
    cb(null, chunk);
  }

  /** `algorithm:hex`; '' when this stage was not asked to hash. Call once, after the pipeline. */
  digest(): string {
    return this.hash ? `sha256:${this.hash.digest('hex')}` : '';
  }
}

/** The end of every pipeline: the taps have written what matters. */
function discard(): Writable {
  return new Writable({
    highWaterMark: 1 << 20,
    write(_c, _e, cb): void {
      cb();
    },
  });
}

async function decoder(format: string): Promise<Transform> {
  // 1 MiB output chunks: fewer, larger writes and hash updates.
  if (format === 'gzip') return createGunzip({ chunkSize: 1 << 20 });
  // zstd-napi is imported on first use: a worker that only handles gzip never loads it.
  if (format === 'zstd') return new (await import('zstd-napi')).DecompressStream();
  throw new JobError('E_UNSUPPORTED', `unknown compression format ${JSON.stringify(format)}`);
}

/**
 * The compressing stage. gzip: block-joined gzip (gzip-blocks.ts), several blocks at once on
 * libuv's pool. zstd: zstd-napi with `threads` native workers; with nbWorkers >= 1 zstd writes the
 * same frame whatever their number, so a layer's digest does not depend on the machine's core
 * count (nbWorkers 0, single-threaded mode, would write different bytes: never used for plain
 * zstd). zstd:chunked (zstd-chunked.ts): small frames, each single-threaded (always so, hence also
 * the same bytes everywhere).
 */
async function encoder(format: string, level: number, threads: number): Promise<Transform> {
  if (format === 'gzip') {
    if (!Number.isInteger(level) || level < 0 || level > 9) throw new JobError('E_USAGE', `gzip level must be 0..9, got ${level}`);
    return new GzipBlockEncoder({ level, window: 2 * Math.max(1, threads) });
  }
  if (format === 'zstd' || format === 'zstd:chunked') {
    if (!Number.isInteger(level) || level < -7 || level > 22) throw new JobError('E_USAGE', `zstd level must be -7..22, got ${level}`);
    // One frame per file and chunk, each made on this thread: the same bytes whatever the machine.
    if (format === 'zstd:chunked') return ZstdChunkedEncoder.create(level);
    const { CompressStream } = await import('zstd-napi');
    return new CompressStream({ compressionLevel: level, nbWorkers: Math.max(1, threads) });
  }
  throw new JobError('E_UNSUPPORTED', `unknown compression format ${JSON.stringify(format)}`);
}

/** Codec failures are about the bytes, not the machine: E_BAD_INPUT naming the blob. */
function codecError(err: unknown, job: BlobJob): unknown {
  if (err instanceof JobError) return err.message.startsWith(job.what) ? err : new JobError(err.code, `${job.what}: ${err.message}`);
  if ((err as { syscall?: unknown })?.syscall !== undefined) return err;
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code.startsWith('Z_') || code === 'ERR_ZLIB_INITIALIZATION_FAILED' || /zstd|frame|corrupt|unknown/i.test(e?.message ?? '')) {
    const fmt = job.decompress?.format ?? job.compress?.format ?? 'compressed';
    return new JobError('E_BAD_INPUT', `${job.what}: not valid ${fmt} data (${e?.message ?? String(err)})`);
  }
  return err;
}
