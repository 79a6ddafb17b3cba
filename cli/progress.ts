/**
 * Progress on stderr, never stdout: stdout carries only results, so
 * `ocikit copy X docker-archive:/dev/stdout | ocikit copy docker-archive:/dev/stdin Y` works
 * (skopeo writes progress to stdout: containers/skopeo#2590).
 *
 * Two renderings, chosen by whether stderr is a terminal:
 * - TTY: one live bar per blob in flight (at most MAX_BARS, then "… and N more"), redrawn in
 *   place several times a second with the bytes read, the blob's rate and its ETA, and a totals
 *   line under them (bytes read of the image's total, rate, ETA); a finished blob becomes one
 *   permanent line above.
 * - otherwise (CI logs, files, pipes): one line per finished blob, and every `intervalMs` one line
 *   with the totals so far (bytes read, the true rate), which is what CI logs want
 *   (containers/skopeo#658). No control characters, no carriage returns.
 * `-q` silences both. Byte counts are the bytes read from the source (the library's
 * `blob-progress` events), so a download, a decompression and a copy all move.
 *
 * A blob is named by its source digest from its bar to its finished line (as skopeo names it),
 * and the finished line says what it became when it changed ("compressed to 41873e355dbd, 419 B");
 * an image's config is called the config. The count's denominator is every blob the copy
 * announced (all instances of an index are announced before any blob moves), not the blobs begun
 * so far. An ETA appears only once bytes have been read for a second. The summary counts the
 * finished lines by how each ended (read from the source, from the store, already at the
 * destination), so it agrees with them.
 */
import type { CopyResult, ProgressEvent } from '../lib/copy/index.js';

/** How a ProgressPrinter renders. */
export interface ProgressOptions {
  /** -q: print nothing. */
  quiet?: boolean;
  /** --debug: also a line for each blob's plan and outcome (printed even with -q). */
  debug?: boolean;
  /** Render bars; default: whether the stream is a TTY. */
  tty?: boolean;
  /** Non-TTY: milliseconds between totals lines (default 5000; 0: none). */
  intervalMs?: number;
  /** TTY: milliseconds between redraws (default 200: five a second). */
  redrawMs?: number;
  /** TTY: terminal width (default: the stream's columns, else 80). */
  columns?: number;
  /** The clock (tests replace it). */
  now?: () => number;
  /**
   * The timer (tests replace it): call `tick` every `ms` milliseconds until the returned function is
   * called. Default: setInterval, unref'd (progress never keeps the process alive).
   */
  every?: (ms: number, tick: () => void) => () => void;
}

function every(ms: number, tick: () => void): () => void {
  const timer = setInterval(tick, ms);
  // Progress must never keep the process alive.
  timer.unref();
  return () => clearInterval(timer);
}

/** At most this many live bars; the rest are counted on one line. */
const MAX_BARS = 8;

interface Bar {
  digest: string;
  size: number;
  done: number;
  phase: string;
  started: number;
}

/** How long bytes must have been read before a rate (and an ETA from it) is shown: the first instants give wild ones. */
const RATE_WINDOW_MS = 1000;

/** "12.3 MB" (decimal units, as skopeo and docker print). */
export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** "45 s", "3m05s", "1h02m". */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function short(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 13);
}

function rate(bytes: number, ms: number): string {
  return ms > 0 ? `${(bytes / 1e3 / ms).toFixed(1)} MB/s` : '-';
}

/** Renders ProgressEvents on a stream (stderr). Call `done` with the result, `stop` always (finally). */
export class ProgressPrinter {
  readonly #out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly #quiet: boolean;
  readonly #debugging: boolean;
  readonly #tty: boolean;
  readonly #intervalMs: number;
  readonly #redrawMs: number;
  readonly #columns: number;
  readonly #now: () => number;
  readonly #started: number;
  readonly #bars = new Map<string, Bar>();
  readonly #every: NonNullable<ProgressOptions['every']>;
  /** Stops the running timer; undefined when none runs. */
  #stopTimer: (() => void) | undefined;
  /** Lines of the live area last drawn (TTY). */
  #liveLines = 0;
  #blobsStarted = 0;
  #blobsDone = 0;
  /** Blobs the images announced so far will copy (the denominator of the count). */
  #blobsPlanned = 0;
  /** The configs among them: their lines say "config", not "blob". */
  readonly #configs = new Set<string>();
  /** How the finished blobs ended, for a summary that agrees with their lines. */
  readonly #ended = { fetched: 0, read: 0, 'from-store': 0, 'reused-at-destination': 0 };
  /** Since when bytes have been read, at the latest (the rate, and so an ETA, is known only a while after). */
  #firstRead: number | undefined;
  /** Source bytes of finished blobs (read, or not needed: from the store, already there). */
  #sizeDone = 0;
  /** Bytes really read by finished blobs and by a source before its blobs: the rate. */
  #readDone = 0;
  /** Bytes of an archive read whole at open (a pipe, a compressed archive). */
  #spooled = 0;
  /** What the images copied so far read in all, when known (the sum of their blobs' sizes). */
  #total = 0;
  #stopped = false;

