/**
 * Progress on stderr: a line per blob (what CI logs want), and a closing summary. Never stdout:
 * stdout carries only results, so `copy ... docker-archive:/dev/stdout | ...` works.
 */
import type { CopyResult, ProgressEvent } from '../lib/copy/index.js';

function mb(n: number): string {
  return (n / 1e6).toFixed(1) + ' MB';
}

export class ProgressPrinter {
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly quiet: boolean,
  ) {}

  event(ev: ProgressEvent): void {
    if (this.quiet) return;
    switch (ev.type) {
      case 'blob-done': {
        const how = ev.how === 'reused-at-destination' ? 'skipped: already at destination' : ev.how === 'from-store' ? 'from store' : 'copied';
        const t = ev.transformed ? `, ${ev.transformed}` : '';
        this.out.write(`Copying blob ${ev.digest.slice(7, 19)} ${mb(ev.size)} (${how}${t})\n`);
        break;
      }
      case 'manifest':
        this.out.write(`Writing manifest ${ev.digest.slice(0, 19)}${ev.instance ? ' (instance)' : ''}\n`);
        break;
      default:
        break;
    }
  }

  done(res: CopyResult): void {
    if (this.quiet) return;
    const rate = res.seconds > 0 ? ` ${(res.bytesWritten / 1e6 / res.seconds).toFixed(1)} MB/s` : '';
    this.out.write(`Copied ${res.blobsCopied} blobs (${mb(res.bytesWritten)}${rate}), reused ${res.blobsReused}, in ${res.seconds.toFixed(2)} s: ${res.manifestDigest}\n`);
  }

  stop(): void {}
}
