/**
 * A worker's reading and writing: a job's input as a stream of chunks (a file region read with
 * positional reads, or chunks posted on a port), and its outputs (a new file, or a reserved
 * region of an existing one) written with positional writes.
 *
 * Reads and writes are synchronous: this is a worker thread, blocking it blocks nobody else, and
 * a synchronous pread/pwrite skips the hop through libuv's thread pool — which stays free for the
 * zlib work the same job hands it.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import { atPath } from '../lib/errors.js';
import { JobError } from './errors.js';
import type { FeedAck, FeedMessage, JobInput, JobOutput } from './protocol.js';

/** Read size: 1 MiB, the chunk size at which node:crypto hashes fastest here. */
export const CHUNK = 1 << 20;

/** The job's input as a Readable of Buffers. `onRead(n)` is called for every chunk. */
export function inputStream(input: JobInput, onRead: (n: number) => void): Readable {
  if (input.kind === 'file') return Readable.from(fileChunks(input, onRead), { objectMode: false, highWaterMark: CHUNK });
  return input.kind === 'port' ? portStream(input.port, onRead) : counted(input.stream, onRead);
}

/** A stream of this thread (a job run in the calling thread), counted as it is read. */
function counted(stream: Readable, onRead: (n: number) => void): Readable {
  const out = new Transform({
    highWaterMark: CHUNK,
    transform(chunk: Buffer, _enc, cb): void {
      onRead(chunk.length);
      cb(null, chunk);
    },
  });
  stream.once('error', (err) => out.destroy(err));
  // The job stopped reading (it failed): stop the source too, as a port input's feeder would.
  out.once('close', () => {
    if (!stream.readableEnded) stream.destroy();
  });
  return stream.pipe(out);
}

async function* fileChunks(input: Extract<JobInput, { kind: 'file' }>, onRead: (n: number) => void): AsyncGenerator<Buffer> {
  const own = input.fd === undefined;
  const fd = input.fd ?? openSync(input.path, 'r');
  try {
    if (own && !fstatSync(fd).isFile()) throw new JobError('E_BAD_INPUT', `${input.path} is not a regular file`);
    let pos = input.offset;
    let left = input.length < 0 ? Infinity : input.length;
    while (left > 0) {
      // A fresh buffer per chunk: downstream stages (zlib, the block encoder) may keep it a while.
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
      left -= n;
      onRead(n);
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  } finally {
    if (own) closeSync(fd);
  }
}

/**
 * Chunks posted on `port` (lib/pool/feed.ts), acknowledged one by one as they are handed on, so
 * the main thread never has more than its window of chunks in flight.
 */
function portStream(port: MessagePort, onRead: (n: number) => void): Readable {
  // An ack lets the main thread send one more chunk: owed while our buffer is full, paid on read().
  let owed = 0;
  let ended = false;
  const ack = (): void => port.postMessage({ type: 'ack' } satisfies FeedAck);
  const out = new Readable({
    highWaterMark: CHUNK,
    read(): void {
      for (; owed > 0; owed--) ack();
    },
    destroy(err, cb): void {
      port.close();
      cb(err);
    },
  });
  port.on('message', (m: FeedMessage) => {
    if (m.type === 'chunk') {
      const b = Buffer.from(m.data);
      onRead(b.length);
      if (out.push(b)) ack();
      else owed++;
    } else if (m.type === 'end') {
      ended = true;
      out.push(null);
      port.close();
    } else {
      out.destroy(new JobError(m.code, m.message));
    }
  });
  // The main thread gave up (its copy failed elsewhere): stop rather than wait forever.
  port.on('close', () => {
    if (!ended) out.destroy(new JobError('E_ABORTED', 'the input stopped before its end'));
  });
  return out;
}

/**
 * An output being written: positional writes, a running count, and cleanup on failure.
 *
 * Its descriptor is closed EXACTLY ONCE (by finish or discard, whichever comes first): a number
 * closed twice may by then belong to a file another thread of this process just opened.
 */
export class OutputFile {
  #fd: number | undefined;
  #pos: number;
  #written = 0;
  readonly #out: JobOutput;

  constructor(out: JobOutput) {
    this.#out = out;
    // 'wx': a new file MUST NOT exist (tmp names are unique; an existing one is someone else's).
    this.#fd = openSync(out.path, out.kind === 'new-file' ? 'wx' : 'r+');
    this.#pos = out.kind === 'region' ? out.offset : 0;
  }

  get written(): number {
    return this.#written;
  }

  write(b: Buffer): void {
    const fd = this.#open();
    if (this.#out.kind === 'region' && this.#written + b.length > this.#out.length) {
      throw new JobError('E_SIZE_MISMATCH', `more than the ${this.#out.length} bytes reserved for it`);
    }
    let off = 0;
    try {
      while (off < b.length) off += writeSync(fd, b, off, b.length - off, this.#pos + off);
    } catch (err) {
      throw atPath(err, this.#out.path);
    }
    this.#pos += b.length;
    this.#written += b.length;
  }

  /** Check the size (regions), fsync when asked, close. A failure leaves it open for discard(). */
  finish(): void {
    const fd = this.#open();
    if (this.#out.kind === 'region' && this.#written !== this.#out.length) {
      throw new JobError('E_SIZE_MISMATCH', `got ${this.#written} bytes, but ${this.#out.length} were reserved for it`);
    }
    try {
      if (this.#out.sync) fsyncSync(fd);
      this.#close();
    } catch (err) {
      throw atPath(err, this.#out.path);
    }
  }

  /** Close (unless finish() did) after a failure; a new file is removed (a region is the caller's to abandon). */
  discard(): void {
    try {
      this.#close();
    } catch {
      // EIO on close: the file is removed below all the same
    }
    if (this.#out.kind === 'new-file') {
      try {
        unlinkSync(this.#out.path);
      } catch {
        // never created, or already gone
      }
    }
  }

  #open(): number {
    if (this.#fd === undefined) throw new JobError('E_INTERNAL', `${this.#out.path} was already closed`);
    return this.#fd;
  }

  /** Forget the descriptor before closing it: whatever closeSync throws, it is never closed again. */
  #close(): void {
    const fd = this.#fd;
    if (fd === undefined) return;
    this.#fd = undefined;
    closeSync(fd);
  }
}
