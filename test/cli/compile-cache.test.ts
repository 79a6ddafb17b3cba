/**
 * The CLI enables Node's compile cache where Node has one (22.1+) and runs as before where it does
 * not (Node 20); an unusable cache directory never fails or hangs a command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { cliPath, tempDir } from '../helpers/paths.js';

const hasCache = typeof (module as unknown as { enableCompileCache?: unknown }).enableCompileCache === 'function';

function run(env: NodeJS.ProcessEnv): ReturnType<typeof spawnSync> {
  const clean = { ...process.env };
  delete clean.NODE_COMPILE_CACHE;
  delete clean.NODE_DISABLE_COMPILE_CACHE;
  return spawnSync(cliPath, ['--version'], { encoding: 'utf8', env: { ...clean, ...env }, timeout: 20_000, killSignal: 'SIGKILL' });
}

test(`compile cache: ${hasCache ? 'used' : 'absent on this Node, the fallback'} (Node ${process.version})`, () => {
  const cacheHome = tempDir('ocikit-cc-');
  const r = run({ XDG_CACHE_HOME: cacheHome });
  assert.equal(r.status, 0, String(r.stderr));
  assert.equal(r.stdout, 'ocikit version 0.1.0\n');
  const dir = join(cacheHome, 'ocikit', 'node-compile-cache');
  if (hasCache) {
    assert.ok(existsSync(dir), 'the cache directory was made');
    assert.ok(
      readdirSync(dir).some((d) => d.startsWith(`${process.version}-`)),
      `a cache for ${process.version}: ${readdirSync(dir).join(', ')}`,
    );
  } else {
    assert.equal(existsSync(join(cacheHome, 'ocikit')), false, 'nothing is written where Node has no compile cache');
  }
  const off = tempDir('ocikit-cc-off-');
  assert.equal(run({ XDG_CACHE_HOME: off, NODE_DISABLE_COMPILE_CACHE: '1' }).status, 0);
  assert.equal(existsSync(join(off, 'ocikit')), false, 'NODE_DISABLE_COMPILE_CACHE is honoured');
});

test('compile cache: a cache directory that cannot be made (under /proc) neither fails nor hangs the command', () => {
  const r = run({ XDG_CACHE_HOME: '/proc/ocikit-nope' });
  assert.equal(r.signal, null, 'still running after 20 s (killed)');
  assert.equal(r.status, 0, String(r.stderr));
  assert.equal(r.stdout, 'ocikit version 0.1.0\n');
});
