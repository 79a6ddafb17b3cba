/**
 * Progress of a copy as events (the CLI renders them on stderr; the library never prints).
 *
 * Byte counts come from where bytes are read: a worker job stores its counts into a
 * SharedArrayBuffer the main thread reads (no message per chunk), and main-thread streams (small
 * blobs, uploads) count into the same kind of meter. While any blob is in flight, a timer emits a
 * `blob-progress` event for every meter that moved, at most every `intervalMs`.
 */
import type { Digest } from '../digest/index.js';

/** What a blob is doing, for the bar's label. */
export type BlobPhase = 'copying' | 'decompressing' | 'compressing' | 'recompressing';

export type ProgressEvent =
  /**
   * An image is about to be copied: its blobs (config and layers), their total size at the source,
   * and which of them is the config. Every image of a copy is announced before any blob moves (the
   * instances of an index as soon as they are planned), so the counts are the whole copy's.
   */
  | { type: 'image'; blobs: number; bytes: number; config?: Digest }
  | { type: 'manifest'; digest: Digest; mediaType: string; instance?: Digest }
  | { type: 'blob-start'; digest: Digest; size: number; phase: BlobPhase }
  /** `done` of `total` bytes of the source blob read so far (total -1: unknown); `written`: output bytes. */
  | { type: 'blob-progress'; digest: Digest; phase: BlobPhase; done: number; total: number; written: number }
  /**
   * A blob is at the destination. `how`: the destination had it already ('reused-at-destination':
   * nothing moved, or the registry mounted it), the store had it ('from-store'), or the source's
   * bytes were taken in one pass — 'fetched' from a registry, a Docker daemon or podman, 'read'
   * from files on this machine (a layout, a directory, an archive, the store: transport); see
   * ImageSourceProperties.blobsAre. `from` is the digest blob-start named, when the blob written
   * differs from it.
   */
  | {
      type: 'blob-done';
      digest: Digest;
      size: number;
      how: 'reused-at-destination' | 'from-store' | 'fetched' | 'read';
      transformed?: 'compressed' | 'decompressed';
      from?: Digest;
      /** Source bytes read for this blob (0 when nothing was read). */
      read: number;
    }
  /** A referrer (copy --referrers) was handed to the destination, after its blobs. */
  | { type: 'referrer'; digest: Digest; subject: Digest; artifactType?: string }
  | { type: 'committed'; digest: Digest }
  /** Bytes a source read before its blobs were asked for (an archive from a pipe, read once into the store). */
  | { type: 'read'; bytes: number };

/** One blob's byte counters: [0] read from the source, [1] written to its output. */
export class BlobMeter {
  /** Shared with the worker running the blob's job (BlobJob.progress). */
  readonly shared = new SharedArrayBuffer(16);
  readonly #counts = new Float64Array(this.shared);
  #lastRead = -1;

  constructor(
    readonly digest: Digest,
    readonly total: number,
    public phase: BlobPhase,
  ) {}

  /** Count bytes read on the main thread. */
  read(n: number): void {
    this.#counts[0] = this.#counts[0]! + n;
  }

  /** Count bytes written on the main thread (lib/copy/keep-stream.ts). */
  wrote(n: number): void {
    this.#counts[1] = this.#counts[1]! + n;
  }

  get bytesRead(): number {
    return this.#counts[0]!;
  }

  get bytesWritten(): number {
    return this.#counts[1]!;
  }

  /** True when the read count moved since the last call. */
  moved(): boolean {
    const r = this.#counts[0]!;
    if (r === this.#lastRead) return false;
    this.#lastRead = r;
    return true;
  }
}

/** Emits progress events for the meters of the blobs in flight (see the module comment). */
export class ProgressTracker {
  readonly #emit: ((ev: ProgressEvent) => void) | undefined;
  readonly #intervalMs: number;
  readonly #active = new Set<BlobMeter>();
  #timer: NodeJS.Timeout | undefined;

  constructor(emit: ((ev: ProgressEvent) => void) | undefined, intervalMs = 200) {
    this.#emit = emit;
    this.#intervalMs = intervalMs;
  }

  emit(ev: ProgressEvent): void {
    this.#emit?.(ev);
  }

  /** Start a blob: emits blob-start and returns its meter. Call `end` when it is done. */
  begin(digest: Digest, total: number, phase: BlobPhase): BlobMeter {
    const m = new BlobMeter(digest, total, phase);
    this.#emit?.({ type: 'blob-start', digest, size: total, phase });
    if (this.#emit) {
      this.#active.add(m);
      this.#timer ??= setInterval(() => this.#tick(), this.#intervalMs);
      // Progress must never keep the process alive.
      this.#timer.unref();
    }
    return m;
  }

  /** The blob is finished (or failed): its meter stops reporting. */
  end(m: BlobMeter): void {
    this.#active.delete(m);
    if (this.#active.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Stop everything (end of the copy). */
  close(): void {
    this.#active.clear();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    for (const m of this.#active) {
      if (!m.moved()) continue;
      this.#emit?.({ type: 'blob-progress', digest: m.digest, phase: m.phase, done: m.bytesRead, total: m.total, written: m.bytesWritten });
    }
  }
}
