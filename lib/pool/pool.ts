/**
 * WorkerPool: the piscina facade. A typed `run(job)` that resolves to the job's result or throws
 * the OcikitError rebuilt from the worker's reply.
 */
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';
import { ERROR_CODES, OcikitError, type ErrorCode } from '../errors.js';
import { piscina } from '../lazy.js';
import { Semaphore } from '../semaphore.js';
import runHere from '../../workers/entry.js';
import type { Job, JobReply, ResultOf } from '../../workers/protocol.js';
import { feedStream, type Feed } from './feed.js';

export interface PoolOptions {
  /** Worker threads at most; default: the number of cores (`os.availableParallelism()`). */
  threads?: number;
  /** Milliseconds an idle worker lives before it exits (default 10 s). */
  idleTimeoutMs?: number;
  /** The worker module (a file URL or path); default: the compiled workers/entry.js. Tests pass their own. */
  workerFile?: string;
  /**
   * Bytes of blob jobs this pool runs in the calling thread instead of a worker: a job whose input
   * is at most what is left of this budget runs here, and takes its size from it (default
   * INLINE_BYTES; 0: every job on a worker). See the class comment.
   */
  inlineBytes?: number;
}

/**
 * The default of `inlineBytes`. A worker thread costs ~50 ms of its own start-up (Node's bootstrap,
 * compiling its modules) before its first byte, about what hashing 70 MB costs here; a copy of an
 * ordinary image (tens of megabytes) is done sooner in the calling thread, and a big one still
 * spreads over every core. On a one-layer 71 MB image, oci: -> oci: used 0.19 s of CPU with a worker
 * and 0.13 s without (2 cores, Node 20).
 */
export const INLINE_BYTES = 128 << 20;

/**
 * A job at most this big runs in the calling thread even while other jobs run: it holds that
 * thread for a few milliseconds. A bigger one runs there only when it is the pool's only job. And
 * once a worker has started, every job goes to the workers: the calling thread then feeds them and
 * drains their output (a docker-archive being written, say), and the workers' start-up is paid
 * already. On the big bench image (six layers), running its smaller layers here beside the workers
 * raised oci: -> docker-archive: peak RSS from ~155 to ~180-200 MiB (each job's garbage, 1 MiB
 * chunks, on this thread's heap as well as on the workers').
 */
const INLINE_BESIDE_OTHERS = 4 << 20;

/**
 * Where the compiled worker module is. piscina cannot load a .ts worker under plain node, so the
 * worker is chosen by this file's own extension: running from dist/lib/pool/pool.js it is
 * dist/workers/entry.js beside it; running from the .ts source (a TS loader) it is the compiled
 * copy under dist/, which `npm run build` writes.
 */
export function workerFile(): string {
  // The bundled CLI (build/bundle.ts: dist/bin/ocikit.cjs) has the worker's bundle beside it.
  if (typeof OCIKIT_BUNDLED !== 'undefined') return new URL('./worker.cjs', import.meta.url).href;
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const url = ext === '.js' ? new URL('../../workers/entry.js', import.meta.url) : new URL('../../dist/workers/entry.js', import.meta.url);
  const path = fileURLToPath(url);
  if (!existsSync(path)) {
    throw new OcikitError('E_INTERNAL', `the worker module ${path} is missing`, { hint: 'run npm run build' });
  }
  return url.href;
}

/** Defined (true) by the bundler for the bundled CLI; undefined in the plain build. */
declare const OCIKIT_BUNDLED: boolean | undefined;

/** The default pool size: one worker per core. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

/**
 * A pool of worker threads running blob and hash jobs (workers/protocol.ts).
 *
 * - Sized by work, not by cores: no thread starts before the first job, threads start as jobs
 *   queue up (at most `threads`), and an idle thread exits after `idleTimeoutMs`. A copy that
 *   transforms nothing never pays piscina's start-up (~80 ms) nor a thread's memory.
 * - Two jobs may share a worker: a job waiting on its port for bytes from the network leaves the
 *   thread free for another's hashing.
 * - Small work needs no thread: blob jobs run in the calling thread, with the very same code
 *   (workers/entry.ts), until `inlineBytes` of them did; only the bytes beyond go to workers. A job
 *   over a few MiB runs here only when no other job is running, and none once a worker has
 *   started (INLINE_BESIDE_OTHERS). Such a
 *   job blocks the calling thread while it hashes and writes (its reads and writes are synchronous,
 *   as in a worker); zlib and zstd still work on their own threads.
 * - `run` never rejects with a plain worker Error: a failed job becomes an OcikitError with the
 *   worker's code (E_BAD_INPUT for corrupt data, E_DIGEST_MISMATCH, E_IO, ...), and a crashed
 *   worker or a pool failure becomes E_WORKER.
 * - MUST be closed (`close()`), or its threads keep the process alive.
 *
 * The pool also rations native threads: zstd compresses with threads of its own, and
 * `nativeThreads()` hands each zstd job a share of the cores so that several at once do not each
 * start one per core.
 */
export class WorkerPool {
  /** How many workers at most. */
  readonly threads: number;
  readonly #idleTimeoutMs: number;
  readonly #workerFile: string | undefined;
  #inlineLeft: number;
  /** Jobs running now, here or on a worker. */
  #running = 0;
  #piscina: Promise<Piscina> | undefined;
  #closed = false;
  #nativeInUse = 0;
  /** Jobs that decompress or compress, at most one per thread: more would only share the cores and multiply their buffers. */
  readonly #cpu: Semaphore;

