/**
 * The one-pass data path, by its outcomes: what lands at the destination and in the store, what
 * the blob-info cache learns, what a warm store saves, and what a bad layer leaves behind.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BlobStore } from '../../lib/store/index.js';
import { WorkerPool } from '../../lib/pool/index.js';
import { copyImage, type ProgressEvent } from '../../lib/copy/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import { isOcikitError } from '../../lib/errors.js';
import type { Digest } from '../../lib/digest/index.js';
import { run } from '../helpers/cli.js';
import { requirePeer } from '../../support/peers.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { sha } from '../../support/digest.js';

const OCI_GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** A minimal tar of one file (ustar), so layers are real tars without any helper program. */
function tarOf(name: string, data: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.fill(0x20, 148, 156);
  h.write('0', 156);
  h.write('ustar\u000000', 257, 'latin1');
  let sum = 0;
  for (const x of h) sum += x;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512), Buffer.alloc(1024)]);
}

/** An OCI layout with one image of gzip layers; `diffIDs` may be given wrong on purpose. */
function makeLayout(root: string, tars: Buffer[], opts: { diffIDs?: string[]; old?: boolean } = {}): { layers: Array<{ digest: string; size: number }> } {
  mkdirSync(join(root, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const blob = (b: Buffer): { digest: string; size: number } => {
    const p = join(root, 'blobs', 'sha256', sha(b).slice(7));
    writeFileSync(p, b);
    // An hour old: a file nobody is writing, which the store may link instead of copying.
    if (opts.old !== false) utimesSync(p, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
    return { digest: sha(b), size: b.length };
  };
  const layers = tars.map((t) => ({ mediaType: OCI_GZ, ...blob(gzipSync(t, { level: 6 })) }));
  const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: opts.diffIDs ?? tars.map((t) => sha(t)) } })));
  const manifest = blob(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers })),
  );
  writeFileSync(
    join(root, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }),
  );
  return { layers };
}

/** An archive's members and their sha256, as GNU tar lists them (sorted: member order may vary). */
function tarMembers(path: string): string[] {
  const names = run('tar', ['-tf', path]).stdout.trim().split('\n').sort();
  return names.map((n) => (n.endsWith('/') ? n : `${n} ${sha(spawnSync('tar', ['-xOf', path, n], { maxBuffer: 1 << 30 }).stdout)}`));
}

/** Deterministic, compressible layer content of about `size` bytes. */
function content(seed: string, size: number): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  for (let i = 0; n < size; i++) {
    const b = Buffer.from(`${seed} line ${i} ${createHash('md5').update(`${seed}${i}`).digest('hex')}\n`);
    parts.push(b);
    n += b.length;
  }
  return Buffer.concat(parts);
}

function manifestOf(layout: string, ref = 'latest'): { config: { digest: string }; layers: Array<{ mediaType: string; digest: string; size: number }> } {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref)!.digest;
  return JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', d.slice(7)), 'utf8'));
}

