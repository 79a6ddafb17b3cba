/** Progress output: its shape on a non-TTY, bars on a TTY, and -q silence; always stderr. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { ProgressPrinter, formatBytes } from '../../cli/progress.js';
import type { Digest } from '../../lib/digest/index.js';
import { ocikit } from '../helpers/cli.js';
import { fixture, tempDir } from '../helpers/paths.js';

class Sink extends Writable {
  text = '';
  isTTY = false;
  columns = 100;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** A timer driven by the test: `fire()` is one tick (ProgressOptions.every). */
class ManualTimer {
  started = 0;
  running = false;
  ms = 0;
  #tick: (() => void) | undefined;
  readonly every = (ms: number, tick: () => void): (() => void) => {
    this.started++;
    this.running = true;
    this.ms = ms;
    this.#tick = tick;
    return () => {
      this.running = false;
    };
  };
  fire(): void {
    this.#tick?.();
  }
}

const D1 = ('sha256:' + 'a1'.repeat(32)) as Digest;
const D2 = ('sha256:' + 'b2'.repeat(32)) as Digest;
const D3 = ('sha256:' + 'c3'.repeat(32)) as Digest;
const RESULT = {
  manifestDigest: D3,
  sourceDigest: D3,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  bytesRead: 3_000_000,
  bytesWritten: 2_500_000,
  blobsReused: 1,
  blobsCopied: 2,
  seconds: 1.25,
};