  constructor(opts: PoolOptions = {}) {
    const threads = opts.threads ?? defaultThreads();
    if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
      throw new OcikitError('E_USAGE', `WorkerPool: threads must be a whole number from 1 to 1024, got ${String(threads)}`);
    }
    const idle = opts.idleTimeoutMs ?? 10_000;
    if (!Number.isFinite(idle) || idle < 0) throw new OcikitError('E_USAGE', `WorkerPool: idleTimeoutMs must be a non-negative number, got ${String(idle)}`);
    this.threads = threads;
    this.#cpu = new Semaphore(threads);
    this.#idleTimeoutMs = idle;
    this.#workerFile = opts.workerFile;
    const inline = opts.inlineBytes ?? INLINE_BYTES;
    if (!(inline >= 0)) throw new OcikitError('E_USAGE', `WorkerPool: inlineBytes must be a non-negative number, got ${String(inline)}`);
    this.#inlineLeft = inline;
  }

  #pool(): Promise<Piscina> {
    if (this.#closed) return Promise.reject(new OcikitError('E_INTERNAL', 'the worker pool is closed'));
    // piscina is imported on first use: loading it costs a command that transforms nothing tens of milliseconds.
    this.#piscina ??= Promise.resolve().then(
      () =>
        new (piscina().Piscina)({
          filename: this.#workerFile ?? workerFile(),
          minThreads: 0,
          maxThreads: this.threads,
          idleTimeout: this.#idleTimeoutMs,
          concurrentTasksPerWorker: 2,
          // Workers block in Atomics.wait between tasks by default, which delays their own async
          // cleanup (streams closing after a task); 'async' keeps their event loops running.
          atomics: 'async',
          // Blob bytes live outside the V8 heap (Buffers); a small young generation keeps each
          // worker's resident memory down without slowing it.
          resourceLimits: { maxYoungGenerationSizeMb: 8 },
        }),
    );
    return this.#piscina;
  }

  /**
   * Run one job. `what` describes it for error messages ("compressing layer sha256:ab12…").
   * A `stream` input is read here when the job runs here, and fed to the worker through a port
   * otherwise (feed.ts). Throws the OcikitError rebuilt from the job's reply.
   *
   * @internal The copy pipeline's: a library caller creates a pool, passes it to copyImage (and
   * other calls) and closes it; the job protocol (workers/protocol.ts) is not part of the API.
   */
  async run<J extends Job>(job: J, what?: string): Promise<ResultOf[J['kind']]> {
    let reply: JobReply<ResultOf[J['kind']]>;
    const heavy = job.kind === 'blob' && (job.decompress !== undefined || job.compress !== undefined);
    const release = heavy ? await this.#cpu.acquire() : undefined;
    let feed: Feed | undefined;
    this.#running++;
    try {
      if (this.#closed) throw new OcikitError('E_INTERNAL', 'the worker pool is closed');
      const size = job.kind === 'blob' ? job.expect.size : -1;
      if (size >= 0 && size <= this.#inlineLeft && this.#piscina === undefined && (size <= INLINE_BESIDE_OTHERS || this.#running === 1)) {
        this.#inlineLeft -= size;
        reply = (await runHere(job)) as JobReply<ResultOf[J['kind']]>;
      } else {
        let sent: Job = job;
        if (job.kind === 'blob' && job.input.kind === 'stream') {
          feed = feedStream(job.input.stream);
          sent = { ...job, input: { kind: 'port', port: feed.port } };
        }
        const p = await this.#pool();
        reply = (await p.run(sent, feed ? { transferList: [feed.port] as never } : {})) as JobReply<ResultOf[J['kind']]>;
      }
    } catch (err) {
      if (err instanceof OcikitError) throw err;
      // Only a crash (a worker killed, out of memory, a module that failed to load) gets here:
      // the worker module itself never throws.
      throw new OcikitError('E_WORKER', `${what ?? `${job.kind} job`}: the worker failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    } finally {
      this.#running--;
      release?.();
      feed?.stop();
      await feed?.done;
    }
    if (reply.ok) return reply.value;
    throw rebuildError(reply, what);
  }

  /**
   * Native threads for a job that brings its own (zstd): this job's share of the cores, at least
   * one. Call `release()` when the job ends.
   *
   * @internal The blob jobs' (see run).
   */
  nativeThreads(): { threads: number; release(): void } {
    this.#nativeInUse++;
    let released = false;
    return {
      threads: Math.max(1, Math.floor(this.threads / this.#nativeInUse)),
      release: () => {
        if (released) return;
        released = true;
        this.#nativeInUse--;
      },
    };
  }

  /** Stop the workers (after the jobs in flight). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const p = this.#piscina;
    this.#piscina = undefined;
    if (p) await (await p.catch(() => undefined))?.close();
  }
}

/** The OcikitError for a failed reply: the worker's code when it is one of ours, else E_WORKER. */
export function rebuildError(reply: { code: string; message: string }, what?: string): OcikitError {
  const code: ErrorCode = reply.code in ERROR_CODES ? (reply.code as ErrorCode) : 'E_WORKER';
  return new OcikitError(code, what && !reply.message.startsWith(what) ? `${what}: ${reply.message}` : reply.message);
}
