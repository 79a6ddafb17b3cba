/**
 * Copying one blob: stage 4 of the pipeline, for one config or layer.
 *
 * In order of preference, a blob costs:
 * 1. nothing, when the destination already has the result or can take it without its bytes
 *    (tryReusingBlob: a registry mounts a blob kept as it is from the source's repository, the
 *    source's blobLocation, or from one the store's location cache names);
 * 2. a link or a copy from the store, when the store has the result — for a transform, when the
 *    blob-info cache knows what this layer becomes (or its diff ID is the result and is stored);
 * 3. ONE PASS over the source bytes otherwise: a worker job reads the blob once, hashes it (and
 *    checks it), decompresses and hashes the plain bytes (and checks the config's diff ID),
 *    compresses and hashes the result, and writes each output once: into the store's tmp
 *    directory (then renamed into place without being read again), or straight into room the
 *    destination reserved (an archive member). A source file on the store's filesystem is linked
 *    into the store (reflink, or a hard link where that is safe) instead of copied: the job only
 *    reads it. A destination that reads every byte anyway (a registry upload) verifies the source
 *    file while sending it, so a push reads each byte once too.
 *
 * WHO VERIFIES: every byte taken from a source is checked against the digest the manifest gives
 * (and the plain bytes against the config's diff ID when the layer is decompressed) before the
 * store records it, before the blob-info cache learns anything from it, and before the
 * destination's commit can make it visible.
 */
import { promises as fsp, read } from 'node:fs';
import { PassThrough } from 'node:stream';
import { OcikitError, isOcikitError, wrapError } from '../errors.js';
import { parseDigest, shortDigest, verifyBytes, type Digest } from '../digest/index.js';
import type { LayerCompression } from '../manifest/index.js';
import { keepStream } from './keep-stream.js';
import type { BlobJob, BlobResult, JobInput, JobOutput, WorkerPool } from '../pool/index.js';
import type { StoreHandle, StoredBlob } from '../store/index.js';
import type { BlobInfo, BlobPayload, BlobReservation, ImageDestination, ImageSource, ReuseOptions } from '../transports/types.js';
import type { LayerPlan } from './plan.js';
import type { BlobMeter, BlobPhase, ProgressTracker } from './progress.js';

/**
 * Blobs at most this big are copied on the main thread, in memory: a worker round trip (and, for
 * the first blob, the pool's start-up) would cost more than hashing them here.
 */
export const INLINE_MAX = 256 * 1024;

/**
 * What each branch of a relay (#relay) buffers. Six relays run at once, each behind a download and
 * before an upload that buffer too: 1 MiB here held ~12 MiB more at a relay's peak, for nothing.
 */
const RELAY_BUFFER = 256 * 1024;

/** One blob to copy. */
export interface BlobTask {
  /** The blob as the source manifest describes it. */
  info: BlobInfo;
  /** For messages: "config" or "layer N". */
  label: string;
  /** How the source stores it ('none' for a config). */
  from: LayerCompression;
  plan: LayerPlan;
  /** With --dest-compress-level given: only a variant at exactly that level may be reused. */
  exactLevel: boolean;
  /** The image config's diff ID for this layer, when known. */
  diffID?: Digest;
  /** A foreign layer, whose bytes the source may legitimately not have. */
  foreign: boolean;
}

/** What was written for the blob: the descriptor the output manifest gets. */
export interface BlobOutcome {
  digest: Digest;
  size: number;
  /** A foreign layer the source does not carry: the manifest keeps pointing at its URLs. */
  absentForeign?: boolean;
}

/** Totals for the copy's result. */
export interface Counters {
  bytesRead: number;
  bytesWritten: number;
  blobsReused: number;
  blobsCopied: number;
}

/** Everything a BlobCopier works with. */
export interface BlobCopierContext {
  source: ImageSource;
  dest: ImageDestination;
  /** Opened when a blob first needs it (a copy whose every blob is at the destination never opens it). */
  store: StoreHandle;
  pool: WorkerPool;
  tracker: ProgressTracker;
  counters: Counters;
  /** The source, for messages: "oci:/x:latest". */
  label: string;
}

type How = 'reused-at-destination' | 'from-store' | 'fetched';

