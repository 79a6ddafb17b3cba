/** Layer transforms through the pool and the store: round trips, the variant cache, reproducible digests, zstd -> v2s2. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BlobStore } from '../../lib/store/index.js';
import { WorkerPool, BLOCK_SIZE } from '../../lib/pool/index.js';
import { compressLayer, decompressLayer, copyImage } from '../../lib/copy/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import type { Digest } from '../../lib/digest/index.js';
import { fixture, tempDir } from '../helpers/paths.js';

const sha = (b: Buffer): Digest => ('sha256:' + createHash('sha256').update(b).digest('hex')) as Digest;

function layerBytes(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; parts.reduce((a, b) => a + b.length, 0) < BLOCK_SIZE * 2.3; i++) parts.push(Buffer.from(`file-${i} ${'abcdefghij'.slice(i % 10)} ${i * 7919}\n`));
  return Buffer.concat(parts);
}

describe('transform', () => {
  let dir: string;
  const pools: WorkerPool[] = [];
  const stores: BlobStore[] = [];
  before(() => {
    dir = tempDir('ocikit-transform-');
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    for (const s of stores) s.close();
  });
  const open = (name: string): BlobStore => {
    const s = BlobStore.open(join(dir, name));
    stores.push(s);
    return s;
  };
  const pool = (threads: number): WorkerPool => {
    const p = new WorkerPool({ threads });
    pools.push(p);
    return p;
  };

  for (const format of ['gzip', 'zstd'] as const) {
    it(`${format}: compress then decompress round-trips through the store and records the variant`, async () => {
      const store = open(`rt-${format}`);
      const data = layerBytes();
      const plain = await store.put(data, { what: 'test layer' });
      const progress: number[] = [];
      const c = await compressLayer(store, plain, format, format === 'gzip' ? 6 : 3, 'test layer', { pool: pool(2), onProgress: (d) => progress.push(d) });
      assert.equal(sha(readFileSync(c.path)), c.digest, 'the store holds what it says');
      assert.equal(store.cache.findVariant(plain.digest, format, format === 'gzip' ? 6 : 3), c.digest);
      assert.equal(store.cache.uncompressedOf(c.digest), plain.digest);
      assert.equal(progress.at(-1), data.length, 'progress reaches the input size');
      // Decompressing a blob the cache knows is free: the same store blob comes back.
      const d = await decompressLayer(store, c, format, 'test layer', { pool: pool(1) });
      assert.equal(d.digest, plain.digest);
      // In a fresh store (no cache), decompression really runs and yields the diff ID.
      const store2 = open(`rt2-${format}`);
      const c2 = await store2.put(readFileSync(c.path), { what: 'compressed layer', digest: c.digest });
      const d2 = await decompressLayer(store2, c2, format, 'test layer', { pool: pool(2) });
      assert.equal(d2.digest, plain.digest);
      assert.ok(readFileSync(d2.path).equals(data));
      assert.deepEqual(readdirSync(join(dir, `rt2-${format}`, 'tmp')), [], 'no tmp file left behind');
    });
  }

  it('gzip digests are the same from pools of 1 and 3 workers (reproducible layer digests)', async () => {
    const data = layerBytes();
    const got: Digest[] = [];
    for (const [i, threads] of [1, 3].entries()) {
      const store = open(`repro-${i}`);
      const plain = await store.put(data, { what: 'layer' });
      const c = await compressLayer(store, plain, 'gzip', 6, 'layer', { pool: pool(threads) });
      assert.ok(gunzipSync(readFileSync(c.path)).equals(data));
      got.push(c.digest);
    }
    assert.equal(got[1], got[0]);
  });

  it('without a pool, a transform starts and closes its own', async () => {
    const store = open('own-pool');
    const plain = await store.put(Buffer.from('small layer\n'.repeat(1000)), { what: 'layer' });
    const c = await compressLayer(store, plain, 'gzip', 1, 'layer');
    assert.equal(sha(gunzipSync(readFileSync(c.path))), plain.digest);
  });

  it('corrupt compressed input fails with E_BAD_INPUT and leaves no tmp file', async () => {
    const store = open('corrupt');
    const bad = await store.put(Buffer.from('\x1f\x8b\x08\x00 definitely not deflate data'), { what: 'bad layer' });
    await assert.rejects(decompressLayer(store, bad, 'gzip', 'bad layer', { pool: pool(1) }), (err: unknown) => (err as { code?: string }).code === 'E_BAD_INPUT');
    assert.deepEqual(readdirSync(join(dir, 'corrupt', 'tmp')), []);
  });

  it('zstd layers copied to a Docker v2s2 destination are recompressed as gzip with the same diff IDs', async () => {
    const store = open('zstd-v2s2');
    const p = pool(2);
    const zstdLayout = join(dir, 'zstd-oci');
    await copyImage(parseImageName(`oci:${fixture('hello-oci')}:latest`), parseImageName(`oci:${zstdLayout}:latest`), { store, pool: p, compressFormat: 'zstd' });
    const index = JSON.parse(readFileSync(join(zstdLayout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const m = JSON.parse(readFileSync(join(zstdLayout, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: Array<{ mediaType: string }> };
    assert.deepEqual(m.layers.map((l) => l.mediaType), m.layers.map(() => 'application/vnd.oci.image.layer.v1.tar+zstd'));

    // A fresh store, so the gzip originals are not simply reused from the cache.
    const store2 = open('zstd-v2s2-b');
    const out = join(dir, 'v2s2');
    await copyImage(parseImageName(`oci:${zstdLayout}:latest`), parseImageName(`dir:${out}`), { store: store2, pool: p, format: 'v2s2' });
    const dm = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { config: { digest: string }; layers: Array<{ mediaType: string; digest: string }> };
    const cfg = JSON.parse(readFileSync(join(out, dm.config.digest.slice(7)), 'utf8')) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(dm.layers.map((l) => l.mediaType), dm.layers.map(() => 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
    const diffIds = dm.layers.map((l) => sha(gunzipSync(readFileSync(join(out, l.digest.slice(7))))));
    assert.deepEqual(diffIds, cfg.rootfs.diff_ids);
  });

  it('zstd layers copied into a docker-archive are decompressed (skopeo fails here: containers/skopeo#1286)', async () => {
    const store = open('zstd-da');
    const p = pool(2);
    const zstdLayout = join(dir, 'zstd-oci-2');
    await copyImage(parseImageName(`oci:${fixture('hello-oci')}:latest`), parseImageName(`oci:${zstdLayout}:latest`), { store, pool: p, compressFormat: 'zstd' });
    const archive = join(dir, 'zstd.docker.tar');
    await copyImage(parseImageName(`oci:${zstdLayout}:latest`), parseImageName(`docker-archive:${archive}:test/zstd:latest`), { store: open('zstd-da-b'), pool: p });
    // Read it back (fresh store, so nothing comes from the cache): plain tar layers whose digests are the diff IDs.
    const back = join(dir, 'zstd-back');
    await copyImage(parseImageName(`docker-archive:${archive}`), parseImageName(`dir:${back}`), { store: open('zstd-da-c'), pool: p });
    const dm = JSON.parse(readFileSync(join(back, 'manifest.json'), 'utf8')) as { config: { digest: string }; layers: Array<{ mediaType: string; digest: string }> };
    const cfg = JSON.parse(readFileSync(join(back, dm.config.digest.slice(7)), 'utf8')) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(dm.layers.map((l) => sha(readFileSync(join(back, l.digest.slice(7))))), cfg.rootfs.diff_ids);
    assert.ok(dm.layers.every((l) => !/zstd/.test(l.mediaType)), `no zstd media type left: ${dm.layers.map((l) => l.mediaType).join(', ')}`);
  });
});
