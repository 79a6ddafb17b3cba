/**
 * Test runner: Node 20's `node --test` takes no globs and finds no compiled tests on its own, so this
 * lists every compiled *.test.js under dist/test and runs them with the node:test runner.
 * Pass substrings to run a subset: `node dist/test/run.js store manifest`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePeers } from '../support/peers.js';

const here = dirname(fileURLToPath(import.meta.url));

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

// The setup: install the real peers (skopeo, umoci, docker-registry, dockerd, podman, ...) once,
// before any test runs, so no two test files race on apt.
try {
  ensurePeers();
} catch (err) {
  console.error(String((err as Error).message));
  process.exit(1);
}

const filters = process.argv.slice(2);
const files = walk(here, []).filter((f) => filters.length === 0 || filters.some((s) => relative(here, f).includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.OCIKIT_TEST_CONCURRENCY ?? '2';
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
// The store may hard-link fixture blobs (old files owned by us on its filesystem) instead of
// copying them: a test that wrote into a stored or copied blob in place would damage the
// fixture itself. Every fixture blob must still hash to its name.
const damaged = damagedFixtureBlobs(join(here, '..', '..', 'fixtures'));
if (damaged.length > 0) {
  console.error(`fixture blobs changed by the tests (a write through a hard link?): ${damaged.join(', ')}`);
  process.exit(1);
}
process.exit(r.status ?? 1);

function damagedFixtureBlobs(root: string): string[] {
  const bad: string[] = [];
  const visit = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) visit(p);
      else if (/\/blobs\/sha256\/[0-9a-f]{64}$/.test(p) && createHash('sha256').update(readFileSync(p)).digest('hex') !== name) bad.push(relative(root, p));
    }
  };
  visit(root);
  return bad;
}