function feed(p: ProgressPrinter): void {
  p.event({ type: 'image', blobs: 2, bytes: 2_500_000 });
  p.event({ type: 'blob-start', digest: D1, size: 2_000_000, phase: 'compressing' });
  p.event({ type: 'blob-start', digest: D2, size: 500_000, phase: 'copying' });
  p.event({ type: 'blob-progress', digest: D1, phase: 'compressing', done: 1_000_000, total: 2_000_000, written: 300_000 });
  p.event({ type: 'blob-done', digest: D3, size: 700_000, how: 'fetched', transformed: 'compressed', from: D1, read: 2_000_000 });
  p.event({ type: 'blob-done', digest: D2, size: 500_000, how: 'reused-at-destination', read: 0 });
  p.event({ type: 'manifest', digest: D3, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
}

describe('ProgressPrinter', () => {
  it('non-TTY: one line per blob, a totals line per interval, the summary; no control characters', () => {
    const out = new Sink();
    let now = 1000;
    const p = new ProgressPrinter(out, { intervalMs: 0, now: () => now });
    feed(p);
    now = 3000;
    p.tick();
    p.done(RESULT);
    p.stop();
    const lines = out.text.trimEnd().split('\n');
    assert.deepEqual(lines, [
      // Named by the source digest, as its bar was; what it became at the end.
      'Copying blob a1a1a1a1a1a1 2.0 MB (copied, compressed to c3c3c3c3c3c3, 700.0 kB)',
      'Copying blob b2b2b2b2b2b2 500.0 kB (skipped: already at destination)',
      `Writing manifest ${D3.slice(0, 19)}`,
      // 2.5 MB of the image done (one blob read whole, one not needed), 2.0 MB of it read in 2 s.
      'Progress: 2/2 blobs, 2.5 MB of 2.5 MB, read at 1.0 MB/s, 2.0 s',
      `Copied 2 blobs: 1 read from the source, 1 already at the destination (read 3.0 MB, wrote 2.5 MB, 2.4 MB/s) in 1.25 s: ${D3}`,
    ]);
    assert.doesNotMatch(out.text, /[\x00-\x09\x0b-\x1f]/, 'only printable text and newlines');
  });

  it('non-TTY: the periodic totals line comes from a timer while the copy runs, and stops with it', () => {
    const out = new Sink();
    const timer = new ManualTimer();
    const p = new ProgressPrinter(out, { intervalMs: 20, every: timer.every });
    assert.equal(timer.started, 0, 'no timer before the copy says anything');
    p.event({ type: 'blob-start', digest: D1, size: 10, phase: 'copying' });
    p.event({ type: 'blob-progress', digest: D1, phase: 'copying', done: 5, total: 10, written: 5 });
    assert.deepEqual([timer.started, timer.ms], [1, 20], 'one timer, at the interval asked for');
    // Nothing else happens: only the timer can print.
    const totalsNow = (): string[] => out.text.split('\n').filter((l) => l.startsWith('Progress: '));
    assert.deepEqual(totalsNow(), []);
    timer.fire();
    timer.fire();
    const totals = totalsNow();
    assert.equal(totals.length, 2, out.text);
    for (const l of totals) assert.match(l, /^Progress: \d+\/\d+ blobs, [\d.]+ (B|kB|MB|GB), read at ([\d.]+ MB\/s|-), [\d.]+ s$/);
    p.stop();
    assert.equal(timer.running, false, 'stop() stops the timer');
    const n = out.text.length;
    timer.fire();
    assert.equal(out.text.length, n, 'nothing after stop(), even from a tick already on its way');
  });

  it('non-TTY: the default timer prints totals lines by itself', async () => {
    const out = new Sink();
    const p = new ProgressPrinter(out, { intervalMs: 20 });
    p.event({ type: 'blob-start', digest: D1, size: 10, phase: 'copying' });
    // Waits for the line, not for a time: a loaded machine may run the timer late, but it must run.
    const deadline = Date.now() + 30_000;
    while (!out.text.includes('Progress: ') && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    p.stop();
    assert.match(out.text, /^Progress: /m);
  });

  it('quiet prints nothing at all, and starts no timer', () => {
    const out = new Sink();
    const timer = new ManualTimer();
    const p = new ProgressPrinter(out, { quiet: true, intervalMs: 5, every: timer.every });
    feed(p);
    p.tick();
    timer.fire();
    p.done(RESULT);
    p.stop();
    assert.equal(timer.started, 0);
    assert.equal(out.text, '');
  });

  it('TTY: live bars with the bytes read, the rate and the ETA, redrawn in place, cleared at the end', () => {
    const out = new Sink();
    out.isTTY = true;
    let now = 0;
    const p = new ProgressPrinter(out, { redrawMs: 0, now: () => now });
    p.event({ type: 'image', blobs: 1, bytes: 2_000_000 });
    p.event({ type: 'blob-start', digest: D1, size: 2_000_000, phase: 'compressing' });
    now = 2000;
    p.event({ type: 'blob-progress', digest: D1, phase: 'compressing', done: 1_000_000, total: 2_000_000, written: 300_000 });
    p.tick();
    assert.match(out.text, /Copying blob a1a1a1a1a1a1 \[=+> +\] 1\.0 MB \/ 2\.0 MB compressing 0\.5 MB\/s ETA 2 s/);
    assert.match(out.text, /Progress: 0\/1 blobs, 1\.0 MB of 2\.0 MB, read at 0\.5 MB\/s, ETA 2 s/);
    // A redraw with nothing new still happens (the rate and ETA move with time).
    const before = out.text.length;
    now = 2500;
    p.tick();
    assert.ok(out.text.length > before, 'redrawn on every tick');
    p.event({ type: 'blob-done', digest: D3, size: 700_000, how: 'fetched', transformed: 'compressed', from: D1, read: 2_000_000 });
    p.tick();
    p.done(RESULT);
    p.stop();
    assert.match(out.text, /\x1b\[\d+F\x1b\[J/, 'the live area is erased before it is redrawn');
    assert.match(out.text, /Copying blob a1a1a1a1a1a1 2\.0 MB \(copied, compressed to c3c3c3c3c3c3, 700\.0 kB\)\n/);
    assert.ok(out.text.endsWith(`in 1.25 s: ${D3}\n`));
  });

  it('the config is called the config; the count is of every blob announced, from the start', () => {
    const out = new Sink();
    const p = new ProgressPrinter(out, { intervalMs: 0, now: () => 0 });
    // Two images announced up front (an index's instances), three blobs each, configs D1 and D3.
    p.event({ type: 'image', blobs: 3, bytes: 3000, config: D1 });
    p.event({ type: 'image', blobs: 3, bytes: 3000, config: D3 });
    p.event({ type: 'blob-start', digest: D1, size: 1000, phase: 'copying' });
    assert.match(p.totals(), /^Progress: 0\/6 blobs/, 'not 0/1: six blobs are planned');
    p.event({ type: 'blob-done', digest: D1, size: 1000, how: 'fetched', read: 1000 });
    p.event({ type: 'blob-start', digest: D2, size: 1000, phase: 'copying' });
    p.event({ type: 'blob-done', digest: D2, size: 1000, how: 'from-store', read: 0 });
    assert.match(p.totals(), /^Progress: 2\/6 blobs/);
    const lines = out.text.trimEnd().split('\n');
    assert.deepEqual(lines, ['Copying config a1a1a1a1a1a1 1.0 kB (copied)', 'Copying blob b2b2b2b2b2b2 1.0 kB (from store)']);
  });

  it('no ETA until bytes have been read for a second: the first instants give wild ones', () => {
    const out = new Sink();
    out.isTTY = true;
    let now = 0;
    const p = new ProgressPrinter(out, { redrawMs: 0, now: () => now });
    p.event({ type: 'image', blobs: 1, bytes: 500_000_000 });
    p.event({ type: 'blob-start', digest: D1, size: 500_000_000, phase: 'copying' });
    now = 200;
    p.event({ type: 'blob-progress', digest: D1, phase: 'copying', done: 65_536, total: 500_000_000, written: 65_536 });
    // A rate from 64 KiB in 0.2 s would promise hours.
    assert.doesNotMatch(p.totals(), /ETA/);
    p.tick();
    assert.doesNotMatch(out.text, /ETA/);
    now = 1500;
    p.event({ type: 'blob-progress', digest: D1, phase: 'copying', done: 150_000_000, total: 500_000_000, written: 150_000_000 });
    assert.match(p.totals(), /, ETA 4 s,/);
    p.tick();
    assert.match(out.text, /Copying blob a1a1a1a1a1a1 \[=+> +\] 150\.0 MB \/ 500\.0 MB copying 100\.0 MB\/s ETA 4 s/);
    p.stop();
  });

  it('a copy served from the store: the summary says so, as every line does', () => {
    const out = new Sink();
    const p = new ProgressPrinter(out, { intervalMs: 0 });
    p.event({ type: 'image', blobs: 2, bytes: 2000, config: D1 });
    p.event({ type: 'blob-done', digest: D1, size: 1000, how: 'from-store', read: 0 });
    p.event({ type: 'blob-done', digest: D2, size: 1000, how: 'from-store', read: 0 });
    p.done({ ...RESULT, bytesRead: 0, bytesWritten: 2000, blobsReused: 0, blobsCopied: 2, seconds: 0.05 });
    assert.equal(out.text.trimEnd().split('\n').at(-1), `Copied 2 blobs: 2 from the store (read 0 B, wrote 2.0 kB) in 0.05 s: ${D3}`);
  });

  it('formats bytes in decimal units', () => {
    assert.deepEqual([0, 999, 1000, 1_500_000, 2_340_000_000].map(formatBytes), ['0 B', '999 B', '1.0 kB', '1.5 MB', '2.34 GB']);
  });
});

describe('ocikit copy progress', () => {
  it('an archive read from a pipe shows the bytes read while it is read, before any blob', async () => {
    const dir = tempDir('ocikit-progress-pipe-');
    const archive = join(dir, 'a.tar');
    assert.equal(ocikit(['--store', join(dir, 's0'), 'copy', '-q', `oci:${fixture('hello-oci')}:latest`, `oci-archive:${archive}:latest`]).code, 0);
    const events: string[] = [];
    const out = new Sink();
    const p = new ProgressPrinter(out, { intervalMs: 0 });
    const { copyImage } = await import('../../lib/copy/index.js');
    const { parseImageName } = await import('../../lib/transports/index.js');
    const { BlobStore } = await import('../../lib/store/index.js');
    const { spawn, spawnSync } = await import('node:child_process');
    // A FIFO: read once, as a pipe is.
    const fifo = join(dir, 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const writer = spawn('sh', ['-c', `cat ${archive} > ${fifo}`]);
    const store = BlobStore.open(join(dir, 's1'));
    try {
      await copyImage(parseImageName(`oci-archive:${fifo}:latest`), parseImageName(`oci:${join(dir, 'out')}:latest`), {
        store,
        onProgress: (ev) => {
          events.push(ev.type);
          p.event(ev);
        },
      });
    } finally {
      store.close();
      writer.kill();
    }
    assert.ok(events.indexOf('read') >= 0 && events.indexOf('read') < events.indexOf('blob-start'), `read events come first: ${events.join(' ')}`);
    assert.match(p.totals(), / of archive read/);
  });

  it('stderr only: a line per blob on a non-TTY; -q silences it; stdout stays empty without --json', () => {
    const dir = tempDir('ocikit-progress-');
    const src = `oci:${fixture('hello-oci')}:latest`;
    const r = ocikit(['--store', join(dir, 'store'), 'copy', '--dest-compress-format', 'zstd', src, `oci:${join(dir, 'a')}:x`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const blobLines = r.stderr.split('\n').filter((l) => l.startsWith('Copying '));
    assert.equal(blobLines.length, 3, r.stderr);
    assert.equal(blobLines.filter((l) => l.startsWith('Copying config ')).length, 1, r.stderr);
    // Each layer by its source digest (hello-oci's), and what it became.
    assert.match(r.stderr, /Copying blob fccbb0dab14a 16\.1 kB \(copied, compressed to [0-9a-f]{12}, [\d.]+ kB\)/);
    assert.match(r.stderr, /^Copied 3 blobs: 3 read from the source \(read [\d.]+ kB/m);
    // The same again through the same store: every line and the summary say "from the store".
    const again = ocikit(['--store', join(dir, 'store'), 'copy', '--dest-compress-format', 'zstd', src, `oci:${join(dir, 'a2')}:x`]);
    assert.equal(again.code, 0, again.stderr);
    const againLines = again.stderr.split('\n').filter((l) => l.startsWith('Copying '));
    assert.equal(againLines.length, 3, again.stderr);
    for (const l of againLines) assert.match(l, /\(from store/);
    assert.match(again.stderr, /^Copied 3 blobs: 3 from the store \(read 0 B, wrote [\d.]+ kB\) in /m);
    assert.doesNotMatch(r.stderr, /\x1b/, 'no escape sequences when stderr is not a terminal');
    const q = ocikit(['--store', join(dir, 'store2'), 'copy', '-q', '--dest-compress-format', 'zstd', src, `oci:${join(dir, 'b')}:x`]);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.stderr, '');
    assert.equal(q.stdout, '');
    const j = ocikit(['--store', join(dir, 'store3'), '--jobs', '1', 'copy', '-q', '--json', src, `oci:${join(dir, 'c')}:x`]);
    assert.equal(j.code, 0, j.stderr);
    assert.equal(j.stderr, '');
    const res = JSON.parse(j.stdout) as { manifestDigest: string; blobsCopied: number };
    assert.match(res.manifestDigest, /^sha256:[0-9a-f]{64}$/);
  });
});
