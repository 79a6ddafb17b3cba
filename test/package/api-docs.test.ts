/**
 * The API reference: `npm run docs:api` generates it from the package's entry (lib/index.ts) with
 * typedoc, which fails on any warning (docs/typedoc.json), so a type the API names but does not
 * export fails here. Written to a temp dir, not docs/api/.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot, tempDir } from '../helpers/paths.js';

const npm = join(dirname(process.execPath), 'npm');

it('npm run docs:api documents the main exports, without a warning', () => {
  const out = join(tempDir('ocikit-api-'), 'api');
  const r = spawnSync(existsSync(npm) ? npm : 'npm', ['run', '--silent', 'docs:api', '--', '--out', out], { cwd: repoRoot, encoding: 'utf8' });
  const log = r.stdout + r.stderr;
  assert.equal(r.status, 0, log);
  assert.doesNotMatch(log, /warning/i);
  for (const page of [
    'functions/copyImage.html',
    'functions/openStore.html',
    'functions/parseImageName.html',
    'functions/openImage.html',
    'functions/gc.html',
    'classes/LazyStore.html',
    'classes/RegistryServer.html',
    'classes/OcikitError.html',
    'types/ProgressEvent.html',
    'interfaces/CopyOptions.html',
  ]) {
    assert.ok(existsSync(join(out, page)), `${page} is generated`);
  }
  // The doc comments come through: the event's `how` is explained where users look it up.
  assert.match(readFileSync(join(out, 'types/ProgressEvent.html'), 'utf8'), /reused-at-destination/);
});
