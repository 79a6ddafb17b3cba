/**
 * oci-archive: read in place (no temp copy), gzip archives read once into the store, several
 * images per archive and adding to an existing one, list-tags, the destination's atomicity and
 * concurrency, and hostile archives. The conformance suite runs against it too.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { copyImage } from '../../lib/copy/index.js';
import { digestBytes, type Digest } from '../../lib/digest/index.js';
import { isOcikitError } from '../../lib/errors.js';
import { parseManifest, type Descriptor } from '../../lib/manifest/index.js';
import { BlobStore } from '../../lib/store/index.js';
import { TarArchive } from '../../lib/transports/tar/archive.js';
import { payloadStream } from '../../lib/transports/payload.js';
import type { ImageSource } from '../../lib/transports/types.js';
import { parseImageName } from '../../lib/transports/index.js';
import { conformanceSuite } from '../conformance/suite.js';
import { rawTar, type RawEntry } from '../helpers/tar.js';
import { POLICY_ARGS, SUITE_POLICY, ocikit, run } from '../helpers/cli.js';
import { cliPath, fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../helpers/peers.js';
import { sha } from '../helpers/digest.js';
import { lazyStore } from '../helpers/store.js';

conformanceSuite('oci-archive', { imageName: (d) => `oci-archive:${d}:latest`, formats: ['oci'], supportsIndex: true });

/** The entries of an OCI layout with one image (config + given layer tars, uncompressed), ref "latest". */
function layoutEntries(layerTars: Buffer[], ref = 'latest'): { entries: RawEntry[]; manifest: Buffer; config: Buffer; layers: Buffer[] } {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layerTars.map((t) => sha(t)) }, config: { Cmd: ['/x'] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: layerTars.map((t) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(t), size: t.length })),
    }),
  );
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': ref } }],
  });
  const blob = (b: Buffer): RawEntry => ({ name: `blobs/sha256/${sha(b).slice(7)}`, data: b });
  return {
    entries: [
      { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'blobs/', type: 'directory' },
      { name: 'blobs/sha256/', type: 'directory' },
      blob(config),
      ...layerTars.map(blob),
      blob(manifest),
      { name: 'index.json', data: index },
    ],
    manifest,
    config,
    layers: layerTars,
  };
}

/** Every file under dir (relative paths), for "nothing else was created" checks. */
function listAll(dir: string, base = dir, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) listAll(p, base, out);
    else out.push(p.slice(base.length + 1));
  }
  return out.sort();
}

/** The digests of a layout directory's blobs, sorted. */
function layoutBlobs(layout: string): string[] {
  return readdirSync(join(layout, 'blobs', 'sha256'))
    .map((h) => `sha256:${h}`)
    .sort();
}

/** The digests of an archive's blobs/sha256/* members, sorted. */
async function archiveBlobs(path: string): Promise<string[]> {
  const ar = await TarArchive.open(path, { where: path, store: lazyStore() });
  try {
    return ar
      .list()
      .filter((m) => m.type === 'file' && m.name.startsWith('blobs/sha256/'))
      .map((m) => `sha256:${m.name.slice('blobs/sha256/'.length)}`)
      .sort();
  } finally {
    await ar.close();
  }
}

