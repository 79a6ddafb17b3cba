/**
 * Test runner: Node 20's `node --test` takes no globs and finds no compiled tests on its own, so this
 * lists every compiled *.test.js under dist/test and runs them with the node:test runner.
 * Pass substrings to run a subset: `node dist/test/run.js store manifest`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePeers } from './helpers/peers.js';

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
process.exit(r.status ?? 1);
