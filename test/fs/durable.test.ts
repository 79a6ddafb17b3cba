/**
 * lib/fs/durable.ts: temp names and what they tell gc and the leftover sweep, atomic writes that
 * leave nothing behind when they fail, modes, and create-only files. That the fsyncs happen, in the
 * right order, is checked on the system calls in test/copy/durability.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isOcikitError } from '../../lib/errors.js';
import { atomicWriteFile, createNewFile, forgetCleanup, makeStagingDir, placeAtomically, processAlive, stagingWriter, tempNameFor, tempWriter, writeNewFile } from '../../lib/fs/durable.js';
import { tempDir } from '../helpers/paths.js';

test('tempNameFor: a unique name next to the file, which tempWriter reads back (final name and pid)', () => {
  const dir = tempDir('ocikit-durable-');
  const final = join(dir, 'index.json');
  const a = tempNameFor(final);
  const b = tempNameFor(final);
  assert.notEqual(a, b);
  assert.equal(dirname(a), dir);
  assert.deepEqual(tempWriter(a), { final: 'index.json', pid: process.pid });
  assert.deepEqual(tempWriter(basename(b)), { final: 'index.json', pid: process.pid });
  // A store tmp name (stem.pid.thread.random.tmp) reads the same way.
  assert.deepEqual(tempWriter('0123abcd.4242.3.00ff00ff.tmp'), { final: '0123abcd', pid: 4242 });
  for (const other of ['index.json', 'index.json.tmp', 'x.12.tmp', 'x.12.3.tmp', 'x.12.3.XYZ.tmp', 'x.a.3.ff.tmp']) assert.equal(tempWriter(other), undefined, other);
});

test('makeStagingDir: a directory beside the target, which stagingWriter reads back, also as the .old set aside', async () => {
  const dir = tempDir('ocikit-durable-');
  const target = join(dir, 'layout');
  const staging = await makeStagingDir(target);
  forgetCleanup(staging);
  assert.ok(statSync(staging).isDirectory());
  assert.equal(dirname(staging), dir);
  assert.equal(stagingWriter(basename(staging), 'layout'), process.pid);
  assert.equal(stagingWriter(`${basename(staging)}.old`, 'layout'), process.pid);
  assert.equal(stagingWriter(basename(staging), 'other'), undefined);
  assert.equal(stagingWriter('.layout.ocikit-x-ff', 'layout'), undefined);
});

test('processAlive: this process is; no pid that is not a positive integer is (0 would signal the whole group)', () => {
  assert.equal(processAlive(process.pid), true);
  for (const pid of [0, -1, 1.5, Number.NaN]) assert.equal(processAlive(pid), false, String(pid));
});

test('atomicWriteFile: the whole content under the name, replacing the old, and no temp file left', async () => {
  const dir = tempDir('ocikit-durable-');
  const path = join(dir, 'index.json');
  writeFileSync(path, 'old');
  await atomicWriteFile(path, '{"new":true}');
  assert.equal(readFileSync(path, 'utf8'), '{"new":true}');
  await atomicWriteFile(path, Buffer.from('bytes'), { sync: false, syncDir: true });
  assert.equal(readFileSync(path, 'utf8'), 'bytes');
  assert.deepEqual(readdirSync(dir), ['index.json']);
});

test('atomicWriteFile: exactMode sets the mode whatever the umask; without it the umask applies', async () => {
  const dir = tempDir('ocikit-durable-');
  const old = process.umask(0o277);
  try {
    await atomicWriteFile(join(dir, 'private'), 'secret', { mode: 0o600, exactMode: true });
    await atomicWriteFile(join(dir, 'plain'), 'x', { mode: 0o644 });
  } finally {
    process.umask(old);
  }
  assert.equal(statSync(join(dir, 'private')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'plain')).mode & 0o777, 0o400);
});

test('atomicWriteFile: a failure is E_IO naming the file, and leaves the old content and no temp file', async () => {
  const dir = tempDir('ocikit-durable-');
  const path = join(dir, 'sub');
  writeFileSync(path, 'a file, not a directory');
  await assert.rejects(atomicWriteFile(join(path, 'x'), 'y'), (err) => isOcikitError(err, 'E_IO') && (err as Error).message.startsWith(`writing ${join(path, 'x')}: `));
  // The rename fails (onto a directory): the temp file it would have renamed is gone too.
  const target = join(dir, 'is-a-dir');
  writeFileSync(join(dir, 'keep'), 'kept');
  mkdirSync(target);
  await assert.rejects(atomicWriteFile(target, 'y'), (err) => isOcikitError(err, 'E_IO'));
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.endsWith('.tmp')),
    [],
  );
  assert.equal(readFileSync(join(dir, 'keep'), 'utf8'), 'kept');
});

test('placeAtomically: what fill throws comes back as it was, with the temp file removed and the old file kept', async () => {
  const dir = tempDir('ocikit-durable-');
  const final = join(dir, 'blob');
  writeFileSync(final, 'old');
  const boom = new Error('verifier said no');
  await assert.rejects(
    placeAtomically(final, async (tmp) => {
      await writeNewFile(tmp, 'half');
      throw boom;
    }),
    (err) => err === boom,
  );
  assert.deepEqual(readdirSync(dir), ['blob']);
  assert.equal(readFileSync(final, 'utf8'), 'old');
  await placeAtomically(final, (tmp) => writeNewFile(tmp, 'new', { sync: false }));
  assert.equal(readFileSync(final, 'utf8'), 'new');
});

test('writeNewFile: never replaces a file (the temp name must be new)', async () => {
  const dir = tempDir('ocikit-durable-');
  writeFileSync(join(dir, 'x'), 'there');
  await assert.rejects(writeNewFile(join(dir, 'x'), 'y'), (err) => (err as NodeJS.ErrnoException).code === 'EEXIST');
  assert.equal(readFileSync(join(dir, 'x'), 'utf8'), 'there');
});

test('createNewFile: creates the file whole, and refuses an existing one (E_CONFLICT) without touching it', async () => {
  const dir = tempDir('ocikit-durable-');
  const path = join(dir, 'key.pub');
  await createNewFile(path, 'public key', { mode: 0o644 });
  assert.equal(readFileSync(path, 'utf8'), 'public key');
  await assert.rejects(createNewFile(path, 'another key'), (err) => isOcikitError(err, 'E_CONFLICT') && /refusing to overwrite/.test((err as Error).message));
  assert.equal(readFileSync(path, 'utf8'), 'public key');
  assert.deepEqual(readdirSync(dir), ['key.pub']);
  assert.equal(existsSync(join(dir, 'missing', 'x')), false);
  await assert.rejects(createNewFile(join(dir, 'missing', 'x'), 'y'), (err) => isOcikitError(err, 'E_IO'));
});
