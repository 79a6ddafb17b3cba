import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { digestBytes, hexOf } from '../../lib/digest/index.js';
import { isOcikitError } from '../../lib/errors.js';
import { BlobStore, defaultStoreDir, INDEX_FILE } from '../../lib/store/index.js';
import tarStream from 'tar-stream';
import { tempDir } from '../helpers/paths.js';

function openTemp(): BlobStore {
  return BlobStore.open(join(tempDir('ocikit-store-'), 'store'));
}

/** Deterministic bytes of a given size. */
function bytesOf(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (seed.charCodeAt(i % seed.length) + i * 31) & 0xff;
  return out;
}

function chunked(data: Buffer, chunk = 1000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  return Readable.from(parts);
}

function listing(store: BlobStore): { blobs: string[]; tmp: string[] } {
  return {
    blobs: readdirSync(join(store.root, 'blobs', 'sha256')),
    tmp: readdirSync(join(store.root, 'tmp')),
  };
}

async function rejectsWith(p: Promise<unknown>, code: string, mention?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isOcikitError(err), `want an OcikitError, got ${String(err)}`);
    assert.equal((err as { code: string }).code, code);
    if (mention) assert.match((err as Error).message, new RegExp(mention));
    return true;
  });
}

test('open: creates blobs/ and tmp/; the versioned index file on first use (SQLite loads only when used)', () => {
  const store = openTemp();
  try {
    assert.ok(existsSync(join(store.root, 'blobs', 'sha256')));
    assert.ok(existsSync(join(store.root, 'tmp')));
    assert.equal(existsSync(join(store.root, INDEX_FILE)), false, 'not opened yet');
    assert.deepEqual(store.refs(), []);
    assert.ok(existsSync(join(store.root, INDEX_FILE)));
    assert.equal(INDEX_FILE, 'index-v1.sqlite');
  } finally {
    store.close();
  }
});

test('open: a path blocked by a file fails with E_STORE and a hint', () => {
  const dir = tempDir('ocikit-store-');
  const blocker = join(dir, 'not-a-dir');
  writeFileSync(blocker, 'x');
  assert.throws(
    () => BlobStore.open(join(blocker, 'store')),
    (err: unknown) => isOcikitError(err, 'E_STORE') && /opening the blob store/.test((err as Error).message) && (err as { hint?: string }).hint !== undefined,
  );
});

test('open: an index file that is not SQLite fails with E_STORE on first use', () => {
  const root = join(tempDir('ocikit-store-'), 'store');
  const first = BlobStore.open(root);
  first.refs();
  first.close();
  writeFileSync(join(root, INDEX_FILE), Buffer.alloc(4096, 7));
  for (const f of ['-wal', '-shm']) {
    if (existsSync(join(root, INDEX_FILE + f))) writeFileSync(join(root, INDEX_FILE + f), '');
  }
  const store = BlobStore.open(root);
  try {
    assert.throws(
      () => store.refs(),
      (err: unknown) => isOcikitError(err, 'E_STORE'),
    );
  } finally {
    store.close();
  }
});

test('defaultStoreDir: OCIKIT_STORE, then absolute XDG_DATA_HOME, then ~/.local/share', () => {
  assert.equal(defaultStoreDir({ OCIKIT_STORE: '/s', XDG_DATA_HOME: '/x', HOME: '/h' }), '/s');
  assert.equal(defaultStoreDir({ XDG_DATA_HOME: '/x', HOME: '/h' }), '/x/ocikit');
  assert.equal(defaultStoreDir({ XDG_DATA_HOME: 'relative', HOME: '/h' }), '/h/.local/share/ocikit');
  assert.equal(defaultStoreDir({ HOME: '/h' }), '/h/.local/share/ocikit');
});

