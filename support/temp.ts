/** Temp dirs for tests and the bench: each removed when the process exits (kept with OCIKIT_KEEP_TMP=1). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
/** A fresh temp dir, removed when the process exits. */
export function tempDir(prefix = 'ocikit-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
process.on('exit', () => {
  if (process.env.OCIKIT_KEEP_TMP) return;
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