/** Copies blobs from one source to one destination (see the module comment). */
export class BlobCopier {
  constructor(private readonly c: BlobCopierContext) {}

  /** Copy one blob; returns what the destination now holds for it. */
  async copy(t: BlobTask): Promise<BlobOutcome> {
    const meter = this.c.tracker.begin(t.info.digest, t.info.size, phaseOf(t.from, t.plan));
    try {
      return await this.#copy(t, meter);
    } catch (err) {
      if (isOcikitError(err)) throw err;
      throw wrapError(err, `copying ${this.#what(t)}`);
    } finally {
      this.c.tracker.end(meter);
    }
  }

  /**
   * The image config: fetched (or read from the store) into memory, verified, stored and
   * delivered like any blob; its bytes are returned for the caller to validate and read diff IDs
   * from. `max` bounds what is read from the source. Unless `needBytes`, a destination that
   * already has the config or can take it without its bytes (a mount) gets it first, and nothing
   * is read: `bytes` is then undefined.
   */
  async copyConfig(t: BlobTask, max: number, needBytes: boolean): Promise<{ outcome: BlobOutcome; bytes: Buffer | undefined }> {
    const meter = this.c.tracker.begin(t.info.digest, t.info.size, 'copying');
    try {
      const { dest } = this.c;
      const what = this.#what(t);
      if (!needBytes) {
        const reused = await dest.tryReusingBlob(t.info, this.#reuse());
        if (reused) return { outcome: this.#done(t, { digest: t.info.digest, size: reused.size }, 'reused-at-destination', meter), bytes: undefined };
      }
      let stored = this.#stored(t.info);
      let bytes: Buffer;
      let how: How = 'from-store';
      if (stored) {
        bytes = await this.c.store.get().readBytes(stored.digest, max);
      } else {
        const payload = await this.#fetch(t, what);
        if (!payload) throw new OcikitError('E_BAD_INPUT', `${what}: the source does not have it`);
        bytes = await readSmall(payload, t.info.size >= 0 ? t.info.size : max, what, meter);
        verifyBytes(bytes, { digest: t.info.digest, size: t.info.size, what });
        this.c.counters.bytesRead += bytes.length;
        this.c.source.onVerified?.(t.info);
        stored = await this.c.store.get().put(bytes, { digest: t.info.digest, what, ...(t.info.mediaType ? { mediaType: t.info.mediaType } : {}) });
        how = 'fetched';
      }
      const reused = needBytes ? await dest.tryReusingBlob(t.info, this.#reuse()) : undefined;
      if (reused) how = 'reused-at-destination';
      else await this.#deliver(stored, t);
      return { outcome: this.#done(t, stored, how, meter), bytes };
    } catch (err) {
      if (isOcikitError(err)) throw err;
      throw wrapError(err, `copying ${this.#what(t)}`);
    } finally {
      this.c.tracker.end(meter);
    }
  }

  /** What tryReusingBlob is told for a blob copied as it is: where the source keeps it. */
  #reuse(): ReuseOptions {
    const loc = this.c.source.blobLocation;
    return loc ? { sourceLocation: loc } : {};
  }

  /**
   * A blob the destination holds because it already shows the manifest that names it (see
   * ImageDestination.hasManifest): nothing is asked, read or written.
   */
  alreadyThere(t: BlobTask): BlobOutcome {
    this.c.counters.blobsReused++;
    this.c.tracker.emit({ type: 'blob-done', digest: t.info.digest, size: t.info.size, how: 'reused-at-destination', read: 0 });
    return { digest: t.info.digest, size: t.info.size };
  }

  #what(t: BlobTask): string {
    return `${t.label} (${shortDigest(t.info.digest)}) of ${this.c.label}`;
  }

  async #copy(t: BlobTask, meter: BlobMeter): Promise<BlobOutcome> {
    const { dest } = this.c;
    const info = t.info;
    const what = this.#what(t);

    // === nothing to move, or only a link: the destination or the store has the result
    if (t.plan.action === 'keep') {
      const reused = await dest.tryReusingBlob(info, this.#reuse());
      if (reused) return this.#done(t, { digest: info.digest, size: reused.size }, 'reused-at-destination', meter);
      const stored = this.#stored(info);
      if (stored) {
        await this.#deliver(stored, t);
        return this.#done(t, stored, 'from-store', meter);
      }
    } else {
      const known = this.#knownResult(t);
      if (known) {
        const reused = await dest.tryReusingBlob({ ...info, digest: known.digest, size: known.size });
        if (!reused) await this.#deliver(known, t);
        return this.#done(t, known, reused ? 'reused-at-destination' : 'from-store', meter);
      }
    }

    // === one pass over the source's bytes
    const payload = await this.#fetch(t, what);
    if (!payload) {
      this.c.tracker.emit({ type: 'blob-done', digest: info.digest, size: info.size, how: 'reused-at-destination', read: 0 });
      return { digest: info.digest, size: info.size, absentForeign: true };
    }
    if (t.plan.action === 'keep') return this.#passThrough(t, payload, what, meter);
    return this.#transform(t, payload, what, meter);
  }

  /** The store's copy of `info`, when it holds it intact at the expected size. */
  #stored(info: BlobInfo): StoredBlob | undefined {
    const st = this.c.store.get().stat(info.digest);
    return st && (info.size < 0 || st.size === info.size) ? { digest: info.digest, size: st.size, path: st.path } : undefined;
  }

  /** The result of this task's transform, when the store holds it already (see the module comment). */
  #knownResult(t: BlobTask): StoredBlob | undefined {
    const store = this.c.store.get();
    const cache = store.cache;
    const uncompressed = t.from === 'none' ? t.info.digest : (t.diffID ?? cache.uncompressedOf(t.info.digest));
    if (!uncompressed) return undefined;
    let d: Digest | undefined;
    if (t.plan.action === 'decompress') d = uncompressed;
    else if (t.plan.action === 'compress') d = cache.findVariant(uncompressed, t.plan.format, t.exactLevel ? t.plan.level : undefined);
    if (!d) return undefined;
    const st = store.stat(d);
    return st ? { digest: d, size: st.size, path: st.path } : undefined;
  }

