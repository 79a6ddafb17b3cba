/**
 * zstd:chunked against the real peers: ocikit pushes an image with `--dest-compress-format
 * zstd:chunked` to a docker-registry; podman 4.3, with partial pulls enabled in its storage.conf,
 * pulls it in parts (range requests for the TOC and the files) and shows the files; skopeo 1.9
 * copies it back and its layers decompress to the image's diff IDs; ocikit reads it as zstd and
 * turns it into gzip without the chunked annotations. The same push twice gives the same digest.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decompress } from 'zstd-napi';
import { ocikit, run } from '../helpers/cli.js';
import { makeLayer, pseudoRandom, writeImage, type Layer } from '../../support/images.js';
import { requirePeer } from '../../support/peers.js';
import { tempDir } from '../helpers/paths.js';
import { startRegistry, type RegistryHandle } from '../../support/registry.js';
import { checkZstdChunked } from '../helpers/zstd-chunked.js';

type Manifest = { mediaType: string; config: { digest: string }; layers: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string> }> };

const FILES = [
  { name: 'etc/motd', data: 'welcome\n' },
  { name: 'opt/app/big.bin', data: pseudoRandom(300 * 1024, 'chunked-big') },
  { name: 'opt/app/sparse.bin', data: Buffer.concat([pseudoRandom(2000, 's1'), Buffer.alloc(8192), pseudoRandom(100, 's2')]) },
];

describe('zstd:chunked with podman and skopeo', () => {
  let reg: RegistryHandle;
  let dir: string;
  let layer: Layer;
  let config: { rootfs: { diff_ids: string[] } };

  const copy = (store: string, ...args: string[]): void => {
    const r = ocikit(['--store', join(dir, store), 'copy', '-q', '--src-tls-verify=false', '--dest-tls-verify=false', ...args]);
    assert.equal(r.code, 0, r.stderr);
  };
  const manifestOf = (ref: string): Manifest => JSON.parse(ocikit(['inspect', '--raw', '--tls-verify=false', ref]).stdout) as Manifest;
  const blob = async (digest: string): Promise<Buffer> => Buffer.from(await (await fetch(`${reg.url}/v2/app/blobs/${digest}`)).arrayBuffer());

  before(async () => {
    reg = await startRegistry();
    dir = tempDir('ocikit-zchunked-interop-');
    layer = makeLayer(FILES);
    writeImage(join(dir, 'src'), [layer], 'chunked');
    const m = JSON.parse(readFileSync(join(dir, 'src', 'blobs', 'sha256', JSON.parse(readFileSync(join(dir, 'src', 'index.json'), 'utf8')).manifests[0].digest.slice(7)), 'utf8')) as Manifest;
    config = JSON.parse(readFileSync(join(dir, 'src', 'blobs', 'sha256', m.config.digest.slice(7)), 'utf8')) as typeof config;
    copy('s1', '--dest-compress-format', 'zstd:chunked', `oci:${join(dir, 'src')}:latest`, `docker://${reg.host}/app:chunked`);
  });
  after(async () => {
    await reg.stop();
  });

  it('the pushed layer is zstd:chunked: annotations, TOC, chunks and tar-split check out', async () => {
    const m = manifestOf(`docker://${reg.host}/app:chunked`);
    assert.equal(m.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    const a = m.layers[0]!.annotations!;
    const entries = checkZstdChunked(await blob(m.layers[0]!.digest), a, gunzipSync(layer.gz));
    assert.deepEqual(
      entries.filter((e) => e.type === 'reg').map((e) => e.name),
      FILES.map((f) => f.name),
    );
  });

  it('the same push from another store writes the same bytes (same manifest digest)', () => {
    copy('s2', '--dest-compress-format', 'zstd:chunked', `oci:${join(dir, 'src')}:latest`, `docker://${reg.host}/app:again`);
    const digest = (tag: string): string => (JSON.parse(ocikit(['inspect', '--tls-verify=false', `docker://${reg.host}/app:${tag}`]).stdout) as { Digest: string }).Digest;
    assert.equal(digest('again'), digest('chunked'));
  });

  it('podman 4.3 with partial pulls enabled pulls the layer in parts, and has every file', () => {
    const podman = requirePeer('podman');
    const root = tempDir('ocikit-zc-podman-');
    const conf = join(root, 'storage.conf');
    // overlay: the only driver podman 4.3 pulls layers in parts into
    writeFileSync(
      conf,
      `[storage]\ndriver = "overlay"\nrunroot = "${root}/run"\ngraphroot = "${root}/graph"\n[storage.options]\npull_options = {enable_partial_images = "true", use_hard_links = "false", ostree_repos = ""}\n`,
    );
    const env = { ...process.env, CONTAINERS_STORAGE_CONF: conf, TMPDIR: root };
    const pm = (args: string[]): { code: number; stdout: string; stderr: string } => {
      const r = spawnSync(podman, ['--events-backend', 'file', '--cgroup-manager', 'cgroupfs', ...args], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    const image = `${reg.host}/app:chunked`;
    const pulled = pm(['--log-level=debug', 'pull', '--tls-verify=false', image]);
    assert.equal(pulled.code, 0, pulled.stderr.slice(-2000));
    const digest = manifestOf(`docker://${image}`).layers[0]!.digest;
    assert.match(pulled.stderr, new RegExp(`Retrieved partial blob ${digest}`), 'podman took the partial-pull path');
    const mount = pm(['image', 'mount', image]);
    assert.equal(mount.code, 0, mount.stderr);
    try {
      const at = mount.stdout.trim();
      for (const f of FILES) assert.ok(readFileSync(join(at, f.name)).equals(Buffer.from(f.data)), `${f.name} as in the image`);
    } finally {
      pm(['image', 'unmount', image]);
      pm(['rmi', '-a', '-f']);
    }
  });

  it('skopeo 1.9 copies it back: digests verified, layers decompress to the diff IDs', () => {
    const skopeo = requirePeer('skopeo');
    const out = join(dir, 'by-skopeo');
    run(skopeo, ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/app:chunked`, `oci:${out}:x`]);
    const idx = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const m = JSON.parse(readFileSync(join(out, 'blobs', 'sha256', idx.manifests[0]!.digest.slice(7)), 'utf8')) as Manifest;
    const tar = decompress(readFileSync(join(out, 'blobs', 'sha256', m.layers[0]!.digest.slice(7))));
    assert.equal(`sha256:${createHash('sha256').update(tar).digest('hex')}`, config.rootfs.diff_ids[0]);
    const plain = join(dir, 'by-skopeo-dir');
    mkdirSync(plain);
    run(skopeo, ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', '--dest-decompress', `docker://${reg.host}/app:chunked`, `dir:${plain}`]);
    const dm = JSON.parse(readFileSync(join(plain, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(dm.layers[0]!.digest, config.rootfs.diff_ids[0], 'skopeo decompressed it to the diff ID');
  });

  it('sync --dest-compress-format zstd:chunked recompresses a gzip image to the same layer copy writes', async () => {
    copy('s4', `oci:${join(dir, 'src')}:latest`, `docker://${reg.host}/gz/app:1`);
    assert.equal(manifestOf(`docker://${reg.host}/gz/app:1`).layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    const r = ocikit([
      '--store',
      join(dir, 's4'),
      'sync',
      '-q',
      '--src',
      'docker',
      '--dest',
      'docker',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      '--dest-compress-format',
      'zstd:chunked',
      `${reg.host}/gz/app:1`,
      `${reg.host}/mirror`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const synced = manifestOf(`docker://${reg.host}/mirror/app:1`).layers[0]!;
    const copied = manifestOf(`docker://${reg.host}/app:chunked`).layers[0]!;
    assert.deepEqual(synced, copied, 'the layer copy --dest-compress-format zstd:chunked wrote, annotations included');
    checkZstdChunked(await blob(synced.digest), synced.annotations!, gunzipSync(layer.gz));
  });

  it('ocikit keeps it as zstd:chunked, and makes it gzip without the chunked annotations', async () => {
    copy('s3', '--dest-compress-format', 'zstd:chunked', `docker://${reg.host}/app:chunked`, `docker://${reg.host}/app:kept`);
    assert.deepEqual(manifestOf(`docker://${reg.host}/app:kept`), manifestOf(`docker://${reg.host}/app:chunked`), 'kept as it is');
    copy('s3', '--dest-compress-format', 'gzip', `docker://${reg.host}/app:chunked`, `docker://${reg.host}/app:gzip`);
    const g = manifestOf(`docker://${reg.host}/app:gzip`).layers[0]!;
    assert.equal(g.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.equal(g.annotations, undefined, 'no annotation of the zstd:chunked blob is left');
    assert.equal(
      `sha256:${createHash('sha256')
        .update(gunzipSync(await blob(g.digest)))
        .digest('hex')}`,
      config.rootfs.diff_ids[0],
    );
  });
});
