/**
 * containers-storage: against podman with a private store (vfs, --root/--runroot in a temp dir,
 * never the system's), a docker-registry on loopback, and skopeo as the independent reader.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ocikit, run } from '../helpers/cli.js';
import { makeLayer, writeImage } from '../../support/images.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { podmanStore, type PodmanStore } from '../../support/podman.js';
import { startRegistry, type RegistryHandle } from '../../support/registry.js';
import { sha } from '../../support/digest.js';

interface Layout {
  manifestDigest: string;
  id: string;
  diffIDs: string[];
  config: unknown;
}

function layoutFacts(layout: string): Layout {
  const blob = (d: string): Buffer => readFileSync(join(layout, 'blobs', 'sha256', d.slice(7)));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const m = JSON.parse(blob(index.manifests[0]!.digest).toString()) as { config: { digest: string } };
  const config = JSON.parse(blob(m.config.digest).toString()) as { rootfs: { diff_ids: string[] } };
  return { manifestDigest: index.manifests[0]!.digest, id: m.config.digest, diffIDs: config.rootfs.diff_ids, config };
}

/** One line on stderr, starting with "ocikit: ". */
function oneLine(stderr: string): void {
  assert.match(stderr, /^ocikit: [^\n]+\n$/, `expected one error line, got: ${JSON.stringify(stderr)}`);
}

/** An OCI layout of one image whose single layer is `layer` (uncompressed media type), tagged "latest". */
function layoutWithLayer(dir: string, layer: Buffer): string {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer): string => {
    writeFileSync(join(blobs, sha(b).slice(7)), b);
    return sha(b);
  };
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha(layer)] } }));
  const m = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(cfg), size: cfg.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: put(layer), size: layer.length }],
    }),
  );
  put(m);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(m), size: m.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
    }),
  );
  return dir;
}