  /** The source's bytes for the task; undefined for an absent foreign layer. */
  async #fetch(t: BlobTask, what: string): Promise<BlobPayload | undefined> {
    try {
      return await this.c.source.getBlob(t.info);
    } catch (err) {
      if (isOcikitError(err, 'E_NOT_FOUND')) {
        if (t.foreign) return undefined;
        // The image was found; one of its blobs was not: the image is incomplete, which is not
        // "image not found" (exit 2) but bad input (exit 1).
        throw new OcikitError('E_BAD_INPUT', `${what}: the source does not have this blob (incomplete image): ${(err as Error).message}`, { cause: err });
      }
      throw err;
    }
  }

  /** A blob copied as it is. */
  async #passThrough(t: BlobTask, payload: BlobPayload, what: string, meter: BlobMeter): Promise<BlobOutcome> {
    const { dest, counters } = this.c;
    const store = this.c.store.get();
    const info = t.info;
    const expect = { digest: info.digest, size: info.size };

    if (info.size >= 0 && info.size <= INLINE_MAX) {
      const bytes = await readSmall(payload, info.size, what, meter);
      verifyBytes(bytes, { ...expect, what });
      counters.bytesRead += bytes.length;
      this.c.source.onVerified?.(info);
      const stored = await store.put(bytes, { digest: info.digest, what });
      await this.#deliver(stored, t);
      return this.#done(t, stored, 'fetched', meter);
    }

    const wholeFile = payload.kind === 'path' && payload.offset === undefined;
    // A destination that reads every byte anyway (an upload) checks the source file as it sends it.
    if (wholeFile && dest.properties.verifiesWhileWriting) {
      const staged = await store.stageLink(payload.path);
      try {
        await dest.putBlob({ kind: 'path', path: staged?.path ?? payload.path, verify: { digest: info.digest, size: info.size >= 0 ? info.size : payload.size } }, info);
      } catch (err) {
        if (staged) await store.discardStaged(staged);
        throw err;
      }
      meter.read(payload.size);
      counters.bytesRead += payload.size;
      counters.bytesWritten += payload.size;
      counters.blobsCopied++;
      this.c.source.onVerified?.(info);
      const got = { digest: info.digest, size: payload.size };
      const stored = staged ? await store.adoptStaged(staged, got, { what }) : got;
      return this.#done(t, stored, 'fetched', meter);
    }

    // A download bound for an upload (registry to registry): sent on as it arrives, and kept in the
    // store from the same bytes, instead of downloaded whole and then uploaded.
    if (payload.kind === 'stream' && dest.properties.verifiesWhileWriting) return this.#relay(t, payload, what, meter);

    const staged = wholeFile ? await store.stageLink(payload.path) : undefined;
    const reservation = await this.#reserve(info);
    const keep: JobOutput[] = [];
    const tmp = staged ? undefined : store.tmpPath(info.digest.slice(7, 23));
    if (tmp) keep.push({ kind: 'new-file', path: tmp, sync: store.durable });
    if (reservation?.res) keep.push(regionOf(reservation.res));
    let result: BlobResult;
    try {
      result = await this.#run(staged ? { kind: 'path', path: staged.path, size: payload.size } : payload, { expect, what, keep }, meter);
    } catch (err) {
      if (staged) await store.discardStaged(staged);
      if (tmp) await fsp.rm(tmp, { force: true });
      await reservation?.res?.abandon();
      throw err;
    }
    counters.bytesRead += result.input.size;
    this.c.source.onVerified?.(info);
    const got = { digest: info.digest, size: result.input.size };
    const stored = staged ? await store.adoptStaged(staged, got, { what }) : await store.adopt(tmp!, { ...got, what });
    if (reservation) {
      if (reservation.res) {
        await reservation.res.done();
        this.#wrote(stored.size);
      }
    } else {
      await this.#deliver(stored, t);
    }
    return this.#done(t, stored, 'fetched', meter);
  }

  /**
   * A stream sent to a destination that verifies what it writes (an upload) and, from the same
   * bytes, to a job that keeps it in the store: one pass over the network, one hash. The job checks
   * the digest (and a registry checks it again before it links the blob); the upload is told so
   * (`checkedByCaller`) and does not hash the bytes a second time. The store adopts the job's file
   * only when both ended well, and a failure of either stops the other and fails the copy before
   * any manifest is written. The slower of the two sets the pace (pipe backpressure).
   */
  async #relay(t: BlobTask, payload: Extract<BlobPayload, { kind: 'stream' }>, what: string, meter: BlobMeter): Promise<BlobOutcome> {
    const { dest, counters } = this.c;
    const store = this.c.store.get();
    const info = t.info;
    const toDest = new PassThrough({ highWaterMark: RELAY_BUFFER });
    const toStore = new PassThrough({ highWaterMark: RELAY_BUFFER });
    const src = payload.stream;
    src.once('error', (err) => {
      toDest.destroy(err);
      toStore.destroy(err);
    });
    src.pipe(toDest);
    src.pipe(toStore);
    const tmp = store.tmpPath(info.digest.slice(7, 23));
    // The job verifies these very bytes before anything commits: the destination need not hash them too.
    const upload = dest.putBlob({ kind: 'stream', stream: toDest, checkedByCaller: true }, info);
    const keep = this.#run(
      { kind: 'stream', stream: toStore, size: payload.size },
      { expect: { digest: info.digest, size: info.size }, what, keep: [{ kind: 'new-file', path: tmp, sync: store.durable }] },
      meter,
    );
    // Whichever fails first stops the other: a half upload or a half store file is worth nothing.
    const stop = (err: unknown): never => {
      src.destroy();
      toDest.destroy(err as Error);
      toStore.destroy(err as Error);
      throw err;
    };
    let result: BlobResult;
    try {
      [, result] = await Promise.all([upload.catch(stop), keep.catch(stop)]);
    } catch (err) {
      await Promise.allSettled([upload, keep]);
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    counters.bytesRead += result.input.size;
    this.c.source.onVerified?.(info);
    const stored = await store.adopt(tmp, { digest: info.digest, size: result.input.size, what });
    this.#wrote(stored.size);
    return this.#done(t, stored, 'fetched', meter);
  }

  /** A layer decompressed, compressed or recompressed on its way. */
  async #transform(t: BlobTask, payload: BlobPayload, what: string, meter: BlobMeter): Promise<BlobOutcome> {
    const { pool } = this.c;
    const store = this.c.store.get();
    const info = t.info;
    const plan = t.plan;
    // Keep the source's bytes where that is free (a link) or where they cannot be read again
    // cheaply (a download): a later copy of the same image then needs neither the source nor
    // the network. A member of a local archive is not copied into the store: it is there to read.
    const staged = payload.kind === 'path' && payload.offset === undefined ? await store.stageLink(payload.path) : undefined;
    const srcTmp = !staged && payload.kind === 'stream' ? store.tmpPath(info.digest.slice(7, 23)) : undefined;
    const outTmp = store.tmpPath(`${plan.action}-${info.digest.slice(7, 23)}`);
    const out: JobOutput = { kind: 'new-file', path: outTmp, sync: store.durable };
    const job: Omit<BlobJob, 'kind' | 'input'> = {
      expect: { digest: info.digest, size: info.size },
      what,
      ...(srcTmp ? { keep: [{ kind: 'new-file', path: srcTmp, sync: store.durable }] } : {}),
    };
    if (t.from !== 'none') job.decompress = { format: t.from, ...(t.diffID ? { diffID: t.diffID } : {}), ...(plan.action === 'decompress' ? { out } : {}) };
    const native = plan.action === 'compress' && plan.format === 'zstd' ? pool.nativeThreads() : undefined;
    if (plan.action === 'compress') job.compress = { format: plan.format, level: plan.level, out, threads: native?.threads ?? pool.threads };
    let result: BlobResult;
    try {
      result = await this.#run(staged ? { kind: 'path', path: staged.path, size: payload.size } : payload, job, meter);
    } catch (err) {
      if (staged) await store.discardStaged(staged);
      await Promise.all([srcTmp, outTmp].flatMap((p) => (p ? [fsp.rm(p, { force: true })] : [])));
      throw err;
    } finally {
      native?.release();
    }
    this.c.counters.bytesRead += result.input.size;
    this.c.source.onVerified?.(info);

    // The source, kept (verified by the job against the manifest's digest).
    const got = { digest: info.digest, size: result.input.size };
    if (staged) await store.adoptStaged(staged, got, { what });
    else if (srcTmp) await store.adopt(srcTmp, { ...got, what });

    // The result, and what was learned: every digest below was computed by the job from these bytes.
    const cache = store.cache;
    const plain = t.from === 'none' ? got : toHashed(result.plain, what);
    if (t.from !== 'none') {
      cache.recordUncompressed(info.digest, plain.digest);
      cache.recordVariant(plain.digest, t.from, -1, info.digest);
    }
    cache.recordUncompressed(plain.digest, plain.digest);
    let output: { digest: Digest; size: number };
    if (plan.action === 'compress') {
      output = toHashed(result.compressed, what);
      cache.recordVariant(plain.digest, plan.format, plan.level, output.digest);
    } else {
      output = plain;
    }
    const stored = await store.adopt(outTmp, { ...output, what: `${plan.action === 'compress' ? plan.format + '-compressed' : 'decompressed'} ${what}` });
    const reused = await this.c.dest.tryReusingBlob({ ...info, digest: stored.digest, size: stored.size });
    if (!reused) await this.#deliver(stored, t);
    return this.#done(t, stored, reused ? 'reused-at-destination' : 'fetched', meter);
  }

  /** Run a blob job on the payload (file, file region or main-thread stream). */
  async #run(payload: BlobPayload, job: Omit<BlobJob, 'kind' | 'input'>, meter: BlobMeter | undefined): Promise<BlobResult> {
    let input: JobInput;
    if (payload.kind === 'path') {
      input = { kind: 'file', path: payload.path, offset: payload.offset ?? 0, length: payload.offset === undefined ? -1 : payload.size };
      if (payload.fd !== undefined) input.fd = payload.fd;
    } else if (!job.decompress && !job.compress) {
      // Kept as it is: hashed and written here, cheaper than handing it to a worker (keep-stream.ts).
      return keepStream(payload.stream, { expect: job.expect, what: job.what, keep: job.keep ?? [] }, meter);
    } else {
      input = { kind: 'stream', stream: payload.stream };
    }
    return this.c.pool.run({ kind: 'blob', input, ...job, ...(meter ? { progress: meter.shared } : {}) });
  }

  /** Room at the destination for a blob of known size, when it offers that; `{}` when it already has the blob. */
  async #reserve(info: BlobInfo): Promise<{ res?: BlobReservation } | undefined> {
    const d = this.c.dest;
    if (!d.reserveBlob || info.size < 0) return undefined;
    const res = await d.reserveBlob(info);
    return res ? { res } : {};
  }

  /** Hand a stored blob to the destination: into reserved room by a worker, else putBlob with the store's file. */
  async #deliver(stored: StoredBlob, t: BlobTask): Promise<void> {
    const info: BlobInfo = { ...t.info, digest: stored.digest, size: stored.size };
    const r = stored.size > INLINE_MAX ? await this.#reserve(info) : undefined;
    if (r) {
      if (!r.res) return;
      try {
        // Not the source's bytes: this read does not count as progress reading the image.
        await this.#run({ kind: 'path', path: stored.path, size: stored.size }, { expect: { size: stored.size }, what: `${this.#what(t)} from the store`, keep: [regionOf(r.res)] }, undefined);
      } catch (err) {
        await r.res.abandon();
        throw err;
      }
      await r.res.done();
    } else {
      await this.c.dest.putBlob({ kind: 'path', path: stored.path }, info);
    }
    this.#wrote(stored.size);
  }

  #wrote(size: number): void {
    this.c.counters.bytesWritten += size;
    this.c.counters.blobsCopied++;
  }

  #done(t: BlobTask, out: { digest: Digest; size: number }, how: How, meter: BlobMeter): BlobOutcome {
    if (how === 'reused-at-destination') this.c.counters.blobsReused++;
    this.c.tracker.emit({
      type: 'blob-done',
      digest: out.digest,
      size: out.size,
      how,
      read: meter.bytesRead,
      ...(out.digest !== t.info.digest ? { from: t.info.digest } : {}),
      ...(t.plan.action === 'decompress' ? { transformed: 'decompressed' as const } : t.plan.action === 'compress' ? { transformed: 'compressed' as const } : {}),
    });
    return { digest: out.digest, size: out.size };
  }
}