test('put: a stream with the right digest lands read-only at blobs/sha256/<hex> and reads back', async () => {
  const store = openTemp();
  try {
    const data = bytesOf('layer', 300_000);
    const want = digestBytes(data);
    const got = await store.put(chunked(data), { digest: want, size: data.length, what: 'test layer', mediaType: 'application/x-test' });
    assert.equal(got.digest, want);
    assert.equal(got.size, data.length);
    assert.equal(got.path, join(store.root, 'blobs', 'sha256', hexOf(want)));
    assert.equal(store.pathOf(want), got.path);
    assert.equal(statSync(got.path).mode & 0o777, 0o444);
    assert.deepEqual(store.stat(want), { size: data.length, path: got.path });
    assert.equal(store.has(want), true);
    assert.deepEqual(await store.readBytes(want), data);
    const chunks: Buffer[] = [];
    for await (const c of store.open(want)) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), data);
    assert.equal(store.index.getBlob.get(want)?.media_type, 'application/x-test');
    assert.deepEqual(listing(store).tmp, []);
  } finally {
    store.close();
  }
});

test('put: a wrong digest fails with E_DIGEST_MISMATCH naming what, and leaves no file in blobs/ or tmp/', async () => {
  const store = openTemp();
  try {
    const data = bytesOf('a', 50_000);
    const wrong = digestBytes('something else');
    await rejectsWith(store.put(chunked(data), { digest: wrong, what: 'layer 3 of oci:/x' }), 'E_DIGEST_MISMATCH', 'layer 3 of oci:/x');
    await rejectsWith(store.put(data, { digest: wrong, what: 'bytes of oci:/x' }), 'E_DIGEST_MISMATCH', 'bytes of oci:/x');
    assert.deepEqual(listing(store), { blobs: [], tmp: [] });
    assert.equal(store.has(wrong), false);
    assert.equal(store.index.allBlobs.all().length, 0);
  } finally {
    store.close();
  }
});

test('put: a short stream fails with E_SIZE_MISMATCH and leaves no file in blobs/ or tmp/', async () => {
  const store = openTemp();
  try {
    const data = bytesOf('b', 50_000);
    const want = digestBytes(data);
    await rejectsWith(store.put(chunked(data.subarray(0, 40_000)), { digest: want, size: data.length, what: 'truncated layer' }), 'E_SIZE_MISMATCH', 'truncated layer');
    // A stream longer than declared fails too, as soon as the excess arrives.
    await rejectsWith(store.put(chunked(Buffer.concat([data, data])), { digest: want, size: data.length, what: 'long layer' }), 'E_SIZE_MISMATCH');
    assert.deepEqual(listing(store), { blobs: [], tmp: [] });
  } finally {
    store.close();
  }
});

test('put: a stream failing before its tmp file has finished opening leaves no tmp file behind', async () => {
  const store = openTemp();
  try {
    for (let i = 0; i < 100; i++) {
      // The first chunk already exceeds the size: the verifier fails while the file is opening.
      await rejectsWith(store.put(Readable.from([Buffer.alloc(1000)]), { size: 10, what: 'oversized' }), 'E_SIZE_MISMATCH');
      // Nothing left once put has settled: no cleanup may still be on its way.
      assert.deepEqual(listing(store), { blobs: [], tmp: [] }, `after put ${i}`);
    }
  } finally {
    store.close();
  }
});

test('put: a source stream that errors midway fails with its error and leaves nothing behind', async () => {
  const store = openTemp();
  try {
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(1000, 1);
      throw new Error('connection reset');
    }
    await assert.rejects(store.put(Readable.from(broken()), { what: 'blob from a flaky peer' }), /connection reset/);
    assert.deepEqual(listing(store), { blobs: [], tmp: [] });
  } finally {
    store.close();
  }
});

test('put: without a digest up front, the digest is computed and the file renamed at the end', async () => {
  const store = openTemp();
  try {
    const data = bytesOf('c', 10_000);
    const got = await store.put(chunked(data), { what: 'unnamed blob' });
    assert.equal(got.digest, digestBytes(data));
    assert.deepEqual(listing(store), { blobs: [hexOf(got.digest)], tmp: [] });
  } finally {
    store.close();
  }
});