describe('one pass per byte', () => {
  let dir: string;
  const pools: WorkerPool[] = [];
  const stores: BlobStore[] = [];
  before(() => {
    dir = tempDir('ocikit-onepass-');
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
    // On workers: these check the worker's one pass (the calling thread runs the same code, test/pool).
    const p = new WorkerPool({ threads, inlineBytes: 0 });
    pools.push(p);
    return p;
  };
  const tmpLeft = (store: BlobStore): string[] => readdirSync(join(store.root, 'tmp'));

  it("decompressing learns each layer's diff ID in the same pass, and a warm store converts again without reading the source", async () => {
    const tars = [content('a', 3_000_000), content('b', 1_200_000)].map((c, i) => tarOf(`f${i}`, c));
    const src = join(dir, 'warm-src');
    const { layers } = makeLayout(src, tars);
    const store = open('warm');
    const p = pool(2);
    const first = await copyImage(parseImageName(`oci:${src}:latest`), parseImageName(`docker-archive:${join(dir, 'warm-1.tar')}:x/y:1`), { store, pool: p });
    assert.equal(first.bytesRead, layers.reduce((a, l) => a + l.size, 0) + readFileSync(join(src, 'blobs', 'sha256', manifestOf(src).config.digest.slice(7))).length);
    for (const [i, l] of layers.entries()) {
      assert.equal(store.cache.uncompressedOf(l.digest as Digest), sha(tars[i]!), `layer ${i}: the pair was recorded`);
      assert.ok(store.has(sha(tars[i]!)), `layer ${i}: the plain layer is in the store`);
    }
    assert.deepEqual(tmpLeft(store), []);
    // Same conversion again: everything comes from the store.
    const second = await copyImage(parseImageName(`oci:${src}:latest`), parseImageName(`docker-archive:${join(dir, 'warm-2.tar')}:x/y:1`), { store, pool: p });
    assert.equal(second.bytesRead, 0);
    assert.deepEqual(tarMembers(join(dir, 'warm-2.tar')), tarMembers(join(dir, 'warm-1.tar')), 'the same members with the same bytes');
    // And skopeo reads it back with the diff IDs as layer digests.
    requirePeer('skopeo');
    const back = join(dir, 'warm-back');
    run('skopeo', ['--insecure-policy', 'copy', `docker-archive:${join(dir, 'warm-2.tar')}`, `dir:${back}`]);
    const dm = JSON.parse(readFileSync(join(back, 'manifest.json'), 'utf8')) as { layers: Array<{ digest: string }> };
    assert.deepEqual(
      dm.layers.map((l) => l.digest),
      tars.map((t) => sha(t)),
    );
  });

  it("a source file on the store's filesystem is linked into the store, not copied, and is left exactly as it was", async () => {
    const src = join(dir, 'link-src');
    const { layers } = makeLayout(src, [tarOf('x', content('link', 600_000))]);
    const layerPath = join(src, 'blobs', 'sha256', layers[0]!.digest.slice(7));
    const before = statSync(layerPath);
    const store = open('link');
    await copyImage(parseImageName(`oci:${src}:latest`), parseImageName(`oci:${join(dir, 'link-dst')}:latest`), { store, pool: pool(2) });
    const stored = statSync(store.pathOf(layers[0]!.digest));
    assert.equal(stored.ino, before.ino, 'the store holds the same inode (a hard link, no bytes copied)');
    const after = statSync(layerPath);
    assert.deepEqual([after.mode, after.mtimeMs, after.size], [before.mode, before.mtimeMs, before.size], 'mode and times of the source untouched');
    assert.ok(readFileSync(join(dir, 'link-dst', 'blobs', 'sha256', layers[0]!.digest.slice(7))).equals(readFileSync(layerPath)));
    // A file written a moment ago may still be being written: it is copied, not linked.
    const fresh = join(dir, 'fresh-src');
    const f = makeLayout(fresh, [tarOf('y', content('fresh', 600_000))], { old: false });
    const store2 = open('fresh');
    await copyImage(parseImageName(`oci:${fresh}:latest`), parseImageName(`oci:${join(dir, 'fresh-dst')}:latest`), { store: store2, pool: pool(1) });
    assert.notEqual(statSync(store2.pathOf(f.layers[0]!.digest)).ino, statSync(join(fresh, 'blobs', 'sha256', f.layers[0]!.digest.slice(7))).ino);
  });

  it('docker-archive -> oci: compresses the layers as skopeo does (tar+gzip), and honours --dest-compress-format', async () => {
    const src = join(dir, 'da-src');
    const tars = [tarOf('one', content('da1', 2_500_000)), tarOf('two', content('da2', 300_000))];
    makeLayout(src, tars);
    const archive = join(dir, 'da.tar');
    const p = pool(2);
    await copyImage(parseImageName(`oci:${src}:latest`), parseImageName(`docker-archive:${archive}:da/img:1`), { store: open('da-a'), pool: p });
    for (const [format, mediaType, unpack] of [
      [undefined, OCI_GZ, (b: Buffer) => gunzipSync(b)],
      ['zstd', 'application/vnd.oci.image.layer.v1.tar+zstd', undefined],
    ] as const) {
      const out = join(dir, `da-out-${format ?? 'default'}`);
      const store = open(`da-${format ?? 'default'}`);
      await copyImage(parseImageName(`docker-archive:${archive}`), parseImageName(`oci:${out}:latest`), { store, pool: p, ...(format ? { compressFormat: format } : {}) });
      const m = manifestOf(out);
      assert.deepEqual(
        m.layers.map((l) => l.mediaType),
        [mediaType, mediaType],
      );
      if (unpack)
        assert.deepEqual(
          m.layers.map((l) => sha(unpack(readFileSync(join(out, 'blobs', 'sha256', l.digest.slice(7)))))),
          tars.map((t) => sha(t)),
          'the layers decompress to the diff IDs',
        );
      const ins = JSON.parse(run('skopeo', ['inspect', `oci:${out}:latest`]).stdout) as { Layers: string[] };
      assert.deepEqual(
        ins.Layers,
        m.layers.map((l) => l.digest),
        'skopeo reads the layout',
      );
      // The variant was learned: converting again in the same store reads no layer.
      const again = await copyImage(parseImageName(`docker-archive:${archive}`), parseImageName(`oci:${out}-2:latest`), { store, pool: p, ...(format ? { compressFormat: format } : {}) });
      assert.equal(again.bytesRead, 0, 'a warm store compresses nothing twice');
      assert.deepEqual(
        manifestOf(`${out}-2`).layers.map((l) => l.digest),
        m.layers.map((l) => l.digest),
      );
    }
  });

  it('a layer that does not decompress to its diff ID fails when it is decompressed, and leaves nothing behind', async () => {
    const src = join(dir, 'diffid-src');
    const tars = [tarOf('z', content('diffid', 400_000))];
    makeLayout(src, tars, { diffIDs: [sha(Buffer.from('something else'))] });
    const store = open('diffid');
    const dest = join(dir, 'diffid.tar');
    await assert.rejects(copyImage(parseImageName(`oci:${src}:latest`), parseImageName(`docker-archive:${dest}:d/i:1`), { store, pool: pool(1) }), (err: unknown) => {
      assert.ok(isOcikitError(err, 'E_DIGEST_MISMATCH'), String(err));
      assert.match((err as Error).message, /layer 0 .* of oci:.*diff ID/);
      return true;
    });
    assert.equal(existsSync(dest), false);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith('diffid.tar')),
      [],
      'no temp archive left',
    );
    assert.deepEqual(tmpLeft(store), []);
    assert.equal(store.cache.uncompressedOf(makeLayoutDigest(src)), undefined, 'nothing learned from a layer that failed');
  });

  it('corrupt compressed data fails with E_BAD_INPUT naming the layer; no tmp file, no destination', async () => {
    const src = join(dir, 'corrupt-src');
    const { layers } = makeLayout(src, [tarOf('c', content('corrupt', 500_000))]);
    // Damage the deflate data, then rename the blob to the damaged bytes' digest so only decompression can tell.
    const p0 = join(src, 'blobs', 'sha256', layers[0]!.digest.slice(7));
    const bad = readFileSync(p0);
    bad[Math.floor(bad.length / 2)]! ^= 0xff;
    bad[Math.floor(bad.length / 2) + 1]! ^= 0xff;
    writeFileSync(p0, bad);
    const manifest = manifestOf(src);
    manifest.layers[0]!.digest = sha(bad);
    writeFileSync(join(src, 'blobs', 'sha256', sha(bad).slice(7)), bad);
    const mBytes = Buffer.from(JSON.stringify(manifest));
    writeFileSync(join(src, 'blobs', 'sha256', sha(mBytes).slice(7)), mBytes);
    writeFileSync(
      join(src, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(mBytes), size: mBytes.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
      }),
    );
    const store = open('corrupt');
    const dest = join(dir, 'corrupt-dst');
    await assert.rejects(copyImage(parseImageName(`oci:${src}:latest`), parseImageName(`dir:${dest}`), { store, pool: pool(1), compressFormat: 'zstd' }), (err: unknown) => {
      assert.ok(isOcikitError(err, 'E_BAD_INPUT') || isOcikitError(err, 'E_DIGEST_MISMATCH'), String(err));
      assert.match((err as Error).message, /layer 0/);
      return true;
    });
    assert.equal(existsSync(dest), false);
    assert.deepEqual(tmpLeft(store), []);
  });

  it('every blob reports the bytes it read, and blob-progress events carry byte counts', async () => {
    const src = join(dir, 'progress-src');
    const tars = [tarOf('p', content('progress', 8_000_000))];
    const { layers } = makeLayout(src, tars);
    const events: ProgressEvent[] = [];
    await copyImage(parseImageName(`oci:${src}:latest`), parseImageName(`docker-archive:${join(dir, 'progress.tar')}:p/p:1`), {
      store: open('progress'),
      pool: pool(1),
      onProgress: (e) => events.push(e),
    });
    const done = events.filter((e): e is Extract<ProgressEvent, { type: 'blob-done' }> => e.type === 'blob-done');
    const layerDone = done.find((e) => e.from === layers[0]!.digest)!;
    assert.equal(layerDone.read, layers[0]!.size, 'the layer read its whole compressed size once');
    const image = events.find((e) => e.type === 'image');
    assert.ok(image && image.type === 'image' && image.blobs === 2);
    for (const e of events) if (e.type === 'blob-progress') assert.ok(e.done >= 0 && e.done <= e.total && e.written >= 0);
  });

  function makeLayoutDigest(layout: string): Digest {
    return manifestOf(layout).layers[0]!.digest;
  }

  it('zstd layers copied to a Docker v2s2 destination are recompressed as gzip with the same diff IDs', async () => {
    const store = open('zstd-v2s2');
    const p = pool(2);
    const zstdLayout = join(dir, 'zstd-oci');
    await copyImage(parseImageName(`oci:${fixture('hello-oci')}:latest`), parseImageName(`oci:${zstdLayout}:latest`), { store, pool: p, compressFormat: 'zstd' });
    const index = JSON.parse(readFileSync(join(zstdLayout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const m = JSON.parse(readFileSync(join(zstdLayout, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: Array<{ mediaType: string }> };
    assert.deepEqual(
      m.layers.map((l) => l.mediaType),
      m.layers.map(() => 'application/vnd.oci.image.layer.v1.tar+zstd'),
    );

    // A fresh store, so the gzip originals are not simply reused from the cache.
    const store2 = open('zstd-v2s2-b');
    const out = join(dir, 'v2s2');
    await copyImage(parseImageName(`oci:${zstdLayout}:latest`), parseImageName(`dir:${out}`), { store: store2, pool: p, format: 'v2s2' });
    const dm = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { config: { digest: string }; layers: Array<{ mediaType: string; digest: string }> };
    const cfg = JSON.parse(readFileSync(join(out, dm.config.digest.slice(7)), 'utf8')) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(
      dm.layers.map((l) => l.mediaType),
      dm.layers.map(() => 'application/vnd.docker.image.rootfs.diff.tar.gzip'),
    );
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
    assert.deepEqual(
      dm.layers.map((l) => sha(readFileSync(join(back, l.digest.slice(7))))),
      cfg.rootfs.diff_ids,
    );
    assert.ok(
      dm.layers.every((l) => !/zstd/.test(l.mediaType)),
      `no zstd media type left: ${dm.layers.map((l) => l.mediaType).join(', ')}`,
    );
  });
});