describe('containers-storage: against podman with a private vfs store', () => {
  let pm: PodmanStore;
  let spec: string;
  let dir: string;
  let storeDir: string;
  let registry: RegistryHandle;
  let skopeo: string;
  const hello = layoutFacts(fixture('hello-oci'));

  before(async () => {
    dir = tempDir('ocikit-storage-');
    storeDir = join(dir, 'store');
    pm = podmanStore();
    spec = `[vfs@${join(pm.root, 'root')}+${join(pm.root, 'run')}]`;
    skopeo = requirePeer('skopeo');
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
  });

  const cli = (args: string[], opts: { store?: string; env?: NodeJS.ProcessEnv } = {}): ReturnType<typeof ocikit> =>
    ocikit(['--store', opts.store ?? storeDir, ...args], opts.env ? { env: opts.env } : {});
  const inspect = (name: string): { Id: string; Digest: string; RepoTags: string[]; RootFS: { Layers: string[] } } | undefined => {
    const r = pm.podman(['image', 'inspect', name], { allowFail: true });
    return r.code === 0 ? (JSON.parse(r.stdout) as Array<{ Id: string; Digest: string; RepoTags: string[]; RootFS: { Layers: string[] } }>)[0] : undefined;
  };
  const names = (): string[] => (JSON.parse(pm.podman(['images', '--format', 'json']).stdout) as Array<{ Names?: string[] }>).flatMap((i) => i.Names ?? []).sort();
  const stagingLeft = (store: string): string[] => (existsSync(join(store, 'tmp')) ? readdirSync(join(store, 'tmp')).filter((n) => n.startsWith('containers-storage.')) : []);

  it('oci: -> containers-storage: -> docker://: podman keeps the manifest digest, and skopeo reads the same image from the registry', () => {
    let r = cli(['copy', `oci:${fixture('hello-oci')}:latest`, `containers-storage:${spec}ocikit/hello:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const img = inspect('docker.io/ocikit/hello:v1')!;
    assert.equal(`sha256:${img.Id}`, hello.id, 'podman names the image by its config digest');
    assert.equal(img.Digest, hello.manifestDigest, 'podman keeps the manifest as copied');
    assert.deepEqual(img.RootFS.Layers, hello.diffIDs);
    assert.deepEqual(img.RepoTags, ['docker.io/ocikit/hello:v1']);
    // podman can make a container of it, and its root filesystem is the layers applied in order
    // (the second layer's whiteout removed etc/motd). (podman run itself needs privileges this sandbox lacks.)
    const cid = pm.podman(['create', 'docker.io/ocikit/hello:v1', '/bin/hello']).stdout.trim();
    pm.podman(['rm', cid]);
    const mnt = pm.podman(['image', 'mount', 'docker.io/ocikit/hello:v1']).stdout.trim();
    try {
      assert.ok(existsSync(join(mnt, 'etc', 'hostname')));
      assert.equal(existsSync(join(mnt, 'etc', 'motd')), false);
    } finally {
      pm.podman(['image', 'unmount', 'docker.io/ocikit/hello:v1']);
    }

    r = cli(['copy', '--dest-tls-verify=false', `containers-storage:${spec}ocikit/hello:v1`, `docker://${registry.host}/ocikit/hello:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const raw = run(skopeo, ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/ocikit/hello:v1`]).stdout;
    assert.equal(sha(raw), hello.manifestDigest, 'byte for byte the image that went in');
    assert.deepEqual(JSON.parse(run(skopeo, ['inspect', '--config', '--raw', '--tls-verify=false', `docker://${registry.host}/ocikit/hello:v1`]).stdout), hello.config);
    assert.deepEqual(stagingLeft(storeDir), []);
  });

  it('with a store that never saw the image, podman exports it: same config and diff IDs, layers labelled as the plain tars they are', () => {
    const fresh = join(dir, 'fresh-store');
    const r = cli(['copy', '--dest-tls-verify=false', `containers-storage:${spec}ocikit/hello:v1`, `docker://${registry.host}/ocikit/hello:v2`], { store: fresh });
    assert.equal(r.code, 0, r.stderr);
    const ref = `docker://${registry.host}/ocikit/hello:v2`;
    assert.equal(JSON.parse(run(skopeo, ['inspect', '--raw', '--tls-verify=false', ref]).stdout).config.digest, hello.id);
    const out = join(dir, 'decompressed');
    run(skopeo, ['copy', '-q', '--src-tls-verify=false', '--dest-decompress', ref, `dir:${out}`]);
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { layers: Array<{ digest: string }> };
    assert.deepEqual(
      m.layers.map((l) => sha(readFileSync(join(out, l.digest.slice(7))))),
      hello.diffIDs,
    );
    assert.deepEqual(stagingLeft(fresh), []);

    const raw = JSON.parse(cli(['inspect', '--raw', `containers-storage:${spec}ocikit/hello:v1`], { store: join(dir, 'fresh-store-2') }).stdout) as {
      layers: Array<{ mediaType: string; digest: string }>;
    };
    assert.deepEqual(
      raw.layers.map((l) => [l.mediaType, l.digest]),
      hello.diffIDs.map((d) => ['application/vnd.oci.image.layer.v1.tar', d]),
    );
  });

  it('to oci:, podman gzips the layers as it exports them: no plain layer reaches the store, and the manifest names what was written', () => {
    const big = makeLayer([{ name: 'words.txt', data: 'layer blob digest usr lib share\n'.repeat(110_000) }]);
    const small = makeLayer([{ name: 'small.txt', data: 'small\n' }]);
    const layout = join(dir, 'packed-src');
    writeImage(layout, [big, small], 'packed');
    let r = cli(['copy', '-q', `oci:${layout}:latest`, `containers-storage:${spec}ocikit/packed:1`]);
    assert.equal(r.code, 0, r.stderr);

    const store = join(dir, 'packed-store');
    const out = join(dir, 'packed-oci');
    r = cli(['copy', '-q', `containers-storage:${spec}ocikit/packed:1`, `oci:${out}:x`], { store });
    assert.equal(r.code, 0, r.stderr);
    for (const d of [big.diffId, small.diffId]) assert.equal(existsSync(join(store, 'blobs', 'sha256', d.slice(7))), false, `plain layer ${d} was never stored`);
    const idx = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const m = JSON.parse(readFileSync(join(out, 'blobs', 'sha256', idx.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: Array<{ mediaType: string; digest: string; size: number }> };
    assert.deepEqual(
      m.layers.map((l) => l.mediaType),
      ['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+gzip'],
    );
    for (const l of m.layers) {
      const b = readFileSync(join(out, 'blobs', 'sha256', l.digest.slice(7)));
      assert.equal(sha(b), l.digest);
      assert.equal(b.length, l.size);
    }
    assert.deepEqual(
      m.layers.map((l) => sha(gunzipSync(readFileSync(join(out, 'blobs', 'sha256', l.digest.slice(7)))))),
      [big.diffId, small.diffId],
    );
    assert.deepEqual(JSON.parse(run(skopeo, ['inspect', '--config', `oci:${out}:x`]).stdout).rootfs.diff_ids, [big.diffId, small.diffId]);
    assert.deepEqual(stagingLeft(store), []);
  });

  it('an image podman built copies out byte-faithfully: the manifest podman keeps, its config, its layers', () => {
    const ctx = join(dir, 'build');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'f.txt'), 'built by podman\n');
    writeFileSync(join(ctx, 'Containerfile'), 'FROM scratch\nCOPY f.txt /f.txt\nLABEL org.example=built\n');
    pm.podman(['build', '-q', '-t', 'localhost/ocikit/built:1', ctx]);
    const built = inspect('localhost/ocikit/built:1')!;

    const out = join(dir, 'built-oci');
    // --preserve-digests: oci: keeps podman's plain layers as they are (as skopeo does with it),
    // where it would otherwise gzip them.
    const r = cli(['copy', '--preserve-digests', `containers-storage:${spec}localhost/ocikit/built:1`, `oci:${out}:b`], { store: join(dir, 'built-store') });
    assert.equal(r.code, 0, r.stderr);
    const facts = layoutFacts(out);
    assert.equal(facts.manifestDigest, built.Digest, 'the manifest digest podman reports');
    assert.equal(facts.id, `sha256:${built.Id}`);
    assert.deepEqual(facts.diffIDs, built.RootFS.Layers);
    // skopeo, reading the same image into dir: (no conversion), gets the same manifest.
    const sk = join(dir, 'built-skopeo');
    run(skopeo, ['copy', '-q', `containers-storage:${spec}localhost/ocikit/built:1`, `dir:${sk}`]);
    assert.equal(sha(readFileSync(join(sk, 'manifest.json'))), facts.manifestDigest);
  });

  it('without a store in the reference, storage.conf decides (here the one CONTAINERS_STORAGE_CONF names)', () => {
    const root = join(dir, 'conf-store');
    const conf = join(dir, 'storage.conf');
    writeFileSync(conf, `[storage]\ndriver = "vfs"\ngraphroot = "${join(root, 'root')}"\nrunroot = "${join(root, 'run')}"\n`);
    const env = { CONTAINERS_STORAGE_CONF: conf };
    let r = cli(['copy', '-q', `oci:${fixture('hello-oci')}:latest`, 'containers-storage:ocikit/conf:1'], { env });
    assert.equal(r.code, 0, r.stderr);
    const listed = run(requirePeer('podman'), [
      '--root',
      join(root, 'root'),
      '--runroot',
      join(root, 'run'),
      '--storage-driver',
      'vfs',
      'images',
      '--format',
      '{{.Repository}}:{{.Tag}} {{.ID}}',
    ]).stdout.trim();
    assert.equal(listed, `docker.io/ocikit/conf:1 ${hello.id.slice(7, 19)}`);
    r = cli(['inspect', '--raw', 'containers-storage:ocikit/conf:1'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(r.stdout), hello.manifestDigest);
  });

  it('reads by full ID and by ID prefix; an ID or a digest cannot name a destination', () => {
    const id = hello.id.slice(7);
    for (const name of [`${spec}${id}`, `${spec}@${id.slice(0, 12)}`, `${spec}ocikit/hello:v1@${id}`]) {
      const r = cli(['inspect', '--raw', `containers-storage:${name}`]);
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.equal(JSON.parse(r.stdout).config.digest, hello.id);
    }
    for (const name of [`${spec}${id}`, `${spec}ocikit/hello@${hello.manifestDigest}`]) {
      const r = cli(['copy', `oci:${fixture('hello-oci')}:latest`, `containers-storage:${name}`]);
      assert.equal(r.code, 1);
      oneLine(r.stderr);
    }
  });

  it('inspect shows what skopeo inspect shows; a missing image exits 2 with one line', () => {
    const r = cli(['inspect', `containers-storage:${spec}ocikit/hello:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const ours = JSON.parse(r.stdout) as Record<string, unknown>;
    const theirs = JSON.parse(run(skopeo, ['inspect', `containers-storage:${spec}ocikit/hello:v1`]).stdout) as Record<string, unknown>;
    for (const k of ['Name', 'Digest', 'RepoTags', 'Created', 'DockerVersion', 'Labels', 'Architecture', 'Os', 'Layers', 'Env']) assert.deepEqual(ours[k], theirs[k], k);
    const missing = cli(['inspect', `containers-storage:${spec}ocikit/nope:v1`]);
    assert.equal(missing.code, 2);
    oneLine(missing.stderr);
    assert.match(missing.stderr, /image not known/);
  });

  it('without podman, one line naming the package to install, and nothing written', () => {
    const env = { PATH: join(dir, 'empty-bin') };
    let r = cli(['copy', `oci:${fixture('hello-oci')}:latest`, `containers-storage:${spec}ocikit/hello:nopodman`], { env });
    assert.equal(r.code, 1);
    oneLine(r.stderr);
    assert.match(r.stderr, /needs podman, which is not installed .*apt-get install podman/);
    r = cli(['copy', `containers-storage:${spec}ocikit/hello:v1`, `oci:${join(dir, 'nopodman')}:x`], { env });
    assert.equal(r.code, 1);
    oneLine(r.stderr);
    assert.equal(existsSync(join(dir, 'nopodman')), false);
  });

  it("a copy that fails before commit leaves podman's store as it was, and no staging behind", () => {
    const layout = join(dir, 'corrupt-oci');
    cpSync(fixture('hello-oci'), layout, { recursive: true });
    const blobs = join(layout, 'blobs', 'sha256');
    const biggest = readdirSync(blobs).sort((a, b) => readFileSync(join(blobs, b)).length - readFileSync(join(blobs, a)).length)[0]!;
    const bytes = readFileSync(join(blobs, biggest));
    bytes[bytes.length - 10]! ^= 0xff;
    writeFileSync(join(blobs, biggest), bytes);
    const before = names();
    const store = join(dir, 'corrupt-store');
    const r = cli(['copy', '-q', `oci:${layout}:latest`, `containers-storage:${spec}ocikit/corrupt:1`], { store });
    assert.equal(r.code, 1);
    oneLine(r.stderr);
    assert.deepEqual(names(), before);
    assert.deepEqual(stagingLeft(store), []);
  });

  it("a layer podman cannot apply: podman's error as one line, and no image, named or not, is left", () => {
    // Bytes that are not a tar archive, under a correct digest: only podman, applying it, finds out.
    const layout = layoutWithLayer(join(dir, 'not-a-tar'), randomBytes(4096));
    const countBefore = JSON.parse(pm.podman(['images', '-a', '--format', 'json']).stdout).length as number;
    const r = cli(['copy', '-q', `oci:${layout}:latest`, `containers-storage:${spec}ocikit/not-a-tar:1`]);
    assert.equal(r.code, 1);
    oneLine(r.stderr);
    assert.match(r.stderr, /^ocikit: writing containers-storage:\S+ocikit\/not-a-tar:1: podman: .*invalid tar header/);
    assert.equal(JSON.parse(pm.podman(['images', '-a', '--format', 'json']).stdout).length, countBefore);
    assert.equal(inspect('docker.io/ocikit/not-a-tar:1'), undefined);
  });

  it('the image removed just as podman is asked to export it: one line, exit 2, nothing at the destination', () => {
    // A podman on PATH that removes the image (with the real podman) and then runs the export:
    // the removal lands between ocikit's lookup and the export, every time.
    const real = requirePeer('podman');
    const bin = join(dir, 'bin-remove');
    mkdirSync(bin, { recursive: true });
    // An image of its own (an empty layer), so that removing it removes the ID the export asks for.
    const own = layoutWithLayer(join(dir, 'doomed-layout'), Buffer.alloc(10240));
    let r = cli(['copy', '-q', `oci:${own}:latest`, `containers-storage:${spec}ocikit/doomed:1`]);
    assert.equal(r.code, 0, r.stderr);
    const flags = `--root ${join(pm.root, 'root')} --runroot ${join(pm.root, 'run')} --storage-driver vfs`;
    writeFileSync(join(bin, 'podman'), `#!/bin/sh\ncase " $* " in *" push "*) ${real} ${flags} rmi -f docker.io/ocikit/doomed:1 >/dev/null 2>&1;; esac\nexec ${real} "$@"\n`);
    chmodSync(join(bin, 'podman'), 0o755);
    const out = join(dir, 'doomed-out');
    r = cli(['copy', '-q', `containers-storage:${spec}ocikit/doomed:1`, `oci:${out}:x`], { store: join(dir, 'doomed-store'), env: { PATH: `${bin}:${process.env.PATH ?? ''}` } });
    assert.equal(r.code, 2, r.stderr);
    oneLine(r.stderr);
    assert.match(r.stderr, /removed while it was being read/);
    assert.equal(existsSync(out), false);
    assert.equal(inspect('docker.io/ocikit/doomed:1'), undefined);
    assert.deepEqual(stagingLeft(join(dir, 'doomed-store')), []);
  });
});
