import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isOcikitError } from '../../lib/errors.js';
import { BlobStore, INDEX_FILE, LazyStore, LeasedStore, gc, type StoreHandle } from '../../lib/store/index.js';
import { tempDir } from '../helpers/paths.js';

test('handle: nothing is created until get(), and close() of a handle never opened creates nothing', () => {
  const dir = join(tempDir('ocikit-handle-'), 'store');
  const h = new LazyStore(dir);
  assert.equal(h.root, dir);
  assert.equal(h.opened(), undefined);
  assert.equal(existsSync(dir), false, 'a handle alone makes no directory');
  h.close();
  assert.equal(existsSync(dir), false, 'nor does closing it');
});

test('handle: get() opens once (directories, not the index), opened() then answers the same store', async () => {
  const dir = join(tempDir('ocikit-handle-'), 'store');
  const h = new LazyStore(dir);
  try {
    const s = h.get();
    assert.ok(existsSync(join(dir, 'blobs', 'sha256')) && existsSync(join(dir, 'tmp')));
    assert.equal(existsSync(join(dir, INDEX_FILE)), false, 'the index opens when the store is first asked something');
    assert.equal(h.get(), s);
    assert.equal(h.opened(), s);
    const put = await s.put(Buffer.from('hello'), { what: 'a test blob' });
    assert.ok(existsSync(join(dir, INDEX_FILE)));
    assert.equal(h.get().has(put.digest), true);
  } finally {
    h.close();
  }
});

test('handle: after close(), get() is E_STORE and opened() undefined; the store it opened is closed', () => {
  const h = new LazyStore(join(tempDir('ocikit-handle-'), 'store'));
  const s = h.get();
  h.close();
  h.close();
  assert.equal(h.opened(), undefined);
  assert.throws(
    () => h.get(),
    (err: unknown) => isOcikitError(err, 'E_STORE') && /closed/.test((err as Error).message),
  );
  assert.throws(
    () => s.refs(),
    (err: unknown) => isOcikitError(err, 'E_STORE'),
  );
});

test('handle: a directory that cannot be a store fails get() with E_STORE and its hint, every time, and leaves nothing', () => {
  const parent = tempDir('ocikit-handle-');
  const file = join(parent, 'a-file');
  writeFileSync(file, 'not a directory');
  const h = new LazyStore(join(file, 'store'));
  for (let i = 0; i < 2; i++) {
    assert.throws(
      () => h.get(),
      (err: unknown) => isOcikitError(err, 'E_STORE') && /OCIKIT_STORE/.test(String((err as { hint?: string }).hint)),
    );
  }
  assert.equal(h.opened(), undefined);
  h.close();
});

test('handle: an open BlobStore is its own handle', () => {
  const s = BlobStore.open(join(tempDir('ocikit-handle-'), 'store'));
  const h: StoreHandle = s;
  assert.equal(h.get(), s);
  assert.equal(h.opened(), s);
  s.close();
  assert.equal(h.opened(), undefined);
});

test('leased handle: opens nothing and takes no lease until the store is needed; then gc keeps what it used until release()', async () => {
  // The store's clock, moved by hand between the steps whose order gc judges by time.
  let now = 1_000_000;
  const dir = join(tempDir('ocikit-handle-'), 'store');
  const owner = new LazyStore(dir, { now: () => now });
  const leased = new LeasedStore(owner);
  try {
    assert.equal(leased.opened(), undefined);
    assert.equal(existsSync(dir), false, 'nothing opened before something needs the store');
    const before = await owner.get().put(Buffer.from('put before the operation needed the store'), { what: 'a test blob' });
    now += 1;
    const during = await leased.get().put(Buffer.from('put by the operation'), { what: 'a test blob' });
    assert.equal(leased.get(), owner.get());
    const other = BlobStore.open(dir);
    try {
      assert.deepEqual((await gc(other)).removed, [before.digest], 'the operation holds a lease from its first use of the store');
      leased.release();
      leased.release();
      assert.deepEqual((await gc(other)).removed, [during.digest]);
    } finally {
      other.close();
    }
  } finally {
    owner.close();
  }
});

test('leased handle: a store already open is leased when the operation first finds it through opened()', async () => {
  let now = 1_000_000;
  const dir = join(tempDir('ocikit-handle-'), 'store');
  const s = BlobStore.open(dir, { now: () => now });
  const leased = new LeasedStore(s);
  try {
    now += 1;
    const during = await leased.opened()!.put(Buffer.from('recorded where the store was open anyway'), { what: 'a test blob' });
    const other = BlobStore.open(dir);
    try {
      assert.deepEqual((await gc(other)).removed, []);
      leased.release();
      assert.deepEqual((await gc(other)).removed, [during.digest]);
    } finally {
      other.close();
    }
  } finally {
    s.close();
  }
});
