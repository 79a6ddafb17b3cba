import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, openSync, closeSync, readdirSync, statSync, unlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { digestBytes, type Digest } from '../../lib/digest/index.js';
import { BlobStore, du, gc, ls, manifestChildren, verify } from '../../lib/store/index.js';
import { tempDir } from '../helpers/paths.js';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER_GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';

function openTemp(): BlobStore {
  return BlobStore.open(join(tempDir('ocikit-maint-'), 'store'));
}

async function putText(store: BlobStore, text: string, mediaType?: string): Promise<{ digest: Digest; size: number }> {
  const { digest, size } = await store.put(Buffer.from(text), { what: 'test blob', mediaType });
  return { digest, size };
}

async function putJson(store: BlobStore, doc: unknown, mediaType: string): Promise<{ digest: Digest; size: number }> {
  return putText(store, JSON.stringify(doc), mediaType);
}

/** An image: config + layers, its manifest; returns every digest and the manifest descriptor. */
async function putImage(store: BlobStore, name: string, extraLayers: Array<{ digest: Digest; size: number }> = []) {
  const config = await putJson(store, { architecture: 'amd64', os: 'linux', name }, OCI_CONFIG);
  const layer1 = await putText(store, `${name} layer 1`);
  const layer2 = await putText(store, `${name} layer 2`);
  const layers = [layer1, layer2, ...extraLayers];
  const manifest = await putJson(
    store,
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, ...config },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER_GZ, ...l })),
    },
    OCI_MANIFEST,
  );
  return { config, layer1, layer2, manifest };
}

test('manifestChildren: config, layers, manifests[], subject, schema 1 blobSums; junk gives nothing', () => {
  const [a, b, c, e, f] = ['a', 'b', 'c', 'e', 'f'].map((s) => digestBytes(s));
  const got = manifestChildren(
    Buffer.from(
      JSON.stringify({
        config: { digest: a },
        layers: [{ digest: b }, { digest: 'not-a-digest' }],
        manifests: [{ digest: c }],
        subject: { digest: e },
        fsLayers: [{ blobSum: f }],
      }),
    ),
  );
  assert.deepEqual(got, { manifests: [c, e], blobs: [a, b, f] });
  assert.deepEqual(manifestChildren(Buffer.from('{nope')), { manifests: [], blobs: [] });
  assert.deepEqual(manifestChildren(Buffer.from('42')), { manifests: [], blobs: [] });
});

test('gc: removes exactly the blobs no ref reaches (ref -> index -> manifests -> config + layers) and keeps cache-linked variants', async () => {
  const store = openTemp();
  try {
    const absent = digestBytes('a layer this store never fetched');
    const amd = await putImage(store, 'amd64', [{ digest: absent, size: 99 }]);
    const arm = await putImage(store, 'arm64');
    const index = await putJson(
      store,
      {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, ...amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
          { mediaType: OCI_MANIFEST, ...arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      },
      OCI_INDEX,
    );
    store.setRef('example.com/app:v1', index.digest);

    // Variants the cache links to a reachable layer: its uncompressed form and a zstd recompression.
    const uncompressed = await putText(store, 'amd64 layer 1, uncompressed');
    const zstd = await putText(store, 'amd64 layer 1, as zstd');
    store.cache.recordUncompressed(amd.layer1.digest, uncompressed.digest);
    store.cache.recordVariant(uncompressed.digest, 'zstd', 3, zstd.digest);

    // Garbage: an old image nobody refers to any more, a loose blob, and a variant of that old layer.
    const old = await putImage(store, 'old');
    const loose = await putText(store, 'loose blob');
    const oldZstd = await putText(store, 'old layer 1, as zstd');
    store.cache.recordVariant(old.layer1.digest, 'zstd', 3, oldZstd.digest);

    const want = [old.config, old.layer1, old.layer2, old.manifest, loose, oldZstd].map((x) => x.digest).sort();
    const wantFreed = [old.config, old.layer1, old.layer2, old.manifest, loose, oldZstd].reduce((n, x) => n + x.size, 0);
    const before = store.index.allBlobs.all().length;

    const dry = await gc(store, { dryRun: true });
    assert.deepEqual(dry.removed, want);
    assert.equal(store.index.allBlobs.all().length, before, 'dry run removes nothing');
    assert.ok(want.every((d) => existsSync(store.pathOf(d))));

    const got = await gc(store);
    assert.deepEqual(got.removed, want);
    assert.equal(got.freedBytes, wantFreed);
    assert.equal(got.kept, before - want.length);
    assert.equal(dry.kept, got.kept);
    for (const d of want) {
      assert.equal(existsSync(store.pathOf(d)), false, `${d} file removed`);
      assert.equal(store.has(d), false);
    }
    const kept = [amd.config, amd.layer1, amd.layer2, amd.manifest, arm.config, arm.layer1, arm.layer2, arm.manifest, index, uncompressed, zstd];
    assert.deepEqual(
      store.index.allBlobs
        .all()
        .map((r) => r.digest)
        .sort(),
      kept.map((x) => x.digest).sort(),
    );
    for (const k of kept) assert.ok(store.has(k.digest));

    // Nothing left to collect; then dropping the ref makes everything garbage.
    assert.deepEqual((await gc(store)).removed, []);
    store.deleteRef('example.com/app:v1');
    assert.equal((await gc(store)).removed.length, kept.length);
    assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')), []);
  } finally {
    store.close();
  }
});

test('gc: keeps blobs used under a live lease (a copy in progress), collects them once it is released', async () => {
  // The store's clock, moved by hand between the steps whose order gc judges by time.
  let now = 1_000_000;
  const store = BlobStore.open(join(tempDir('ocikit-maint-'), 'store'), { now: () => now });
  try {
    const before = await putText(store, 'put before the lease');
    now += 1;
    const lease = store.lease();
    now += 1;
    const during = await putText(store, 'put by the running copy');
    // A blob stored earlier but used by the copy now is protected too.
    const reused = await putText(store, 'stored long ago, reused now');
    store.index.db.prepare('UPDATE blobs SET last_used = 0 WHERE digest = ?').run(reused.digest);
    assert.ok(store.has(reused.digest));

    // gc from another handle (another process would look the same).
    const other = BlobStore.open(store.root);
    try {
      assert.deepEqual((await gc(other)).removed, [before.digest]);
      assert.ok(store.has(during.digest));
      lease.release();
      lease.release();
      assert.deepEqual((await gc(other)).removed, [during.digest, reused.digest].sort());
    } finally {
      other.close();
    }
  } finally {
    store.close();
  }
});

test('gc: a lease left by a dead process protects nothing and is removed', async () => {
  const store = openTemp();
  try {
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout.trim());
    store.index.insertLease.run('left-behind', deadPid, 0);
    const blob = await putText(store, 'garbage');
    const got = await gc(store);
    assert.equal(got.leasesRemoved, 1);
    assert.deepEqual(got.removed, [blob.digest]);
    assert.equal(store.index.allLeases.all().length, 0);
  } finally {
    store.close();
  }
});

