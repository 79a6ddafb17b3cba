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
/**
 * The CLI as it ships, an executable: package.json's bin, the launcher npm run build writes
 * (build/snapshot.ts), which starts the CLI from its start-up snapshot where this Node has one.
 */
export const cliPath = join(repoRoot, 'dist', 'bin', 'ocikit');

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
