/** Paths for tests: the repository root (found by walking up to package.json) and temp dirs removed after the test. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

/** The repository root (where package.json is). */
export const repoRoot = findRoot();
/** A path under fixtures/. */
export const fixture = (...parts: string[]): string => join(repoRoot, 'fixtures', ...parts);
/** The compiled CLI entry point. */
/** The CLI as it ships: the bundle npm run build makes (package.json's bin). */
export const cliPath = join(repoRoot, 'dist', 'bin', 'main.js');

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
