/**
 * lib/transports/leftovers.ts: what a killed writer left beside a destination (staging directories,
 * temp files, named by lib/fs/durable.ts) is removed by the next writer; what a live writer is
 * working on, and anything of another name, is never touched. And a lock of lib/transports/fs-util.ts
 * that a killed writer left, named or not, is taken over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../../lib/fs/durable.js';
import { sweepLeftovers } from '../../lib/transports/leftovers.js';
import { withLockFile } from '../../lib/transports/fs-util.js';
import { tempDir } from '../helpers/paths.js';

test("sweepLeftovers: a dead writer's staging directories and temp files go; a live one's and other names' stay", async () => {
  const dead = spawnSync('true').pid;
  assert.equal(processAlive(dead), false, 'a process that exited');
  const live = process.ppid;
  const dir = tempDir('ocikit-leftovers-');
  const layout = join(dir, 'layout');
  mkdirSync(layout);
  const beside = [
    `.layout.ocikit-${dead}-ab12`,
    `.layout.ocikit-${dead}-ab12.old`,
    `layout.${dead}.0.ee00.tmp`,
    `.layout.ocikit-${live}-cd34`,
    `layout.${live}.0.ff00.tmp`,
    `.other.ocikit-${dead}-aa`,
    `other.${dead}.0.aa.tmp`,
  ];
  const inside = [`index.json.${dead}.0.aa00.tmp`, `oci-layout.${dead}.1.bb00.tmp`, `index.json.${live}.2.cc00.tmp`, `blob.${dead}.0.dd00.tmp`, 'index.json'];
  for (const n of beside) {
    if (n.startsWith('.')) mkdirSync(join(dir, n));
    else writeFileSync(join(dir, n), '');
  }
  for (const n of inside) writeFileSync(join(layout, n), '');

  await sweepLeftovers(layout, ['index.json', 'oci-layout']);

  assert.deepEqual(readdirSync(dir).sort(), ['layout', `.layout.ocikit-${live}-cd34`, `layout.${live}.0.ff00.tmp`, `.other.ocikit-${dead}-aa`, `other.${dead}.0.aa.tmp`].sort());
  assert.deepEqual(readdirSync(layout).sort(), [`index.json.${live}.2.cc00.tmp`, `blob.${dead}.0.dd00.tmp`, 'index.json'].sort());
});

test("withLockFile: the lock names its holder; a dead holder's lock and an old unnamed one are taken over; a live holder and a fresh unnamed one are waited for", async () => {
  const dead = spawnSync('true').pid;
  const dir = tempDir('ocikit-lock-');
  const lock = join(dir, 'index.json.lock');

  // While held, the lock holds this pid, and nothing else sits beside it.
  const seen = await withLockFile(lock, async () => [readFileSync(lock, 'utf8'), readdirSync(dir)]);
  assert.deepEqual(seen, [String(process.pid), ['index.json.lock']]);
  assert.deepEqual(readdirSync(dir), [], 'released: no lock left');

  writeFileSync(lock, String(dead));
  assert.equal(await withLockFile(lock, async () => readFileSync(lock, 'utf8')), String(process.pid), "a dead holder's lock is taken over");

  // An empty lock is what a writer killed between creating it and writing its pid leaves: taken
  // over once it is a few seconds old, waited for before (its writer may be about to write).
  writeFileSync(lock, '');
  await assert.rejects(
    withLockFile(lock, async () => 'ran', 200),
    (err: Error) => err.message.includes('held by pid ?'),
  );
  const old = new Date(Date.now() - 60_000);
  utimesSync(lock, old, old);
  assert.equal(await withLockFile(lock, async () => 'ran'), 'ran');

  writeFileSync(lock, String(process.ppid));
  await assert.rejects(
    withLockFile(lock, async () => 'ran', 200),
    (err: Error) => err.message.includes(`held by pid ${process.ppid}`),
  );
  assert.deepEqual(readdirSync(dir), ['index.json.lock'], "a live holder's lock stays");
});