test('put from path: copies, hashes the copy, and leaves the source alone', async () => {
  const store = openTemp();
  try {
    const src = join(tempDir('ocikit-src-'), 'layer.tar');
    const data = bytesOf('d', 123_456);
    writeFileSync(src, data);
    const want = digestBytes(data);
    const got = await store.put({ path: src }, { digest: want, size: data.length, what: 'layer file' });
    assert.equal(got.digest, want);
    assert.deepEqual(readFileSync(got.path), data);
    assert.notEqual(statSync(got.path).ino, statSync(src).ino);
    // Already stored: returns without reading the source at all (even if it is gone now).
    const again = await store.put({ path: join(src, 'does-not-exist') }, { digest: want, what: 'layer file' });
    assert.equal(again.path, got.path);
    // A file whose content does not match fails and leaves nothing.
    writeFileSync(src, 'tampered');
    await rejectsWith(store.put({ path: src }, { digest: digestBytes('other'), what: 'tampered file' }), 'E_DIGEST_MISMATCH', 'tampered file');
    await rejectsWith(store.put({ path: src }, { size: 3, what: 'sized file' }), 'E_SIZE_MISMATCH');
    assert.deepEqual(listing(store), { blobs: [hexOf(want)], tmp: [] });
  } finally {
    store.close();
  }
});

test('put: a digest already stored drains the stream and writes nothing', async () => {
  const store = openTemp();
  try {
    const data = bytesOf('e', 20_000);
    const want = digestBytes(data);
    const first = await store.put(data, { digest: want, what: 'blob' });
    const ino = statSync(first.path).ino;
    const stream = chunked(data);
    const second = await store.put(stream, { digest: want, what: 'blob' });
    assert.equal(second.path, first.path);
    assert.equal(stream.readableEnded, true);
    assert.equal(statSync(first.path).ino, ino);
    // A size claim that contradicts the stored blob of that digest is an error.
    await rejectsWith(store.put(data, { digest: want, size: 5, what: 'mis-sized' }), 'E_SIZE_MISMATCH');
  } finally {
    store.close();
  }
});

test('put: two concurrent writers of one digest in one process leave one intact blob', async () => {
  const store = openTemp();
  try {
    const data = bytesOf('f', 2_000_000);
    const want = digestBytes(data);
    const results = await Promise.all([
      store.put(chunked(data, 4096), { digest: want, what: 'racer 1' }),
      store.put(chunked(data, 8192), { digest: want, what: 'racer 2' }),
      store.put(data, { digest: want, what: 'racer 3' }),
      store.put(chunked(data, 65536), { what: 'racer 4 (no digest)' }),
    ]);
    for (const r of results) assert.equal(r.digest, want);
    assert.deepEqual(listing(store), { blobs: [hexOf(want)], tmp: [] });
    assert.equal(digestBytes(readFileSync(store.pathOf(want))), want);
    assert.deepEqual(store.stat(want), { size: data.length, path: store.pathOf(want) });
  } finally {
    store.close();
  }
});

test('open/readBytes/linkTo: an absent blob is E_NOT_FOUND', async () => {
  const store = openTemp();
  try {
    const absent = digestBytes('absent');
    assert.equal(store.stat(absent), undefined);
    assert.throws(
      () => store.open(absent),
      (err: unknown) => isOcikitError(err, 'E_NOT_FOUND'),
    );
    await rejectsWith(store.readBytes(absent), 'E_NOT_FOUND');
    await rejectsWith(store.linkTo(absent, join(tempDir(), 'x')), 'E_NOT_FOUND');
  } finally {
    store.close();
  }
});

test('readBytes: a blob over maxSize is refused with E_MANIFEST_TOO_BIG', async () => {
  const store = openTemp();
  try {
    const { digest } = await store.put(Buffer.alloc(2000, 1), { what: 'big' });
    await rejectsWith(store.readBytes(digest, 1000), 'E_MANIFEST_TOO_BIG');
    assert.equal((await store.readBytes(digest, 2000)).length, 2000);
  } finally {
    store.close();
  }
});