function phaseOf(from: LayerCompression, plan: LayerPlan): BlobPhase {
  if (plan.action === 'keep') return 'copying';
  if (plan.action === 'decompress') return 'decompressing';
  return from === 'none' ? 'compressing' : 'recompressing';
}

function regionOf(r: BlobReservation): JobOutput {
  return { kind: 'region', path: r.path, offset: r.offset, length: r.size };
}

function toHashed(h: { digest: string; size: number } | undefined, what: string): { digest: Digest; size: number } {
  if (!h) throw new OcikitError('E_INTERNAL', `${what}: the worker returned no result for a stage it ran`);
  return { digest: parseDigest(h.digest, what), size: h.size };
}

/** A small blob's bytes in memory (at most `max`; more is E_SIZE_MISMATCH), counted on `meter`. */
async function readSmall(payload: BlobPayload, max: number, what: string, meter: BlobMeter): Promise<Buffer> {
  if (payload.kind === 'path') {
    const len = payload.size;
    if (len > max) throw new OcikitError('E_SIZE_MISMATCH', `${what}: ${len} bytes, more than the expected ${max}`);
    const fh = payload.fd === undefined ? await fsp.open(payload.path, 'r') : undefined;
    try {
      const buf = Buffer.alloc(len);
      let off = 0;
      while (off < len) {
        const pos = (payload.offset ?? 0) + off;
        const n = fh ? (await fh.read(buf, off, len - off, pos)).bytesRead : await readFd(payload.fd!, buf, off, len - off, pos);
        if (n === 0) break;
        off += n;
      }
      meter.read(off);
      return buf.subarray(0, off);
    } finally {
      await fh?.close();
    }
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of payload.stream as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) {
      payload.stream.destroy();
      throw new OcikitError('E_SIZE_MISMATCH', `${what}: more than the expected ${max} bytes`);
    }
    meter.read(c.length);
    parts.push(c);
  }
  return Buffer.concat(parts);
}

function readFd(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));
}
