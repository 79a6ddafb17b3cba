/**
 * Progress on stderr, never stdout: stdout carries only results, so
 * `ocikit copy X docker-archive:/dev/stdout | ocikit copy docker-archive:/dev/stdin Y` works
 * (skopeo writes progress to stdout: containers/skopeo#2590).
 *
 * Two renderings, chosen by whether stderr is a terminal:
 * - TTY: one live bar per blob in flight (at most MAX_BARS, then "… and N more"), redrawn in
 *   place, with a totals line under them; a finished blob becomes one permanent line above.
 * - otherwise (CI logs, files, pipes): one line per finished blob, and every `intervalMs` one line
 *   with the totals so far (bytes, rate), which is what CI logs want (containers/skopeo#658).
 *   No control characters, no carriage returns.
 * `-q` silences both.
 */
import type { CopyResult, ProgressEvent } from '../lib/copy/index.js';

/** How a ProgressPrinter renders. */
export interface ProgressOptions {
  /** -q: print nothing. */
  quiet?: boolean;
  /** Render bars; default: whether the stream is a TTY. */
  tty?: boolean;
  /** Non-TTY: milliseconds between totals lines (default 5000; 0: none). */
  intervalMs?: number;
  /** TTY: milliseconds between redraws (default 100). */
  redrawMs?: number;
  /** TTY: terminal width (default: the stream's columns, else 80). */
  columns?: number;
  /** The clock (tests replace it). */
  now?: () => number;
}

/** At most this many live bars; the rest are counted on one line. */
const MAX_BARS = 8;

interface Bar {
  digest: string;
  size: number;
  done: number;
  phase: string;
}

/** "12.3 MB" (decimal units, as skopeo and docker print). */
export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

function short(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 13);
}

/** Renders ProgressEvents on a stream (stderr). Call `done` with the result, `stop` always (finally). */
export class ProgressPrinter {
  readonly #out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly #quiet: boolean;
  readonly #tty: boolean;
  readonly #intervalMs: number;
  readonly #redrawMs: number;
  readonly #columns: number;
  readonly #now: () => number;
  readonly #started: number;
  readonly #bars = new Map<string, Bar>();
  #timer: NodeJS.Timeout | undefined;
  /** Lines of the live area last drawn (TTY). */
  #liveLines = 0;
  #dirty = false;
  #blobsStarted = 0;
  #blobsDone = 0;
  /** Bytes of finished blobs. */
  #bytesDone = 0;
  #stopped = false;

  constructor(out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, opts: ProgressOptions | boolean = {}) {
    // A boolean is the older (out, quiet) form.
    const o: ProgressOptions = typeof opts === 'boolean' ? { quiet: opts } : opts;
    this.#out = out;
    this.#quiet = !!o.quiet;
    this.#tty = o.tty ?? !!out.isTTY;
    this.#intervalMs = o.intervalMs ?? 5000;
    this.#redrawMs = o.redrawMs ?? 100;
    this.#columns = Math.max(40, (o.columns ?? out.columns) || 80);
    this.#now = o.now ?? Date.now;
    this.#started = this.#now();
  }

