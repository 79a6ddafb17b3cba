/**
 * docker-archive: several images per archive (each layer once), --additional-tag, tags moving
 * between images, untagged images as @N, list-tags; Docker 25+ archives with gzip and zstd layers;
 * the diff ID check; /dev/stdin (piped, redirected, gzipped) and /dev/stdout; hostile archives.
 * The conformance suite runs against it too. Real docker and podman loads: docker-archive-engines.test.ts.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { compress as zstdCompress } from 'zstd-napi';
import { copyImage } from '../../lib/copy/index.js';
import type { Digest } from '../../lib/digest/index.js';
import { isOcikitError } from '../../lib/errors.js';
import { parseManifest } from '../../lib/manifest/index.js';
import { BlobStore } from '../../lib/store/index.js';
import { TarArchive } from '../../lib/transports/tar/archive.js';
import { parseImageName } from '../../lib/transports/index.js';
import { conformanceSuite } from '../conformance/suite.js';
import { rawTar, type RawEntry } from '../helpers/tar.js';
import { SUITE_POLICY, ocikit, run } from '../helpers/cli.js';
import { cliPath, fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../helpers/peers.js';
import { sha } from '../helpers/digest.js';
import { lazyStore } from '../helpers/store.js';

conformanceSuite('docker-archive', { imageName: (d) => `docker-archive:${d}:example.com/conformance:latest`, formats: ['v2s2'], supportsIndex: false });

type Compression = 'none' | 'gzip' | 'zstd';
const compressWith = (c: Compression, b: Buffer): Buffer => (c === 'gzip' ? gzipSync(b) : c === 'zstd' ? Buffer.from(zstdCompress(b)) : b);

/**
 * The members of a docker save archive. 'docker25': blobs/sha256/<hex of stored bytes> plus
 * index.json and oci-layout, as Docker 25+ writes; 'legacy': <n>/layer.tar and <hex>.json.
 */
function saveArchive(layers: Array<{ tar: Buffer; compression: Compression }>, tags: string[], style: 'docker25' | 'legacy'): { entries: RawEntry[]; config: Buffer; stored: Buffer[] } {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['A=b'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l.tar)) } }));
  const stored = layers.map((l) => compressWith(l.compression, l.tar));
  const entries: RawEntry[] = [];
  let configPath: string;
  let layerPaths: string[];
  if (style === 'docker25') {
    entries.push({ name: 'blobs/', type: 'directory' }, { name: 'blobs/sha256/', type: 'directory' });
    for (const b of [config, ...stored]) entries.push({ name: `blobs/sha256/${sha(b).slice(7)}`, data: b });
    configPath = `blobs/sha256/${sha(config).slice(7)}`;
    layerPaths = stored.map((b) => `blobs/sha256/${sha(b).slice(7)}`);
    entries.push(
      { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'index.json', data: '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}' },
    );
  } else {
    configPath = `${sha(config).slice(7)}.json`;
    entries.push({ name: configPath, data: config });
    layerPaths = stored.map((_, i) => `layer${i}/layer.tar`);
    stored.forEach((b, i) => entries.push({ name: `layer${i}/`, type: 'directory' }, { name: `layer${i}/layer.tar`, data: b }, { name: `layer${i}/VERSION`, data: '1.0' }));
  }
  entries.push({ name: 'manifest.json', data: JSON.stringify([{ Config: configPath, RepoTags: tags, Layers: layerPaths }]) });
  return { entries, config, stored };
}

async function layerTar(seed: string, size: number): Promise<Buffer> {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i += 32) createHash('sha256').update(`${seed}${i}`).digest().copy(data, i);
  return rawTar([{ name: `${seed}.bin`, data }]);
}