describe('oci-archive', () => {
  let dir: string;
  let store: BlobStore;
  before(() => {
    dir = tempDir('ocikit-ociarchive-');
    store = BlobStore.open(join(dir, 'store'));
  });
  after(() => store.close());

  it('reads in place: blobs stream from their offsets, and nothing is copied anywhere', async () => {
    const big = [randomBytes(3 << 20), randomBytes(2 << 20)].map((b) => b);
    const layers = await Promise.all(big.map((b, i) => rawTar([{ name: `data${i}.bin`, data: b }])));
    const { entries, manifest, config } = layoutEntries(layers);
    const arDir = join(dir, 'inplace');
    mkdirSync(arDir);
    const archive = join(arDir, 'img.tar');
    writeFileSync(archive, await rawTar(entries));
    const fresh = BlobStore.open(join(dir, 'inplace-store'));
    try {
      const storeBefore = listAll(fresh.root);
      const src = await parseImageName(`oci-archive:${archive}:latest`).newSource({ store: fresh });
      try {
        const m = await src.getManifest();
        assert.equal(digestBytes(m.bytes), sha(manifest));
        const parsed = parseManifest(m.bytes, m.mediaType);
        assert.ok(parsed.kind === 'oci-manifest');
        for (const d of [parsed.value.config, ...parsed.value.layers] as Descriptor[]) {
          const p = await src.getBlob({ digest: d.digest, size: d.size });
          // In place: the blob is a region of the archive file itself, not a file unpacked anywhere.
          assert.ok(p.kind === 'path' && p.path === archive && p.offset !== undefined && p.offset > 0, 'an uncompressed archive is read in place, not unpacked to files');
          const h = createHash('sha256');
          let n = 0;
          for await (const c of payloadStream(p)) {
            h.update(c as Buffer);
            n += (c as Buffer).length;
          }
          assert.equal(`sha256:${h.digest('hex')}`, d.digest);
          assert.equal(n, d.size);
        }
        assert.equal(digestBytes(await readAllBlob(src, sha(config), config.length)), sha(config));
      } finally {
        await src.close();
      }
      assert.deepEqual(listAll(fresh.root), storeBefore, 'opening and reading the source put nothing in the store');
      assert.deepEqual(readdirSync(arDir), ['img.tar'], 'nothing was created next to the archive');
    } finally {
      fresh.close();
    }
  });

  it('a CLI copy from an oci-archive makes no temp copy: TMPDIR and the archive dir stay empty, the store gets exactly the blobs', async () => {
    const layers = await Promise.all([randomBytes(4 << 20), randomBytes(1 << 20)].map((b, i) => rawTar([{ name: `f${i}`, data: b }])));
    const { entries, manifest, config } = layoutEntries(layers);
    const arDir = join(dir, 'cli-inplace');
    // A TMPDIR that does not exist: a temp copy would fail the copy, not just be left behind.
    const tmp = join(dir, 'cli-tmp-does-not-exist');
    const storeDir = join(dir, 'cli-store');
    mkdirSync(arDir);
    const archive = join(arDir, 'img.tar');
    writeFileSync(archive, await rawTar(entries));
    const seen: string[] = [];
    const watchers = [watch(arDir, (_e, f) => seen.push(`archive-dir/${f}`))];
    try {
      const code = await new Promise<number>((resolve) => {
        // To dir:, which keeps layers as they come (oci: would gzip these plain layers, as skopeo does).
        const p = spawn(cliPath, [...POLICY_ARGS, '--store', storeDir, 'copy', '-q', `oci-archive:${archive}:latest`, `dir:${join(dir, 'cli-out')}`], {
          env: { ...process.env, TMPDIR: tmp },
          stdio: 'inherit',
        });
        p.on('close', (c) => resolve(c ?? -1));
      });
      assert.equal(code, 0);
      // inotify reports a directory's events in order: once a file made now is seen, every event
      // of the copy before it has been seen too.
      writeFileSync(join(arDir, 'sentinel'), '');
      const deadline = Date.now() + 30_000;
      while (!seen.includes('archive-dir/sentinel') && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    } finally {
      for (const w of watchers) w.close();
    }
    assert.deepEqual(
      seen.filter((s) => s !== 'archive-dir/sentinel'),
      [],
      'no file was created next to the archive',
    );
    assert.ok(seen.includes('archive-dir/sentinel'), 'the watcher saw the sentinel');
    assert.equal(existsSync(tmp), false, 'nor in TMPDIR');
    const blobs = listAll(join(storeDir, 'blobs'))
      .map((p) => `sha256:${p.split('/').pop()}`)
      .sort();
    const want = [sha(manifest), sha(config), ...layers.map((l) => sha(l))].sort();
    assert.deepEqual(blobs, want, 'the store holds the image blobs and nothing archive-sized besides');
    assert.deepEqual(listAll(join(storeDir, 'tmp')), []);
  });

  it('reads a gzip-compressed archive (tar czf) once, into the store', async () => {
    const gz = join(dir, 'hello.tar.gz');
    run('tar', ['-czf', gz, '-C', fixture('hello-oci'), '.']);
    const fresh = BlobStore.open(join(dir, 'gz-store'));
    try {
      const res = await copyImage(parseImageName(`oci-archive:${gz}:latest`), parseImageName(`oci:${join(dir, 'from-gz')}:latest`), { store: fresh });
      const want = JSON.parse(readFileSync(fixture('hello-oci', 'index.json'), 'utf8')).manifests[0].digest;
      assert.equal(res.manifestDigest, want);
      // Every blob of the archive went to the store on the one pass, verified against its name.
      for (const f of readdirSync(fixture('hello-oci', 'blobs', 'sha256'))) assert.ok(fresh.has(`sha256:${f}`), f);
      assert.deepEqual(listAll(join(fresh.root, 'tmp')), []);
    } finally {
      fresh.close();
    }
  });

  it('holds several images and a multi-arch index; a copy into an existing archive adds, a ref written again is replaced', async () => {
    const a = join(dir, 'several.tar');
    const hello = await copyImage(parseImageName(`oci:${fixture('hello-oci')}:latest`), parseImageName(`oci-archive:${a}:one`), { store });
    const multi = await copyImage(parseImageName(`oci:${fixture('multiarch-oci')}:latest`), parseImageName(`oci-archive:${a}:two`), { store, multiArch: 'all' });
    const tags = ocikit(['--store', store.root, 'list-tags', `oci-archive:${a}`]);
    assert.equal(tags.code, 0, tags.stderr);
    assert.deepEqual(JSON.parse(tags.stdout).Tags, ['one', 'two']);
    for (const [ref, want] of [
      ['one', hello.manifestDigest],
      ['two', multi.manifestDigest],
    ] as const) {
      const src = await parseImageName(`oci-archive:${a}:${ref}`).newSource({ store });
      try {
        assert.equal(digestBytes((await src.getManifest()).bytes), want);
      } finally {
        await src.close();
      }
    }
    // skopeo reads both, the index with every instance.
    const skopeo = requirePeer('skopeo');
    assert.equal(sha(Buffer.from(run(skopeo, ['inspect', '--raw', `oci-archive:${a}:two`]).stdout)), multi.manifestDigest);
    // @N selects by position: @0 is the first entry, @1 the second, read whole.
    for (const [n, want] of [
      [0, hello.manifestDigest],
      [1, multi.manifestDigest],
    ] as const) {
      const byIndex = await parseImageName(`oci-archive:${a}:@${n}`).newSource({ store });
      try {
        assert.equal(digestBytes((await byIndex.getManifest()).bytes), want, `@${n}`);
      } finally {
        await byIndex.close();
      }
    }
    const again = await copyImage(parseImageName(`oci:${fixture('hello-oci')}:latest`), parseImageName(`oci-archive:${a}:two`), { store });
    assert.equal(again.blobsCopied, 0, 'every blob was already in the archive');
    assert.deepEqual(JSON.parse(ocikit(['--store', store.root, 'list-tags', `oci-archive:${a}`]).stdout).Tags, ['one', 'two']);
    const src = await parseImageName(`oci-archive:${a}:two`).newSource({ store });
    try {
      assert.equal(digestBytes((await src.getManifest()).bytes), hello.manifestDigest);
    } finally {
      await src.close();
    }
    // An unknown ref is "not found" (exit 2).
    const missing = ocikit(['--store', store.root, 'copy', '-q', `oci-archive:${a}:nope`, `oci:${join(dir, 'nope')}`]);
    assert.equal(missing.code, 2, missing.stderr);
  });

  it('a rewrite keeps only the blobs a ref reaches: a replaced image leaves nothing behind, and re-copying does not grow the archive', async () => {
    const a = join(dir, 'gc.tar');
    const helloSrc = parseImageName(`oci:${fixture('hello-oci')}:latest`);
    const multiSrc = parseImageName(`oci:${fixture('multiarch-oci')}:latest`);
    await copyImage(helloSrc, parseImageName(`oci-archive:${a}:one`), { store });
    await copyImage(multiSrc, parseImageName(`oci-archive:${a}:two`), { store, multiArch: 'all' });
    const helloBlobs = layoutBlobs(fixture('hello-oci'));
    const multiBlobs = layoutBlobs(fixture('multiarch-oci'));
    assert.deepEqual(await archiveBlobs(a), [...new Set([...helloBlobs, ...multiBlobs])].sort());
    const size = statSync(a).size;
    // The same image again under the same ref: nothing to add, nothing left over.
    await copyImage(multiSrc, parseImageName(`oci-archive:${a}:two`), { store, multiArch: 'all' });
    assert.equal(statSync(a).size, size, 're-copying the same image does not grow the archive');
    // Another image under "two": the index and both instances go, "one" keeps its blobs.
    await copyImage(helloSrc, parseImageName(`oci-archive:${a}:two`), { store });
    assert.deepEqual(await archiveBlobs(a), helloBlobs);
    assert.ok(statSync(a).size < size);
    const skopeo = requirePeer('skopeo');
    for (const ref of ['one', 'two']) run(skopeo, ['copy', `oci-archive:${a}:${ref}`, `oci:${join(dir, `gc-back-${ref}`)}:x`]);
  });

  it('a rewrite reuses old blobs the new image needs even when only the replaced image reached them', async () => {
    const a = join(dir, 'revive.tar');
    const multiSrc = parseImageName(`oci:${fixture('multiarch-oci')}:latest`);
    await copyImage(multiSrc, parseImageName(`oci-archive:${a}:x`), { store, multiArch: 'all' });
    // Only the amd64 instance now, under the same ref: its blobs come from the old archive, the rest goes.
    const one = await copyImage(multiSrc, parseImageName(`oci-archive:${a}:x`), { store, sourceCtx: { platform: { overrideArch: 'amd64', overrideOS: 'linux' } } });
    assert.equal(one.blobsCopied, 0, 'every blob was reused from the old archive');
    const instance = JSON.parse(readFileSync(fixture('multiarch-oci', 'blobs', 'sha256', one.manifestDigest.slice(7)), 'utf8')) as { config: Descriptor; layers: Descriptor[] };
    assert.deepEqual(await archiveBlobs(a), [one.manifestDigest, instance.config.digest, ...instance.layers.map((l) => l.digest)].sort());
    run(requirePeer('skopeo'), ['copy', `oci-archive:${a}:x`, `oci:${join(dir, 'revive-back')}:x`]);
  });

  it('streams to /dev/stdout', () => {
    const out = join(dir, 'stdout.tar');
    const r = spawnSync('sh', ['-c', `"${cliPath}" --policy "${SUITE_POLICY}" --store "${store.root}" copy -q oci:${fixture('hello-oci')}:latest oci-archive:/dev/stdout:latest > "${out}"`], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const helloDigest = (JSON.parse(readFileSync(fixture('hello-oci', 'index.json'), 'utf8')) as { manifests: Descriptor[] }).manifests[0]!.digest;
    const back = ocikit(['--store', store.root, 'copy', '-q', `oci-archive:${out}:latest`, `oci:${join(dir, 'stdout-back')}:latest`]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal((JSON.parse(readFileSync(join(dir, 'stdout-back', 'index.json'), 'utf8')) as { manifests: Descriptor[] }).manifests[0]!.digest, helloDigest);
    // skopeo reads the streamed archive as the same image.
    assert.equal(sha(Buffer.from(run(requirePeer('skopeo'), ['inspect', '--raw', `oci-archive:${out}:latest`]).stdout)), helloDigest);
  });

  it('indexes pax and GNU long names at the right offsets (GNU tar archives)', async () => {
    const src = join(dir, 'longnames');
    const deep = join(src, 'a'.repeat(90), 'b'.repeat(90));
    mkdirSync(deep, { recursive: true });
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 5; i++) {
      const rel = join('a'.repeat(90), 'b'.repeat(90), `${'c'.repeat(120)}-${i}`);
      files[rel] = randomBytes(1000 + i * 777);
      writeFileSync(join(src, rel), files[rel]);
    }
    for (const format of ['pax', 'gnu']) {
      const t = join(dir, `long-${format}.tar`);
      run('tar', [`--format=${format}`, '-cf', t, '-C', src, '.']);
      const ar = await TarArchive.open(t, { where: t, store: lazyStore() });
      try {
        for (const [rel, data] of Object.entries(files)) {
          const m = ar.file(rel);
          assert.equal(m.size, data.length);
          assert.ok((await ar.readBytes(m, 1 << 20, rel)).equals(data), `${format}: ${rel}`);
        }
      } finally {
        await ar.close();
      }
    }
  });

  it('destination: refuses to overwrite a file that is not an OCI archive, and a concurrent writer is not lost', async () => {
    const notArchive = join(dir, 'precious.txt');
    writeFileSync(notArchive, 'do not overwrite me\n'.repeat(100));
    const r = ocikit(['--store', store.root, 'copy', '-q', `oci:${fixture('hello-oci')}:latest`, `oci-archive:${notArchive}:latest`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not an OCI layout archive/);
    assert.equal(readFileSync(notArchive, 'utf8'), 'do not overwrite me\n'.repeat(100));

    const target = join(dir, 'race.tar');
    const slow = await parseImageName(`oci-archive:${target}:slow`).newDestination({ store });
    try {
      const data = Buffer.from('a blob');
      await slow.putBlob({ kind: 'path', path: (await store.put(data, { what: 'test' })).path }, { digest: digestBytes(data), size: data.length });
      await slow.putManifest({ bytes: Buffer.from('{}'), mediaType: 'application/vnd.oci.image.manifest.v1+json' });
      await copyImage(parseImageName(`oci:${fixture('hello-oci')}:latest`), parseImageName(`oci-archive:${target}:fast`), { store });
      await assert.rejects(slow.commit(), (err) => isOcikitError(err, 'E_CONFLICT'));
    } finally {
      await slow.close();
    }
    assert.deepEqual(JSON.parse(ocikit(['--store', store.root, 'list-tags', `oci-archive:${target}`]).stdout).Tags, ['fast'], 'the first commit stands');
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith('race.tar')),
      ['race.tar'],
      'no temp or lock file is left',
    );
  });

  describe('hostile archives: a clear error, nothing written outside, no destination', () => {
    let good: { entries: RawEntry[]; manifest: Buffer; config: Buffer; layers: Buffer[] };
    before(async () => {
      good = layoutEntries([await rawTar([{ name: 'hello', data: 'hello world\n' }])]);
    });

    async function expectFailure(name: string, tar: Buffer, code: string, message: RegExp, compress = false): Promise<void> {
      const sub = join(dir, `hostile-${name}`);
      mkdirSync(sub);
      const archive = join(sub, compress ? 'x.tar.gz' : 'x.tar');
      writeFileSync(archive, compress ? gzipSync(tar) : tar);
      const out = join(sub, 'out');
      await assert.rejects(copyImage(parseImageName(`oci-archive:${archive}`), parseImageName(`oci:${out}:latest`), { store }), (err) => {
        assert.ok(isOcikitError(err), String(err));
        assert.equal((err as { code: string }).code, code, (err as Error).message);
        assert.match((err as Error).message, message);
        return true;
      });
      assert.deepEqual(readdirSync(sub).sort(), [compress ? 'x.tar.gz' : 'x.tar'], 'no destination and nothing else next to the archive');
      assert.equal(existsSync(join(dir, 'evil')), false);
    }

    it('a member named with ".."', async () => {
      const t = await rawTar([{ name: '../evil', data: 'x' }, ...good.entries]);
      await expectFailure('dotdot', t, 'E_BAD_INPUT', /escapes the archive/);
      await expectFailure('dotdot-gz', t, 'E_BAD_INPUT', /escapes the archive/, true);
    });

    it('an absolute member name', async () => {
      await expectFailure('absolute', await rawTar([{ name: '/tmp/evil', data: 'x' }, ...good.entries]), 'E_BAD_INPUT', /absolute path/);
    });

    it('a symlink escaping the archive, and a hard link escaping it', async () => {
      const hex = sha(good.layers[0]!).slice(7);
      const entries = good.entries.filter((e) => e.name !== `blobs/sha256/${hex}`);
      await expectFailure('symlink', await rawTar([...entries, { name: `blobs/sha256/${hex}`, type: 'symlink', linkname: '../../../../../etc/passwd' }]), 'E_BAD_INPUT', /outside the archive/);
      await expectFailure('abs-symlink', await rawTar([...entries, { name: `blobs/sha256/${hex}`, type: 'symlink', linkname: '/etc/passwd' }]), 'E_BAD_INPUT', /outside the archive/);
      await expectFailure('hardlink', await rawTar([...entries, { name: `blobs/sha256/${hex}`, type: 'link', linkname: '../etc/passwd' }]), 'E_BAD_INPUT', /outside the archive/);
    });

    it('a link loop', async () => {
      await expectFailure(
        'loop',
        await rawTar([...good.entries.filter((e) => e.name !== 'index.json'), { name: 'index.json', type: 'symlink', linkname: 'x' }, { name: 'x', type: 'symlink', linkname: 'index.json' }]),
        'E_BAD_INPUT',
        /chain of more than/,
      );
    });

    it('a member that appears twice', async () => {
      await expectFailure('duplicate', await rawTar([...good.entries, { name: 'index.json', data: '{"schemaVersion":2,"manifests":[]}' }]), 'E_BAD_INPUT', /appears more than once/);
    });

    it('a truncated archive', async () => {
      const t = await rawTar(good.entries);
      const layerAt = t.indexOf(Buffer.from('hello world'));
      await expectFailure('truncated', t.subarray(0, layerAt + 5), 'E_BAD_INPUT', /truncated/);
      await expectFailure('truncated-gz', t.subarray(0, layerAt + 5), 'E_BAD_INPUT', /truncated|unexpected end/i, true);
    });

    it('a huge index.json is refused before it is read', async () => {
      const huge = Buffer.alloc(5 << 20, 0x20);
      await expectFailure('huge', await rawTar([...good.entries.filter((e) => e.name !== 'index.json'), { name: 'index.json', data: huge }]), 'E_MANIFEST_TOO_BIG', /index\.json is \d+ bytes, over/);
    });

    it('a blob whose bytes do not match its name', async () => {
      const hex = sha(good.layers[0]!).slice(7);
      // Same size, different bytes: only the digest can tell.
      const tampered = Buffer.from(good.layers[0]!);
      tampered[600] = tampered[600]! ^ 0xff;
      const entries = good.entries.map((e) => (e.name === `blobs/sha256/${hex}` ? { ...e, data: tampered } : e));
      // The message names the digest the bytes have and the one they were expected to have.
      const both = new RegExp(`content has digest ${sha(tampered)}, expected sha256:${hex}`);
      await expectFailure('mismatch', await rawTar(entries), 'E_DIGEST_MISMATCH', both);
      await expectFailure('mismatch-gz', await rawTar(entries), 'E_DIGEST_MISMATCH', both, true);
    });

    it('not a tar archive at all', async () => {
      await expectFailure('garbage', randomBytes(4096), 'E_BAD_INPUT', /not a valid tar archive/);
    });
  });
});

async function readAllBlob(src: ImageSource, d: Digest, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of payloadStream(await src.getBlob({ digest: d, size }))) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
