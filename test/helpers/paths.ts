/** Paths for tests: the repository root (found by walking up to package.json) and temp dirs removed after the test. */
import { existsSync } from 'node:fs';
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

/** Temp dirs (support/temp.ts, shared with the bench). */
export { tempDir } from '../../support/temp.js';