/** Run a shell pipeline; with pipefail, so a failing ocikit in the middle of a pipe is a failure. */
function sh(cmd: string, env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('docker-archive', () => {
  let dir: string;
  let store: BlobStore;
  let skopeo: string;
  before(() => {
    dir = tempDir('ocikit-dockerarchive-');
    store = BlobStore.open(join(dir, 'store'));
    skopeo = requirePeer('skopeo');
  });
  after(() => store.close());

  const cli = (...args: string[]): ReturnType<typeof ocikit> => ocikit(['--store', store.root, ...args]);

  it('holds several images, each layer once: --additional-tag, tags moving between images, untagged images as @N, list-tags', async () => {
    const a = join(dir, 'multi.tar');
    let r = cli('copy', '-q', '--additional-tag', 'example.com/hello:v2', '--additional-tag', 'hello:v1', `oci:${fixture('hello-oci')}:latest`, `docker-archive:${a}:hello:v1`);
    assert.equal(r.code, 0, r.stderr);
    r = cli('copy', '-q', '--override-arch', 'arm64', `oci:${fixture('multiarch-oci')}:latest`, `docker-archive:${a}:multi:arm64`);
    assert.equal(r.code, 0, r.stderr);
    // hello:v1 moves to the amd64 image: docker load would move it too.
    r = cli('copy', '-q', '--override-arch', 'amd64', `oci:${fixture('multiarch-oci')}:latest`, `docker-archive:${a}:hello:v1`);
    assert.equal(r.code, 0, r.stderr);
    // An untagged image.
    const small = join(dir, 'small-oci');
    const smallSrc = await writeTar(join(dir, 'small-src.tar'), saveArchive([{ tar: await layerTar('small', 3000), compression: 'none' }], [], 'legacy').entries);
    const smallRes = await copyImage(parseImageName(`docker-archive:${smallSrc}`), parseImageName(`docker-archive:${join(dir, 'small-copy.tar')}`), { store });
    await copyImage(parseImageName(`docker-archive:${smallSrc}`), parseImageName(`oci:${small}:s`), { store });
    r = cli('copy', '-q', `oci:${small}:s`, `docker-archive:${a}`);
    assert.equal(r.code, 0, r.stderr);

    const tags = cli('list-tags', `docker-archive:${a}`);
    assert.equal(tags.code, 0, tags.stderr);
    assert.deepEqual(JSON.parse(tags.stdout).Tags, ['example.com/hello:v2', 'docker.io/library/multi:arm64', 'docker.io/library/hello:v1', '@3']);

    // Every blob once: the base layer shared by hello and the multi-arch images is stored once.
    const ar = await TarArchive.open(a, { where: a, store: lazyStore() });
    try {
      const blobs = ar.list().filter((m) => m.type === 'file' && m.name.startsWith('blobs/sha256/'));
      assert.equal(new Set(blobs.map((m) => m.name)).size, blobs.length);
      const items = JSON.parse((await ar.readBytes(ar.file('manifest.json'), 1 << 20, 'manifest.json')).toString()) as Array<{ Layers: string[]; Config: string }>;
      const referenced = new Set(items.flatMap((i) => [i.Config, ...i.Layers]));
      assert.equal(referenced.size, blobs.length, 'every stored blob is used, none twice');
      assert.ok(items[0]!.Layers[0] === items[1]!.Layers[0] && items[1]!.Layers[0] === items[2]!.Layers[0], 'one base layer for three images');
    } finally {
      await ar.close();
    }

    // skopeo reads each image back by name and by position, with the config ocikit wrote.
    const cfgOf = (name: string): string => sha(Buffer.from(JSON.stringify(JSON.parse(run(skopeo, ['inspect', '--config', name]).stdout))));
    const amdConfig = JSON.parse(run(skopeo, ['inspect', '--raw', `oci:${fixture('multiarch-oci')}:latest`]).stdout).manifests[0].digest;
    const amdManifest = JSON.parse(readFileSync(join(fixture('multiarch-oci'), 'blobs', 'sha256', amdConfig.slice(7)), 'utf8'));
    assert.equal(JSON.parse(run(skopeo, ['inspect', '--raw', `docker-archive:${a}:hello:v1`]).stdout).config.digest, amdManifest.config.digest);
    assert.equal(cfgOf(`docker-archive:${a}:@3`), cfgOf(`oci:${small}:s`));
    // ocikit reads the untagged one by position: the same manifest as any docker-archive of that image.
    const src = await parseImageName(`docker-archive:${a}:@3`).newSource({ store });
    try {
      assert.equal(sha((await src.getManifest()).bytes), smallRes.manifestDigest);
    } finally {
      await src.close();
    }
    // Naming an absent tag is "not found"; naming none in a multi-image archive is a usage error.
    assert.equal(cli('copy', '-q', `docker-archive:${a}:nope:x`, `oci:${join(dir, 'x')}`).code, 2);
    const none = cli('copy', '-q', `docker-archive:${a}`, `oci:${join(dir, 'x')}`);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /holds 4 images; name one/);
  });

  for (const style of ['docker25', 'legacy'] as const) {
    it(`reads ${style} archives with plain, gzip and zstd layers, checking each against its diff ID`, async () => {
      const tars = [await layerTar(`${style}-a`, 200_000), await layerTar(`${style}-b`, 50_000), await layerTar(`${style}-c`, 10_000)];
      const layers = [
        { tar: tars[0]!, compression: 'gzip' as const },
        { tar: tars[1]!, compression: 'zstd' as const },
        { tar: tars[2]!, compression: 'none' as const },
      ];
      const { entries, config, stored } = saveArchive(layers, ['example.com/mixed:1'], style);
      const a = await writeTar(join(dir, `mixed-${style}.tar`), entries);
      const fresh = BlobStore.open(join(dir, `mixed-${style}-store`));
      try {
        // As they are (dir: keeps layers as they come; oci: would gzip the plain one, as skopeo):
        // an OCI manifest (v2s2 has no zstd), each layer under its stored bytes' digest.
        const res = await copyImage(parseImageName(`docker-archive:${a}`), parseImageName(`dir:${join(dir, `mixed-${style}-dir-as-is`)}`), { store: fresh });
        const m = parseManifest(await fresh.readBytes(res.manifestDigest), undefined);
        assert.ok(m.kind === 'oci-manifest');
        assert.deepEqual(
          m.value.layers.map((l) => [l.digest, l.mediaType]),
          [
            [sha(stored[0]!), 'application/vnd.oci.image.layer.v1.tar+gzip'],
            [sha(stored[1]!), 'application/vnd.oci.image.layer.v1.tar+zstd'],
            [sha(tars[2]!), 'application/vnd.oci.image.layer.v1.tar'],
          ],
        );
        assert.equal(m.value.config.digest, sha(config));
        // The diff ID check was done on the way, and the verified pairs recorded.
        assert.equal(fresh.cache.uncompressedOf(sha(stored[0]!)), sha(tars[0]!));
        assert.equal(fresh.cache.uncompressedOf(sha(stored[1]!)), sha(tars[1]!));
        // Into a docker-archive: every layer decompressed, named by its diff ID; skopeo agrees.
        const out = join(dir, `mixed-${style}-out.tar`);
        await copyImage(parseImageName(`docker-archive:${a}`), parseImageName(`docker-archive:${out}:example.com/mixed:2`), { store: fresh });
        const got = JSON.parse(run(skopeo, ['inspect', '--raw', `docker-archive:${out}`]).stdout) as { layers: Array<{ digest: string }> };
        assert.deepEqual(
          got.layers.map((l) => l.digest),
          tars.map((t) => sha(t)),
        );
        run(skopeo, ['copy', '-q', `docker-archive:${out}`, `dir:${join(dir, `mixed-${style}-dir`)}`]);
        // The same conversion again: the store knows every layer's plain form (the verified
        // pairs), so nothing is read from the archive again.
        const again = await copyImage(parseImageName(`docker-archive:${a}`), parseImageName(`docker-archive:${join(dir, `mixed-${style}-again.tar`)}`), { store: fresh });
        assert.equal(again.bytesRead, 0);
      } finally {
        fresh.close();
      }
    });
  }

  it('reads archives written by skopeo (legacy layer directories and symlinks), several tags included', async () => {
    const s = join(dir, 'by-skopeo.tar');
    run(skopeo, ['copy', '-q', '--additional-tag', 'example.com/extra:tag', `oci:${fixture('hello-oci')}:latest`, `docker-archive:${s}:hello:skopeo`]);
    assert.deepEqual(JSON.parse(cli('list-tags', `docker-archive:${s}`).stdout).Tags, ['docker.io/library/hello:skopeo', 'example.com/extra:tag']);
    for (const name of [`docker-archive:${s}`, `docker-archive:${s}:example.com/extra:tag`, `docker-archive:${s}:@0`]) {
      const src = await parseImageName(name).newSource({ store });
      try {
        const m = parseManifest((await src.getManifest()).bytes, undefined);
        assert.ok(m.kind === 'docker-v2s2');
        // skopeo's own reading of its archive names the same config and layer digests.
        const want = JSON.parse(run(skopeo, ['inspect', '--raw', name]).stdout) as { config: { digest: string }; layers: Array<{ digest: string }> };
        assert.equal(m.value.config.digest, want.config.digest);
        assert.deepEqual(
          m.value.layers.map((l) => l.digest),
          want.layers.map((l) => l.digest),
        );
      } finally {
        await src.close();
      }
    }
  });

  it('reads /dev/stdin from a pipe, a redirect and a gzip stream without a temp file; writes /dev/stdout', () => {
    const a = join(dir, 'stdio.tar');
    let r = cli('copy', '-q', `oci:${fixture('hello-oci')}:latest`, `docker-archive:${a}:hello:stdio`);
    assert.equal(r.code, 0, r.stderr);
    // A TMPDIR that does not exist: a temp file would fail the copy, not just be left behind.
    const tmp = join(dir, 'stdio-tmp-does-not-exist');
    const base = `"${cliPath}" --policy "${SUITE_POLICY}" --store "${store.root}" copy -q`;
    const want = JSON.parse(run(skopeo, ['inspect', '--raw', `docker-archive:${a}`]).stdout).config.digest;
    const cases = {
      pipe: `cat "${a}" | ${base} docker-archive:/dev/stdin oci:${join(dir, 'stdio-pipe')}:x`,
      redirect: `${base} docker-archive:/dev/stdin:hello:stdio oci:${join(dir, 'stdio-redirect')}:x < "${a}"`,
      gzip: `"${requirePeer('gzip')}" -c "${a}" | ${base} docker-archive:/dev/stdin:@0 oci:${join(dir, 'stdio-gzip')}:x`,
    };
    for (const [name, cmd] of Object.entries(cases)) {
      r = sh(cmd, { TMPDIR: tmp });
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.equal(JSON.parse(run(skopeo, ['inspect', '--raw', `oci:${join(dir, `stdio-${name}`)}:x`]).stdout).config.digest, want, name);
    }
    assert.equal(existsSync(tmp), false, 'standard input went to the store, not to a temp file');
    const out = join(dir, 'stdout.tar');
    r = sh(`${base} oci:${fixture('hello-oci')}:latest docker-archive:/dev/stdout:hello:out | cat > "${out}"`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(run(skopeo, ['inspect', '--raw', `docker-archive:${out}:hello:out`]).stdout).config.digest, want);
  });

  it('a spooled archive bound for compressed layers keeps each big plain layer only compressed (as the copy makes it), and still serves it plain', async () => {
    // Text-like, compressible, and well above PACK_MIN; a small plain layer; a gzip one.
    const bigTar = await rawTar([{ name: 'words.txt', data: Buffer.from('layer blob digest usr lib share\n'.repeat(110_000)) }]);
    const smallTar = await layerTar('small-plain', 3000);
    const gzTar = await layerTar('gz', 5000);
    const entries = saveArchive(
      [
        { tar: bigTar, compression: 'none' },
        { tar: smallTar, compression: 'none' },
        { tar: gzTar, compression: 'gzip' },
      ],
      ['example.com/packed:1'],
      'legacy',
    ).entries;
    const plainArchive = await writeTar(join(dir, 'packed.tar'), entries);
    // gzipped as a whole: read by spooling (a pipe or a daemon's export are spooled the same way)
    const gz = join(dir, 'packed.tar.gz');
    writeFileSync(gz, gzipSync(readFileSync(plainArchive)));

    const fresh = BlobStore.open(join(dir, 'packed-store'));
    const other = BlobStore.open(join(dir, 'packed-store-2'));
    try {
      const out = join(dir, 'packed-oci');
      const res = await copyImage(parseImageName(`docker-archive:${gz}`), parseImageName(`oci:${out}:x`), { store: fresh });
      assert.ok(res.bytesRead >= readFileSync(gz).length, 'what was read at open is counted as read');
      assert.equal(fresh.has(sha(bigTar)), false, 'the big plain layer was never written down');
      const variant = fresh.cache.findVariant(sha(bigTar), 'gzip', 4);
      assert.ok(variant !== undefined && fresh.has(variant), 'only its gzip variant is stored');
      assert.ok(fresh.has(sha(smallTar)), 'a layer below PACK_MIN is spooled plain');
      // The same image copied from the archive read in place (the copy compresses then): the same layers.
      const out2 = join(dir, 'packed-oci-2');
      await copyImage(parseImageName(`docker-archive:${plainArchive}`), parseImageName(`oci:${out2}:x`), { store: other });
      const layersOf = (layout: string): string[] => {
        const idx = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
        return (JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', idx.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> }).layers.map((l) => l.digest);
      };
      assert.deepEqual(layersOf(out), layersOf(out2));
      assert.ok(layersOf(out).includes(variant));
      assert.deepEqual(JSON.parse(run(skopeo, ['inspect', '--config', `oci:${out}:x`]).stdout).rootfs.diff_ids, [sha(bigTar), sha(smallTar), sha(gzTar)]);

      // Read back from the archive, a packed member is its plain bytes, decompressed from the variant.
      const { dockerArchiveOptions } = await import('../../lib/transports/docker-archive/source.js');
      const { WorkerPool } = await import('../../lib/pool/index.js');
      const pool = new WorkerPool({ threads: 1 });
      const ar = await TarArchive.open(gz, dockerArchiveOptions(gz, { store: fresh, write: { compressLayers: { format: 'gzip', level: 4, exact: false, pool } } }));
      try {
        const m = ar.file('layer0/layer.tar');
        assert.ok(m.packed !== undefined && m.digest === sha(bigTar));
        assert.ok((await ar.head(m, 6)).equals(bigTar.subarray(0, 6)));
        assert.ok((await ar.readBytes(m, bigTar.length, 'layer')).equals(bigTar));
        const p = ar.open(m);
        assert.equal(p.kind, 'stream');
        const parts: Buffer[] = [];
        for await (const c of (p as { stream: AsyncIterable<Buffer> }).stream) parts.push(c);
        assert.ok(Buffer.concat(parts).equals(bigTar));
        // A member whose name says a digest its bytes do not have fails the spool, packed or not.
        const bad = await writeTar(join(dir, 'packed-bad.tar'), [{ name: `blobs/sha256/${sha('other').slice(7)}`, data: bigTar }]);
        const badGz = join(dir, 'packed-bad.tar.gz');
        writeFileSync(badGz, gzipSync(readFileSync(bad)));
        await assert.rejects(
          TarArchive.open(badGz, {
            where: badGz,
            store: fresh,
            expectedDigest: (n) => (n.startsWith('blobs/sha256/') ? (`sha256:${n.slice(13)}` as Digest) : undefined),
            compress: { format: 'gzip', level: 4, exact: false, pool },
          }),
          (err) => isOcikitError(err, 'E_DIGEST_MISMATCH'),
        );
        // A stream that ends inside a member being packed: one error, and no compressed half left.
        const plainBytes = readFileSync(plainArchive);
        const cut = Readable.from([plainBytes.subarray(0, 512 + (2 << 20))]);
        await assert.rejects(
          TarArchive.fromStream(cut, { where: 'a cut stream', store: fresh, compress: { format: 'gzip', level: 4, exact: false, pool } }),
          (err) => isOcikitError(err, 'E_BAD_INPUT') && /truncated/.test((err as Error).message),
        );
        assert.deepEqual(
          readdirSync(join(fresh.root, 'tmp')).filter((n) => n.startsWith('packed-')),
          [],
          'the job removed its output',
        );
      } finally {
        await ar.close();
        await pool.close();
      }
    } finally {
      fresh.close();
      other.close();
    }
  });

  describe('hostile archives: a clear error, nothing written outside, no destination', () => {
    let good: RawEntry[];
    let goodTar: Buffer;
    before(async () => {
      goodTar = await layerTar('hostile', 4000);
      good = saveArchive([{ tar: goodTar, compression: 'none' }], ['evil:1'], 'legacy').entries;
    });
    const withManifest = (m: unknown): RawEntry[] => [...good.filter((e) => e.name !== 'manifest.json'), { name: 'manifest.json', data: JSON.stringify(m) }];
    const item = (): { Config: string; RepoTags: string[]; Layers: string[] } => JSON.parse(String(good.find((e) => e.name === 'manifest.json')!.data))[0];

    async function expectFailure(name: string, entries: RawEntry[] | Buffer, code: string, message: RegExp, opts: { gzip?: boolean } = {}): Promise<void> {
      const sub = join(dir, `hostile-${name}`);
      mkdirSync(sub);
      const t = Buffer.isBuffer(entries) ? entries : await rawTar(entries);
      const archive = join(sub, 'x.tar');
      writeFileSync(archive, opts.gzip ? gzipSync(t) : t);
      const out = join(sub, 'out');
      // A fresh store: one that already holds a layer's true bytes never needs the archive's.
      const fresh = BlobStore.open(join(dir, `hostile-store-${name}`));
      try {
        await assert.rejects(copyImage(parseImageName(`docker-archive:${archive}`), parseImageName(`oci:${out}:latest`), { store: fresh }), (err) => {
          assert.ok(isOcikitError(err), String(err));
          assert.equal((err as { code: string }).code, code, (err as Error).message);
          assert.match((err as Error).message, message);
          return true;
        });
      } finally {
        fresh.close();
      }
      assert.deepEqual(readdirSync(sub), ['x.tar'], 'no destination and nothing else next to the archive');
      assert.equal(existsSync(join(dir, 'etc')), false);
    }

    it('manifest.json pointing outside the archive (.., absolute)', async () => {
      await expectFailure('config-dotdot', withManifest([{ ...item(), Config: '../../../../etc/passwd' }]), 'E_BAD_INPUT', /escapes the archive/);
      await expectFailure('layer-absolute', withManifest([{ ...item(), Layers: ['/etc/passwd'] }]), 'E_BAD_INPUT', /absolute path/);
      await expectFailure('layer-dotdot-gz', withManifest([{ ...item(), Layers: ['layer0/../../x'] }]), 'E_BAD_INPUT', /escapes the archive/, { gzip: true });
    });

    it('a layer that is a symlink out of the archive', async () => {
      const entries = [...good.filter((e) => e.name !== 'layer0/layer.tar'), { name: 'layer0/layer.tar', type: 'symlink' as const, linkname: '../../../etc/shadow' }];
      await expectFailure('symlink', entries, 'E_BAD_INPUT', /outside the archive/);
    });

    it('duplicate members, a truncated archive, a huge or malformed manifest.json', async () => {
      await expectFailure('duplicate', [...good, { name: 'manifest.json', data: '[]' }], 'E_BAD_INPUT', /appears more than once/);
      const t = await rawTar(good);
      await expectFailure('truncated', t.subarray(0, t.length - 3000), 'E_BAD_INPUT', /truncated/);
      await expectFailure('huge', withManifest([{ ...item(), Padding: 'x'.repeat(5 << 20) }]), 'E_MANIFEST_TOO_BIG', /manifest\.json is \d+ bytes, over/);
      await expectFailure('malformed', [...good.filter((e) => e.name !== 'manifest.json'), { name: 'manifest.json', data: '[{"Config": ' }], 'E_BAD_INPUT', /malformed JSON/);
      await expectFailure('layer-count', withManifest([{ ...item(), Layers: [] }]), 'E_BAD_INPUT', /lists 0 layers .* 1 diff IDs/);
      await expectFailure(
        'no-manifest',
        good.filter((e) => e.name !== 'manifest.json'),
        'E_BAD_INPUT',
        /not a docker-archive/,
      );
    });

    it('a layer whose bytes do not match its diff ID (plain and gzip-compressed)', async () => {
      const other = await layerTar('not-the-diff-id', 4000);
      const plain = good.map((e) => (e.name === 'layer0/layer.tar' ? { ...e, data: other } : e));
      await expectFailure('diffid-plain', plain, 'E_DIGEST_MISMATCH', new RegExp(`content has digest ${sha(other)}, expected ${sha(good.find((e) => e.name === 'layer0/layer.tar')!.data as Buffer)}`));
      await expectFailure('diffid-plain-spooled', plain, 'E_DIGEST_MISMATCH', /diff ID/, { gzip: true });
      const gz = good.map((e) => (e.name === 'layer0/layer.tar' ? { ...e, data: gzipSync(other) } : e));
      await expectFailure('diffid-gzip', gz, 'E_DIGEST_MISMATCH', /diff ID/);
      // Spooled, the compressed layer is in the store before the copy asks for it: checked at open.
      await expectFailure('diffid-gzip-spooled', gz, 'E_DIGEST_MISMATCH', /diff ID/, { gzip: true });
      const corrupt = gzipSync(goodTar);
      corrupt[corrupt.length - 20]! ^= 0xff;
      await expectFailure(
        'gzip-corrupt',
        good.map((e) => (e.name === 'layer0/layer.tar' ? { ...e, data: corrupt } : e)),
        'E_BAD_INPUT',
        /does not decompress/,
      );
    });

    it('the destination refuses to replace a file that is not a docker-archive', () => {
      const f = join(dir, 'not-an-archive.bin');
      writeFileSync(f, 'precious');
      const r = cli('copy', '-q', `oci:${fixture('hello-oci')}:latest`, `docker-archive:${f}:x:y`);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /not a docker-archive/);
      assert.equal(readFileSync(f, 'utf8'), 'precious');
    });
  });
});

async function writeTar(path: string, entries: RawEntry[]): Promise<string> {
  writeFileSync(path, await rawTar(entries));
  return path;
}