test('linkTo: on ext4 falls back to a hard link, and refuses an existing destination', async () => {
  const store = openTemp();
  try {
    const data = bytesOf('g', 5000);
    const { digest, path } = await store.put(data, { what: 'blob' });
    const destDir = tempDir('ocikit-dest-');
    const dest = join(destDir, 'blob');
    const how = await store.linkTo(digest, dest);
    assert.ok(how === 'reflink' || how === 'hardlink', `got ${how}`);
    if (how === 'hardlink') assert.equal(statSync(dest).ino, statSync(path).ino);
    assert.deepEqual(readFileSync(dest), data);
    await rejectsWith(store.linkTo(digest, dest), 'E_IO');
    assert.deepEqual(readFileSync(dest), data);
  } finally {
    store.close();
  }
});

test('linkTo then an in-place write at the destination: the store never serves the changed bytes, and a fresh put restores the blob', async () => {
  const store = openTemp();
  try {
    const data = bytesOf('h', 100_000);
    const want = digestBytes(data);
    await store.put(data, { digest: want, what: 'layer' });
    const dest = join(tempDir('ocikit-dest-'), 'layer');
    const how = await store.linkTo(want, dest);
    assert.equal(how, 'hardlink', 'this test needs a filesystem without reflinks (ext4)');
    // Right away, within the same clock tick as the put if it can: an in-place write through the
    // destination's link changes the store's inode.
    chmodSync(dest, 0o644);
    appendFileSync(dest, 'x');
    assert.equal(store.stat(want), undefined);
    assert.equal(existsSync(store.pathOf(want)), false);
    assert.equal(store.index.getBlob.get(want), undefined);
    assert.equal(readFileSync(dest).length, data.length + 1, 'the destination keeps its own edit');
    // The blob is refetched: a fresh put restores it.
    const again = await store.put(data, { digest: want, what: 'layer' });
    assert.deepEqual(readFileSync(again.path), data);
    assert.deepEqual(store.stat(want), { size: data.length, path: again.path });
  } finally {
    store.close();
  }
});

test('stat: a same-size in-place rewrite through a hard link is caught by the mtime stamp', async () => {
  const store = openTemp();
  try {
    const data = bytesOf('i', 4096);
    const want = digestBytes(data);
    await store.put(data, { digest: want, what: 'config' });
    const dest = join(tempDir('ocikit-dest-'), 'config');
    await store.linkTo(want, dest);
    const flipped = Buffer.from(data);
    flipped[0] = flipped[0]! ^ 0xff;
    chmodSync(dest, 0o644);
    writeFileSync(dest, flipped); // truncate + write: same inode, same size
    assert.equal(store.has(want), false);
    assert.equal(store.index.getBlob.get(want), undefined);
  } finally {
    store.close();
  }
});

test('stat: a touched but unchanged blob is re-hashed once, kept, and its new mtime recorded', async () => {
  const store = openTemp();
  try {
    const { digest, path } = await store.put(bytesOf('j', 3000), { what: 'blob' });
    const { utimesSync } = await import('node:fs');
    utimesSync(path, new Date(), new Date());
    const before = store.index.getBlob.get(digest)!.mtime_ms;
    assert.notEqual(before, statSync(path).mtimeMs);
    assert.deepEqual(store.stat(digest), { size: 3000, path });
    assert.equal(store.index.getBlob.get(digest)!.mtime_ms, statSync(path).mtimeMs);
  } finally {
    store.close();
  }
});

test('stat: a blob file without a row (a put that crashed after rename) is adopted after hashing', async () => {
  const store = openTemp();
  try {
    const { digest, path } = await store.put(bytesOf('k', 3000), { what: 'blob' });
    store.index.deleteBlob.run(digest);
    assert.deepEqual(store.stat(digest), { size: 3000, path });
    assert.equal(store.index.getBlob.get(digest)?.size, 3000);
  } finally {
    store.close();
  }
});