  constructor(out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, opts: ProgressOptions = {}) {
    this.#out = out;
    this.#quiet = !!opts.quiet;
    this.#debugging = !!opts.debug;
    this.#tty = opts.tty ?? !!out.isTTY;
    this.#intervalMs = opts.intervalMs ?? 5000;
    this.#redrawMs = opts.redrawMs ?? 200;
    this.#columns = Math.max(40, (opts.columns ?? out.columns) || 80);
    this.#now = opts.now ?? Date.now;
    this.#every = opts.every ?? every;
    this.#started = this.#now();
  }

  /** Handle one event from the copy pipeline. */
  event(ev: ProgressEvent): void {
    if (this.#stopped) return;
    if (this.#debugging) this.#debugEvent(ev);
    if (this.#quiet) return;
    this.#startTimer();
    switch (ev.type) {
      case 'image':
        this.#total += ev.bytes;
        this.#blobsPlanned += ev.blobs;
        if (ev.config) this.#configs.add(ev.config);
        break;
      case 'read':
        // An archive read whole before its blobs (a pipe, a compressed archive): bytes read, no blob yet.
        this.#spooled += ev.bytes;
        this.#readDone += ev.bytes;
        if (ev.bytes > 0) this.#firstRead ??= this.#started;
        break;
      case 'blob-start':
        this.#blobsStarted++;
        this.#bars.set(ev.digest, { digest: ev.digest, size: ev.size, done: 0, phase: ev.phase, started: this.#now() });
        break;
      case 'blob-progress': {
        const bar = this.#bars.get(ev.digest);
        if (bar) {
          bar.phase = ev.phase;
          if (ev.total >= 0) bar.size = ev.total;
          bar.done = ev.done;
          // Reading began at the latest when this blob started.
          if (ev.done > 0) this.#firstRead ??= bar.started;
        }
        break;
      }
      case 'blob-done': {
        // Named by its source digest, as its live bar was (and as skopeo names it); what the blob
        // became, when it changed, is said at the end of the line.
        const key = ev.from ?? ev.digest;
        const size = this.#bars.get(key)?.size;
        this.#sizeDone += Math.max(0, size ?? ev.read);
        this.#bars.delete(key);
        this.#blobsDone++;
        this.#ended[ev.how]++;
        this.#readDone += ev.read;
        const how = ev.how === 'reused-at-destination' ? 'skipped: already at destination' : ev.how === 'from-store' ? 'from store' : 'copied';
        const changed = ev.transformed ? `, ${ev.transformed}${ev.digest !== key ? ` to ${short(ev.digest)}, ${formatBytes(ev.size)}` : ''}` : '';
        this.#permanent(`${this.#label(key)} ${short(key)} ${formatBytes(size !== undefined && size >= 0 ? size : ev.size)} (${how}${changed})`);
        break;
      }
      case 'manifest':
        this.#permanent(`Writing manifest ${ev.digest.slice(0, 19)}${ev.instance ? ' (instance)' : ''}`);
        break;
      case 'referrer':
        this.#permanent(`Writing referrer ${ev.digest.slice(0, 19)}${ev.artifactType ? ` (${ev.artifactType})` : ''} of ${ev.subject.slice(0, 19)}`);
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

  /** --debug: what was decided for a blob (its plan when it starts, how it ended). */
  #debugEvent(ev: ProgressEvent): void {
    if (ev.type === 'blob-start') this.debug(`blob ${short(ev.digest)}: ${ev.phase}, ${formatBytes(ev.size)} at the source`);
    else if (ev.type === 'blob-done') {
      const how = ev.how === 'reused-at-destination' ? 'the destination has it, nothing written' : ev.how === 'from-store' ? 'taken from the store' : 'read from the source';
      const changed = ev.transformed ? `, ${ev.transformed}${ev.from !== undefined && ev.from !== ev.digest ? ` into ${short(ev.digest)}` : ''}` : '';
      this.debug(`blob ${short(ev.from ?? ev.digest)}: ${how}${changed}`);
    }
  }

  /** A --debug line: printed even with -q, above the live area, with the time since the command started. */
  debug(line: string): void {
    if (this.#stopped) return;
    const text = `debug +${(performance.now() / 1000).toFixed(3)}s ${line}`;
    if (this.#tty && !this.#quiet) this.#permanent(text);
    else this.#out.write(text + '\n');
  }

  /**
   * The closing summary line. Its counts are those of the lines above it (how each blob ended),
   * so a copy served from the store says so; a rate only where bytes were read.
   */
  done(res: CopyResult): void {
    if (this.#quiet) return;
    this.#clearLive();
    const e = this.#ended;
    const fromSource = e.fetched + e.read;
    const n = fromSource + e['from-store'] + e['reused-at-destination'];
    const parts = [
      fromSource > 0 ? `${fromSource} read from the source` : '',
      e['from-store'] > 0 ? `${e['from-store']} from the store` : '',
      e['reused-at-destination'] > 0 ? `${e['reused-at-destination']} already at the destination` : '',
    ].filter(Boolean);
    const bytes = [`read ${formatBytes(res.bytesRead)}`, `wrote ${formatBytes(res.bytesWritten)}`, ...(res.bytesRead > 0 ? [rate(res.bytesRead, res.seconds * 1000)] : [])].join(', ');
    this.#out.write(`Copied ${n} blob${n === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''} (${bytes}) in ${res.seconds.toFixed(2)} s: ${res.manifestDigest}\n`);
  }

  /** "Copying config" for an image's config, "Copying blob" for the rest. */
  #label(digest: string): string {
    return this.#configs.has(digest) ? 'Copying config' : 'Copying blob';
  }

  /** Whether a rate measured since `since` means anything yet (a second of reading): before, no ETA. */
  #rateKnown(since: number | undefined): boolean {
    return since !== undefined && this.#now() - since >= RATE_WINDOW_MS;
  }

  /** Stop the timers and remove the live area. Idempotent; call it in `finally`. */
  stop(): void {
    this.#stopTimer?.();
    this.#stopTimer = undefined;
    if (!this.#quiet && !this.#stopped) this.#clearLive();
    this.#stopped = true;
  }

  /** [bytes of the image done (finished blobs whole, plus what blobs in flight read), bytes really read]. */
  #progress(): [number, number] {
    let inflight = 0;
    for (const b of this.#bars.values()) inflight += b.done;
    return [this.#sizeDone + inflight, this.#readDone + inflight];
  }

  /** The totals line: "Progress: 3/10 blobs, 123.4 MB of 527.0 MB, read at 45.6 MB/s, ETA 9 s, 2.7 s". */
  totals(): string {
    const [done, read] = this.#progress();
    const ms = Math.max(0, this.#now() - this.#started);
    const of = this.#total > 0 ? ` of ${formatBytes(this.#total)}` : '';
    const r = ms > 0 ? read / ms : 0;
    const eta = this.#total > done && r > 0 && this.#rateKnown(this.#firstRead) ? `, ETA ${formatEta((this.#total - done) / r / 1000)}` : '';
    const spooled = this.#spooled > 0 ? `, ${formatBytes(this.#spooled)} of archive read` : '';
    return `Progress: ${this.#blobsDone}/${Math.max(this.#blobsPlanned, this.#blobsStarted)} blobs, ${formatBytes(done)}${of}${spooled}, read at ${rate(read, ms)}${eta}, ${(ms / 1000).toFixed(1)} s`;
  }

  /** Non-TTY: print the totals line now (the timer calls this). TTY: redraw the live area. */
  tick(): void {
    if (this.#quiet || this.#stopped) return;
    if (this.#tty) this.#drawLive();
    else this.#out.write(this.totals() + '\n');
  }

  #startTimer(): void {
    if (this.#stopTimer) return;
    const ms = this.#tty ? this.#redrawMs : this.#intervalMs;
    if (ms <= 0) return;
    this.#stopTimer = this.#every(ms, () => this.tick());
  }

  /** A line that stays: above the live area on a TTY, a plain line otherwise. */
  #permanent(line: string): void {
    if (this.#tty) {
      this.#clearLive();
      this.#out.write(this.#fit(line) + '\n');
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
  }

  #barLine(b: Bar): string {
    const head = `${this.#label(b.digest)} ${short(b.digest)} `;
    const ms = this.#now() - b.started;
    const eta = b.size > b.done && b.done > 0 && ms > 0 && this.#rateKnown(b.started) ? ` ETA ${formatEta(((b.size - b.done) / b.done) * (ms / 1000))}` : '';
    const tail = b.done > 0 ? ` ${formatBytes(b.done)} / ${formatBytes(b.size)} ${b.phase} ${rate(b.done, ms)}${eta}` : ` ${formatBytes(b.size)} ${b.phase}`;
    const width = Math.max(10, Math.min(40, this.#columns - head.length - tail.length - 3));
    let inner: string;
    if (b.size > 0 && b.done > 0) {
      const fill = Math.min(width, Math.round((b.done / b.size) * width));
      inner = '='.repeat(Math.max(0, fill - 1)) + (fill > 0 ? '>' : '') + ' '.repeat(width - fill);
    } else {
      // Nothing read yet (waiting for a worker, or a registry): a marker that moves, so the user sees life.
      const pos = Math.floor((this.#now() - this.#started) / 150) % width;
      inner = ' '.repeat(pos) + '<=>'.slice(0, width - pos) + ' '.repeat(Math.max(0, width - pos - 3));
    }
    return `${head}[${inner}]${tail}`;
  }

  #fit(line: string): string {
    return line.length <= this.#columns - 1 ? line : line.slice(0, this.#columns - 2) + '…';
  }
}
