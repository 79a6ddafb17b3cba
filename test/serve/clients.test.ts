/**
 * `ocikit serve` against the real clients: skopeo, ocikit's own docker:// transport, a private
 * dockerd and podman pull from it and push to it; what they read back is compared with what was
 * served, byte for byte or by digest.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BlobStore } from '../../lib/store/index.js';
import { ocikit, run } from '../helpers/cli.js';
import { startDockerd, type DockerEngine } from '../../support/dockerd.js';
import { ociImage, randomLayer } from '../helpers/layer-images.js';
import { sha } from '../../support/digest.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { podmanStore } from '../../support/podman.js';
import { startRegistry } from '../../support/registry.js';
import { startServe, type ServeHandle } from '../helpers/serve.js';
import { refsOf } from '../helpers/store.js';

const HELLO = fixture('hello-oci');
const helloManifest = JSON.parse(readFileSync(join(HELLO, 'index.json'), 'utf8')).manifests[0].digest as string;
const helloBlob = (d: string): Buffer => readFileSync(join(HELLO, 'blobs', 'sha256', d.slice(7)));
const helloConfig = JSON.parse(helloBlob(helloManifest).toString()).config.digest as string;
const helloDiffIDs = JSON.parse(helloBlob(helloConfig).toString()).rootfs.diff_ids as string[];

function ok(r: { code: number; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
}

describe('ocikit serve: skopeo, ocikit docker://, dockerd and podman', () => {
  let dir: string;
  let store: string;
  let client: string;
  let srv: ServeHandle;
  let skopeo: string;

  before(async () => {
    skopeo = requirePeer('skopeo');
    dir = tempDir('ocikit-serve-');
    store = join(dir, 'store');
    client = join(dir, 'client-store');
    ok(ocikit(['--store', store, 'copy', '-q', `oci:${HELLO}:latest`, 'store:hello:v1']), 'seeding store:hello:v1');
    srv = await startServe(store);
  });
  after(async () => {
    await srv?.stop();
  });

  it('skopeo pulls a store: image byte for byte and pushes one that is then served and named store:NAME:TAG', () => {
    const out = join(dir, 'sk-pull');
    run(skopeo, ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${srv.host}/hello:v1`, `oci:${out}:x`]);
    const raw = run(skopeo, ['inspect', '--raw', `oci:${out}:x`]).stdout;
    assert.equal(sha(Buffer.from(raw)), helloManifest);

    const img = ociImage(join(dir, 'sk-src'), [randomLayer(200_000), randomLayer(3_000)]);
    run(skopeo, ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', img.ref, `docker://${srv.host}/team/app:1`]);
    assert.equal(refsOf(store).get('store:team/app:1'), img.manifestDigest);
    const back = run(skopeo, ['inspect', '--raw', '--tls-verify=false', `docker://${srv.host}/team/app:1`]).stdout;
    assert.equal(sha(Buffer.from(back)), img.manifestDigest);
    const d = join(dir, 'sk-pull-app');
    run(skopeo, ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${srv.host}/team/app:1`, `dir:${d}`]);
    for (const l of img.layers) assert.deepEqual(readFileSync(join(d, l.digest.slice(7))), l.gz, `layer ${l.digest}`);
    const tags = JSON.parse(run(skopeo, ['list-tags', '--tls-verify=false', `docker://${srv.host}/team/app`]).stdout) as { Tags: string[] };
    assert.deepEqual(tags.Tags, ['1']);
  });

  it("ocikit's docker:// pushes in chunks and whole, and pulls back the same digests", () => {
    const img = ociImage(join(dir, 'ok-src'), [randomLayer(300_000), randomLayer(10_000)]);
    ok(ocikit(['--store', client, 'copy', '-q', '--dest-tls-verify=false', '--dest-chunk-size', '16k', img.ref, `docker://${srv.host}/ocikit/chunked:1`]), 'chunked push');
    ok(ocikit(['--store', join(dir, 'client2'), 'copy', '-q', '--dest-tls-verify=false', img.ref, `docker://${srv.host}/ocikit/whole:1`]), 'monolithic push');
    const refs = refsOf(store);
    assert.equal(refs.get('store:ocikit/chunked:1'), img.manifestDigest);
    assert.equal(refs.get('store:ocikit/whole:1'), img.manifestDigest);
    const out = join(dir, 'ok-pull');
    ok(ocikit(['--store', join(dir, 'client3'), 'copy', '-q', '--src-tls-verify=false', `docker://${srv.host}/ocikit/chunked:1`, `dir:${out}`]), 'pull');
    for (const l of img.layers) assert.deepEqual(readFileSync(join(out, l.digest.slice(7))), l.gz);
    const tags = ocikit(['--store', client, 'list-tags', '--tls-verify=false', `docker://${srv.host}/ocikit/chunked`]);
    ok(tags, 'list-tags');
    assert.deepEqual(JSON.parse(tags.stdout).Tags, ['1']);
  });

  it('podman pulls a store: image with the right layers', () => {
    const p = podmanStore();
    p.podman(['pull', '-q', '--tls-verify=false', `${srv.host}/hello:v1`]);
    const [id, layers] = p
      .podman(['image', 'inspect', '--format', '{{.Id}} {{json .RootFS.Layers}}', `${srv.host}/hello:v1`])
      .stdout.trim()
      .split(' ');
    assert.equal(`sha256:${id}`, helloConfig);
    assert.deepEqual(JSON.parse(layers!), helloDiffIDs);
  });

  it('serves what copy recorded for registries under the canonical name, and Docker Hub names also without docker.io/', () => {
    // What `ocikit copy docker://busybox:1.36 …` records (no network here: the ref is set as copy sets it).
    const s = BlobStore.open(store);
    try {
      s.setRef('docker://busybox:1.36', helloManifest);
      s.setRef('docker://quay.io/org/tool@' + helloManifest, helloManifest);
    } finally {
      s.close();
    }
    for (const name of ['docker.io/library/busybox:1.36', 'library/busybox:1.36', 'busybox:1.36', `quay.io/org/tool@${helloManifest}`]) {
      const raw = run(skopeo, ['inspect', '--raw', '--tls-verify=false', `docker://${srv.host}/${name}`]).stdout;
      assert.equal(sha(Buffer.from(raw)), helloManifest, name);
    }
    const cat = ocikit(['--store', client, 'list-tags', '--tls-verify=false', `docker://${srv.host}/library/busybox`]);
    ok(cat, 'list-tags through the alias');
    assert.deepEqual(JSON.parse(cat.stdout).Tags, ['1.36']);
  });

  it('serves an image copy recorded from a registry on a port as HOST_PORT/NAME', async () => {
    const reg = await startRegistry();
    try {
      const img = ociImage(join(dir, 'reg-src'), [randomLayer(20_000)]);
      run(skopeo, ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', img.ref, `docker://${reg.host}/mirror/app:7`]);
      // A copy out of the registry through the served store records docker://127.0.0.1:PORT/mirror/app:7.
      ok(ocikit(['--store', store, 'copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/mirror/app:7`, `oci:${join(dir, 'reg-out')}:x`]), 'copy from the registry');
      const served = `${reg.host.replace(':', '_')}/mirror/app`;
      const raw = run(skopeo, ['inspect', '--raw', '--tls-verify=false', `docker://${srv.host}/${served}:7`]).stdout;
      assert.equal(sha(Buffer.from(raw)), img.manifestDigest);
      const cat = (await (await fetch(`${srv.url}/v2/_catalog`)).json()) as { repositories: string[] };
      assert.ok(cat.repositories.includes(served), JSON.stringify(cat));
    } finally {
      await reg.stop();
    }
  });

  it('skopeo delete by digest removes every tag of that manifest in the repository; the blobs stay for gc', () => {
    const img = ociImage(join(dir, 'del-src'), [randomLayer(5_000)]);
    for (const tag of ['a', 'b']) run(skopeo, ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', img.ref, `docker://${srv.host}/del/me:${tag}`]);
    run(skopeo, ['delete', '--tls-verify=false', `docker://${srv.host}/del/me@${img.manifestDigest}`]);
    const refs = refsOf(store);
    assert.equal(refs.has('store:del/me:a'), false);
    assert.equal(refs.has('store:del/me:b'), false);
    for (const ref of ['del/me:a', `del/me@${img.manifestDigest}`]) {
      const gone = run(skopeo, ['inspect', '--raw', '--tls-verify=false', `docker://${srv.host}/${ref}`], { allowFail: true });
      assert.notEqual(gone.code, 0, ref);
      assert.match(gone.stderr, /manifest unknown/i, ref);
    }
    assert.ok(readdirSync(join(store, 'blobs', 'sha256')).includes(img.layers[0]!.digest.slice(7)));
  });

  describe('a private dockerd', () => {
    let engine: DockerEngine | undefined;
    before(async () => {
      engine = await startDockerd({ insecureRegistries: [srv.host] });
    });
    after(async () => {
      await engine?.stop();
    });

    it('pulls a store: image: the image ID is the config digest, the layers the config diff IDs', () => {
      engine!.docker(['pull', '-q', `${srv.host}/hello:v1`]);
      const [id, layers] = engine!
        .docker(['image', 'inspect', '--format', '{{.Id}} {{json .RootFS.Layers}}', `${srv.host}/hello:v1`])
        .stdout.trim()
        .split(' ');
      assert.equal(id, helloConfig);
      assert.deepEqual(JSON.parse(layers!), helloDiffIDs);
    });

    it('pushes an image it loaded: served back with the same config, layers that decompress to its diff IDs', () => {
      const img = ociImage(join(dir, 'dk-src'), [randomLayer(150_000), randomLayer(2_000)]);
      const archive = join(dir, 'dk.tar');
      ok(ocikit(['--store', client, 'copy', '-q', img.ref, `docker-archive:${archive}:fromdocker/app:1`]), 'making the archive');
      engine!.docker(['load', '-q', '-i', archive]);
      engine!.docker(['tag', 'fromdocker/app:1', `${srv.host}/fromdocker/app:1`]);
      engine!.docker(['push', '-q', `${srv.host}/fromdocker/app:1`]);
      const m = JSON.parse(run(skopeo, ['inspect', '--raw', '--tls-verify=false', `docker://${srv.host}/fromdocker/app:1`]).stdout) as { config: { digest: string } };
      assert.equal(m.config.digest, img.configDigest);
      const d = join(dir, 'dk-back');
      run(skopeo, ['--insecure-policy', 'copy', '-q', '--dest-decompress', '--src-tls-verify=false', `docker://${srv.host}/fromdocker/app:1`, `dir:${d}`]);
      const layers = (JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as { layers: Array<{ digest: string }> }).layers;
      assert.deepEqual(
        layers.map((l) => sha(readFileSync(join(d, l.digest.slice(7))))),
        img.layers.map((l) => l.diffID),
      );
      assert.ok(refsOf(store).has('store:fromdocker/app:1'));
    });
  });
});

describe('ocikit serve: the protocol details clients rely on', () => {
  let dir: string;
  let store: string;
  let srv: ServeHandle;
  before(async () => {
    dir = tempDir('ocikit-serve-proto-');
    store = join(dir, 'store');
    for (const tag of ['a', 'b', 'c', 'd', 'e']) ok(ocikit(['--store', store, 'copy', '-q', `oci:${HELLO}:latest`, `store:page/repo:${tag}`]), tag);
    for (const r of ['one', 'two', 'three']) ok(ocikit(['--store', store, 'copy', '-q', `oci:${HELLO}:latest`, `store:cat/${r}:1`]), r);
    srv = await startServe(store, ['--read-only']);
  });
  after(async () => {
    await srv?.stop();
  });

  it('tags list and catalog page with n and last, and a Link to the next page', async () => {
    const pages: string[][] = [];
    let next: string | undefined = '/v2/page/repo/tags/list?n=2';
    while (next) {
      const res: Response = await fetch(srv.url + next);
      assert.equal(res.status, 200);
      pages.push(((await res.json()) as { tags: string[] }).tags);
      next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
    }
    assert.deepEqual(pages, [['a', 'b'], ['c', 'd'], ['e']]);
    const cat = await fetch(`${srv.url}/v2/_catalog?n=2&last=cat/one`);
    assert.deepEqual(await cat.json(), { repositories: ['cat/three', 'cat/two'] });
    assert.match(cat.headers.get('link') ?? '', /last=cat%2Ftwo/);
    const unknown = await fetch(`${srv.url}/v2/no/such/tags/list`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, 'NAME_UNKNOWN');
    const badN = await fetch(`${srv.url}/v2/page/repo/tags/list?n=-1`);
    assert.equal(badN.status, 400);
  });

  it('blobs answer Range requests (206, Content-Range), and 416 beyond the end', async () => {
    const layer = JSON.parse(helloBlob(helloManifest).toString()).layers[0].digest as string;
    const whole = helloBlob(layer);
    const part = await fetch(`${srv.url}/v2/page/repo/blobs/${layer}`, { headers: { Range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${whole.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), whole.subarray(100, 200));
    const tail = await fetch(`${srv.url}/v2/page/repo/blobs/${layer}`, { headers: { Range: 'bytes=-10' } });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), whole.subarray(whole.length - 10));
    const beyond = await fetch(`${srv.url}/v2/page/repo/blobs/${layer}`, { headers: { Range: `bytes=${whole.length}-` } });
    assert.equal(beyond.status, 416);
    const head = await fetch(`${srv.url}/v2/page/repo/blobs/${layer}`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), String(whole.length));
    assert.equal(head.headers.get('docker-content-digest'), layer);
  });

  it('--read-only refuses pushes and deletes with UNSUPPORTED (405) and stores nothing', () => {
    const skopeo = requirePeer('skopeo');
    const before = refsOf(store);
    const img = ociImage(join(dir, 'ro-src'), [randomLayer(4_000)]);
    const push = run(skopeo, ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', img.ref, `docker://${srv.host}/ro/x:1`], { allowFail: true });
    assert.notEqual(push.code, 0);
    const del = run(skopeo, ['delete', '--tls-verify=false', `docker://${srv.host}/page/repo:a`], { allowFail: true });
    assert.notEqual(del.code, 0);
    assert.deepEqual(refsOf(store), before);
    assert.equal(readdirSync(join(store, 'blobs', 'sha256')).includes(img.layers[0]!.digest.slice(7)), false);
  });
});