test('refs: set, get, list, replace, delete', async () => {
  const store = openTemp();
  try {
    const a = digestBytes('a');
    const b = digestBytes('b');
    store.setRef('docker.io/library/busybox:latest', a);
    store.setRef('example.com/x:1', b);
    assert.equal(store.getRef('docker.io/library/busybox:latest'), a);
    store.setRef('docker.io/library/busybox:latest', b);
    assert.deepEqual(
      store.refs().map((r) => [r.name, r.digest]),
      [
        ['docker.io/library/busybox:latest', b],
        ['example.com/x:1', b],
      ],
    );
    store.deleteRef('example.com/x:1');
    assert.equal(store.getRef('example.com/x:1'), undefined);
    assert.throws(
      () => store.setRef('bad', 'sha256:nothex'),
      (err: unknown) => isOcikitError(err, 'E_BAD_INPUT'),
    );
  } finally {
    store.close();
  }
});

test('close: later calls fail with E_STORE; close twice is fine', async () => {
  const store = openTemp();
  store.close();
  store.close();
  assert.throws(
    () => store.stat(digestBytes('x')),
    (err: unknown) => isOcikitError(err, 'E_STORE'),
  );
  await rejectsWith(store.put(Buffer.from('x'), { what: 'late' }), 'E_STORE');
});

test('put from path with move: the handed-over file is renamed in (same inode), still verified', async () => {
  const dir = tempDir('ocikit-store-move-');
  const store = BlobStore.open(join(dir, 'store'));
  try {
    const data = Buffer.from('a worker wrote this layer');
    const src = join(store.root, 'tmp', 'worker-output.tmp');
    writeFileSync(src, data);
    const ino = statSync(src).ino;
    const got = await store.put({ path: src, move: true }, { digest: digestBytes(data), size: data.length, what: 'moved blob' });
    assert.equal(got.digest, digestBytes(data));
    assert.equal(statSync(got.path).ino, ino, 'renamed, not copied');
    assert.equal(existsSync(src), false);
    // A handed-over file whose content is not what the worker claimed is refused and removed.
    const bad = join(store.root, 'tmp', 'worker-bad.tmp');
    writeFileSync(bad, 'something else');
    await assert.rejects(store.put({ path: bad, move: true }, { digest: digestBytes('claimed'), size: 14, what: 'moved blob' }), (err) => isOcikitError(err));
    assert.deepEqual(readdirSync(join(store.root, 'tmp')), []);
    assert.equal(existsSync(store.pathOf(digestBytes('claimed'))), false);
  } finally {
    store.close();
  }
});

test('put from a tar entry (a streamx stream) destroyed before its bytes are read: rejects, nothing kept', { timeout: 10_000 }, async () => {
  // A daemon export cut mid-member destroys the entry while put awaits its tmp file: node's
  // pipeline never settled on such a stream, the CLI's event loop emptied and it exited 0.
  const store = openTemp();
  try {
    const pack = tarStream.pack();
    pack.entry({ name: 'layer.tar', size: 4096 }, bytesOf('layer', 4096));
    pack.finalize();
    const extract = tarStream.extract();
    // Destroying an entry destroys its extract too (tar-stream): that error is not this test's.
    extract.on('error', () => undefined);
    const put = new Promise<unknown>((resolve) => {
      extract.on('entry', (_h, entry) => {
        entry.on('error', () => undefined);
        const p = store.put(entry as unknown as NodeJS.ReadableStream, { size: 4096, what: 'entry' });
        entry.destroy(new Error('the export stopped'));
        resolve(
          p.then(
            () => 'stored',
            (err: unknown) => err,
          ),
        );
      });
    });
    pack.pipe(extract);
    const got = await put;
    assert.ok(isOcikitError(got, 'E_IO') && /storing entry/.test(got.message), `want E_IO naming the entry, got ${String(got)}`);
    assert.deepEqual(listing(store), { blobs: [], tmp: [] });
  } finally {
    store.close();
  }
});