test("gc: removes at once the tmp files of a writer that no longer runs; keeps a live writer's; others after an hour", async () => {
  const store = openTemp();
  try {
    // <stem>.<pid>.<threadId>.<random>.tmp; pid 999999999 is above any pid_max, so never alive.
    const dead = join(store.root, 'tmp', 'aa.999999999.0.dead.tmp');
    const deadOld = join(store.root, 'tmp', 'bb.999999999.0.dade.tmp');
    // A live writer's tmp hard link to an old user file looks old, and must survive.
    const linked = join(store.root, 'tmp', `link.${process.pid}.0.abcd.tmp`);
    // A name that carries no writer: only its age tells.
    const foreign = join(store.root, 'tmp', 'someone-elses');
    const foreignOld = join(store.root, 'tmp', 'someone-elses-old');
    for (const f of [dead, deadOld, linked, foreign, foreignOld]) writeFileSync(f, 'half a layer');
    const twoHoursAgo = (Date.now() - 2 * 3600_000) / 1000;
    for (const f of [deadOld, linked, foreignOld]) utimesSync(f, twoHoursAgo, twoHoursAgo);
    assert.equal((await gc(store, { dryRun: true })).tmpRemoved, 3);
    assert.ok(existsSync(dead));
    const got = await gc(store);
    assert.equal(got.tmpRemoved, 3);
    assert.deepEqual(
      [dead, deadOld, linked, foreign, foreignOld].map((f) => existsSync(f)),
      [false, false, true, true, false],
    );
  } finally {
    store.close();
  }
});

test('verify: finds a blob corrupted on disk with size and mtime kept (only re-hashing can), and --repair removes it', async () => {
  const store = openTemp();
  try {
    const good = await putText(store, 'a good blob');
    const bad = await putText(store, 'a blob about to rot on disk');
    const gone = await putText(store, 'a blob whose file is deleted');

    const path = store.pathOf(bad.digest);
    const st = statSync(path);
    chmodSync(path, 0o644);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from('A'), 0, 1, 3);
    closeSync(fd);
    chmodSync(path, 0o444);
    utimesSync(path, st.atime, st.mtime);
    assert.equal(statSync(path).mtimeMs, st.mtimeMs);
    unlinkSync(store.pathOf(gone.digest));

    const report = await verify(store);
    assert.deepEqual(report, { checked: 2, corrupt: [bad.digest], missing: [gone.digest], repaired: 0 });
    assert.ok(existsSync(path), 'verify without repair changes nothing');

    const repaired = await verify(store, { repair: true });
    assert.deepEqual(repaired, { checked: 2, corrupt: [bad.digest], missing: [gone.digest], repaired: 2 });
    assert.equal(existsSync(path), false);
    assert.equal(store.index.getBlob.get(bad.digest), undefined);
    assert.equal(store.index.getBlob.get(gone.digest), undefined);
    assert.deepEqual(await verify(store), { checked: 1, corrupt: [], missing: [], repaired: 0 });
    assert.ok(store.has(good.digest));
  } finally {
    store.close();
  }
});

test('du and ls: counts, bytes and per-ref sizes', async () => {
  const store = openTemp();
  try {
    const img = await putImage(store, 'x');
    store.setRef('example.com/x:1', img.manifest.digest);
    store.setRef('example.com/missing:1', digestBytes('not here'));
    const all = [img.config, img.layer1, img.layer2, img.manifest];
    assert.deepEqual(du(store), { blobs: 4, bytes: all.reduce((n, b) => n + b.size, 0), refs: 2 });
    const got = (await ls(store)).map(({ updated: _, ...rest }) => rest);
    assert.deepEqual(got, [
      { name: 'example.com/missing:1', digest: digestBytes('not here'), size: undefined, totalSize: 0 },
      { name: 'example.com/x:1', digest: img.manifest.digest, size: img.manifest.size, totalSize: all.reduce((n, b) => n + b.size, 0) },
    ]);
  } finally {
    store.close();
  }
});