  /** Handle one event from the copy pipeline. */
  event(ev: ProgressEvent): void {
    if (this.#quiet || this.#stopped) return;
    this.#startTimer();
    switch (ev.type) {
      case 'blob-start':
        this.#blobsStarted++;
        this.#bars.set(ev.digest, { digest: ev.digest, size: ev.size, done: 0, phase: 'copying' });
        this.#dirty = true;
        break;
      case 'blob-progress': {
        const bar = this.#bars.get(ev.digest);
        if (bar) {
          bar.phase = ev.phase;
          bar.size = ev.total;
          bar.done = ev.done;
          this.#dirty = true;
        }
        break;
      }
      case 'blob-done': {
        this.#bars.delete(ev.from ?? ev.digest);
        this.#blobsDone++;
        this.#bytesDone += Math.max(0, ev.size);
        const how = ev.how === 'reused-at-destination' ? 'skipped: already at destination' : ev.how === 'from-store' ? 'from store' : 'copied';
        const t = ev.transformed ? `, ${ev.transformed}` : '';
        this.#permanent(`Copying blob ${short(ev.digest)} ${formatBytes(ev.size)} (${how}${t})`);
        break;
      }
      case 'manifest':
        this.#permanent(`Writing manifest ${ev.digest.slice(0, 19)}${ev.instance ? ' (instance)' : ''}`);
        break;
      default:
        break;
    }
  }

  /** A status line from a transport (a daemon's "Loaded image: x"), printed like a finished blob's. */
  message(line: string): void {
    if (this.#quiet || this.#stopped) return;
    this.#permanent(line);
  }

  /** The closing summary line. */
  done(res: CopyResult): void {
    if (this.#quiet) return;
    this.#clearLive();
    const rate = res.seconds > 0 ? ` ${(res.bytesWritten / 1e6 / res.seconds).toFixed(1)} MB/s` : '';
    this.#out.write(`Copied ${res.blobsCopied} blobs (${formatBytes(res.bytesWritten)}${rate}), reused ${res.blobsReused}, in ${res.seconds.toFixed(2)} s: ${res.manifestDigest}\n`);
  }

  /** Stop the timers and remove the live area. Idempotent; call it in `finally`. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (!this.#quiet && !this.#stopped) this.#clearLive();
    this.#stopped = true;
  }

  /** The totals line: "Progress: 3/10 blobs, 123.4 MB, 45.6 MB/s, 2.7 s". */
  totals(): string {
    const inflight = [...this.#bars.values()].reduce((a, b) => a + b.done, 0);
    const bytes = this.#bytesDone + inflight;
    const secs = Math.max(0, this.#now() - this.#started) / 1000;
    const rate = secs > 0 ? `${(bytes / 1e6 / secs).toFixed(1)} MB/s` : '-';
    return `Progress: ${this.#blobsDone}/${this.#blobsStarted} blobs, ${formatBytes(bytes)}, ${rate}, ${secs.toFixed(1)} s`;
  }

  /** Non-TTY: print the totals line now (the timer calls this). TTY: redraw if anything changed. */
  tick(): void {
    if (this.#quiet || this.#stopped) return;
    if (this.#tty) {
      if (this.#dirty) this.#drawLive();
    } else {
      this.#out.write(this.totals() + '\n');
    }
  }

  #startTimer(): void {
    if (this.#timer) return;
    const ms = this.#tty ? this.#redrawMs : this.#intervalMs;
    if (ms <= 0) return;
    this.#timer = setInterval(() => this.tick(), ms);
    // Progress must never keep the process alive.
    this.#timer.unref();
  }

  /** A line that stays: above the live area on a TTY, a plain line otherwise. */
  #permanent(line: string): void {
    if (this.#tty) {
      this.#clearLive();
      this.#out.write(this.#fit(line) + '\n');
      this.#dirty = true;
    } else {
      this.#out.write(line + '\n');
    }
  }

  #clearLive(): void {
    if (!this.#tty || this.#liveLines === 0) return;
    // Up to the first live line, then erase to the end of the screen.
    this.#out.write(`\x1b[${this.#liveLines}F\x1b[J`);
    this.#liveLines = 0;
  }

  #drawLive(): void {
    this.#clearLive();
    const lines: string[] = [];
    const bars = [...this.#bars.values()];
    for (const b of bars.slice(0, MAX_BARS)) lines.push(this.#barLine(b));
    if (bars.length > MAX_BARS) lines.push(`  … and ${bars.length - MAX_BARS} more blobs`);
    lines.push(this.totals());
    this.#out.write(lines.map((l) => this.#fit(l)).join('\n') + '\n');
    this.#liveLines = lines.length;
    this.#dirty = false;
  }

  #barLine(b: Bar): string {
    const head = `Copying blob ${short(b.digest)} `;
    const tail = b.done > 0 ? ` ${formatBytes(b.done)} / ${formatBytes(b.size)} ${b.phase}` : ` ${formatBytes(b.size)} ${b.phase}`;
    const width = Math.max(10, Math.min(40, this.#columns - head.length - tail.length - 3));
    let inner: string;
    if (b.size > 0 && b.done > 0) {
      const fill = Math.min(width, Math.round((b.done / b.size) * width));
      inner = '='.repeat(Math.max(0, fill - 1)) + (fill > 0 ? '>' : '') + ' '.repeat(width - fill);
    } else {
      // No byte counts for this phase: a marker that moves with time, so the user sees life.
      const pos = Math.floor((this.#now() - this.#started) / 150) % width;
      inner = ' '.repeat(pos) + '<=>'.slice(0, width - pos) + ' '.repeat(Math.max(0, width - pos - 3));
    }
    return `${head}[${inner}]${tail}`;
  }

  #fit(line: string): string {
    return line.length <= this.#columns - 1 ? line : line.slice(0, this.#columns - 2) + '…';
  }
}
