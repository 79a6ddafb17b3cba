/**
 * docker:// against a real registry (Debian's docker-registry, distribution 2.8): the conformance
 * suite over TLS (CA found through certs.d), pushes and pulls through every local transport,
 * skopeo reading what ocikit pushed and the reverse with the same digests, reuse by HEAD,
 * cross-repository mounts, chunked uploads, tag listing, delete, and the untrusted-registry checks.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, copyFileSync, existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { copyImage, type ProgressEvent } from '../../lib/copy/index.js';
import { digestBytes } from '../../lib/digest/index.js';
import { isOcikitError } from '../../lib/errors.js';
import { parseManifest } from '../../lib/manifest/index.js';
import { closeDispatchers } from '../../lib/registry/index.js';
import { BlobStore } from '../../lib/store/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import { conformanceSuite } from '../conformance/suite.js';
import { ocikit, ocikitAsync, run } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { ociImage, randomLayer } from '../helpers/layer-images.js';
import { requirePeer } from '../../support/peers.js';
import { startRegistry, type RegistryHandle } from '../../support/registry.js';
import { startServe } from '../helpers/serve.js';
import { lazyStore } from '../helpers/store.js';

// Keep the machine's auth files and certs.d out of the test, and give the TLS registry's CA through certs.d.
const home = tempDir('ocikit-docker-home-');
process.env.HOME = home;
process.env.XDG_CONFIG_HOME = join(home, '.config');
process.env.XDG_RUNTIME_DIR = join(home, 'run');
delete process.env.REGISTRY_AUTH_FILE;
const env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_RUNTIME_DIR: join(home, 'run'), OCIKIT_STORE: join(home, 'store') };

let tlsReg: RegistryHandle;
let reg: RegistryHandle;
let proxy: FaultProxy;

before(async () => {
  [tlsReg, reg] = await Promise.all([startRegistry({ tls: true }), startRegistry()]);
  const certsd = join(home, '.config', 'containers', 'certs.d', tlsReg.host);
  mkdirSync(certsd, { recursive: true });
  copyFileSync(tlsReg.caFile!, join(certsd, 'ca.crt'));
  proxy = await startFaultProxy(reg.host);
});

after(async () => {
  await proxy.close();
  await closeDispatchers();
  await Promise.all([tlsReg.stop(), reg.stop()]);
});

conformanceSuite('docker', { imageName: (d) => `docker://${tlsReg.host}/conf/${basename(d)}:latest`, formats: ['oci', 'v2s2'], supportsIndex: true });

const HELLO = `oci:${fixture('hello-oci')}:latest`;
const HELLO_DIGEST = 'sha256:0f84579c704be60c6d3004afdf7a54631e413c026e4b8cf2dbb90aee9a3495f7';
const insecure = { registry: { tlsVerify: false } };

/** "METHOD /path" of a request the proxy saw. */
const requestLine = (r: { method: string; path: string }): string => `${r.method} ${r.path}`;

function newStore(): BlobStore {
  return BlobStore.open(tempDir('ocikit-docker-store-'));
}

/** The manifest digest skopeo sees for an image on the plain-http registry. */
function skopeoDigest(image: string): string {
  const raw = run(requirePeer('skopeo'), ['inspect', '--raw', '--tls-verify=false', image]).stdout;
  return digestBytes(raw);
}

describe('docker:// push and pull', () => {
  it('oci: -> docker:// -> oci: and dir: keeps the manifest digest (CLI)', () => {
    const image = `docker://${reg.host}/push/hello:v1`;
    let r = ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, image], { env });
    assert.equal(r.code, 0, r.stderr);
    const out = tempDir();
    r = ocikit(['copy', '-q', '--src-tls-verify=false', image, `oci:${join(out, 'layout')}:x`], { env });
    assert.equal(r.code, 0, r.stderr);
    const idx = JSON.parse(readFileSync(join(out, 'layout', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    assert.equal(idx.manifests[0]!.digest, HELLO_DIGEST);
    r = ocikit(['copy', '-q', '--src-tls-verify=false', image, `dir:${join(out, 'dir')}`], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(digestBytes(readFileSync(join(out, 'dir', 'manifest.json'))), HELLO_DIGEST);
    r = ocikit(['inspect', '--raw', '--tls-verify=false', image], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(digestBytes(r.stdout), HELLO_DIGEST);
  });

  it('dir: -> docker:// in v2s2 and back, through a fresh store each way; blob-done says where each blob came from', async () => {
    const out = tempDir();
    const s1 = newStore();
    const s2 = newStore();
    const hows = (): { onProgress: (e: ProgressEvent) => void; seen: string[] } => {
      const seen: string[] = [];
      return { seen, onProgress: (e) => void (e.type === 'blob-done' && seen.push(e.how)) };
    };
    try {
      const v2 = await copyImage(parseImageName(HELLO), parseImageName(`dir:${join(out, 'v2')}`), { store: s1, format: 'v2s2' });
      const push = hows();
      const pushed = await copyImage(parseImageName(`dir:${join(out, 'v2')}`), parseImageName(`docker://${reg.host}/push/v2s2:a`), { store: s2, destCtx: insecure, onProgress: push.onProgress });
      assert.equal(pushed.manifestDigest, v2.manifestDigest);
      assert.equal(pushed.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
      assert.deepEqual(push.seen, ['read', 'read', 'read'], 'a dir: source is read from files, not fetched');
      const s3 = newStore();
      try {
        const pull = hows();
        const pulled = await copyImage(parseImageName(`docker://${reg.host}/push/v2s2:a`), parseImageName(`dir:${join(out, 'back')}`), { store: s3, sourceCtx: insecure, onProgress: pull.onProgress });
        assert.equal(pulled.manifestDigest, v2.manifestDigest);
        assert.equal(pulled.blobsCopied, 3, 'a fresh store fetched every blob');
        assert.deepEqual(pull.seen, ['fetched', 'fetched', 'fetched']);
        const again = hows();
        await copyImage(parseImageName(`docker://${reg.host}/push/v2s2:a`), parseImageName(`dir:${join(out, 'again')}`), { store: s3, sourceCtx: insecure, onProgress: again.onProgress });
        assert.deepEqual(again.seen, ['from-store', 'from-store', 'from-store']);
      } finally {
        s3.close();
      }
    } finally {
      s1.close();
      s2.close();
    }
  });

  it('oci-archive: and docker-archive: to and from docker:// (CLI), skopeo agreeing on the result', () => {
    const out = tempDir();
    const e = { ...env, OCIKIT_STORE: tempDir() };
    const src = `docker://${reg.host}/push/hello:v1`;
    assert.equal(ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, src], { env: e }).code, 0);
    let r = ocikit(['copy', '-q', '--src-tls-verify=false', src, `oci-archive:${join(out, 'o.tar')}:x`], { env: e });
    assert.equal(r.code, 0, r.stderr);
    r = ocikit(['copy', '-q', '--src-tls-verify=false', src, `docker-archive:${join(out, 'd.tar')}:hello:v1`], { env: e });
    assert.equal(r.code, 0, r.stderr);

    // A fresh store each way, so every byte comes out of the archives.
    r = ocikit(['copy', '-q', '--dest-tls-verify=false', `oci-archive:${join(out, 'o.tar')}:x`, `docker://${reg.host}/archives/from-oci:v1`], { env: { ...env, OCIKIT_STORE: tempDir() } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(skopeoDigest(`docker://${reg.host}/archives/from-oci:v1`), HELLO_DIGEST);

    r = ocikit(['copy', '-q', '--json', '--dest-tls-verify=false', `docker-archive:${join(out, 'd.tar')}`, `docker://${reg.host}/archives/from-docker:v1`], {
      env: { ...env, OCIKIT_STORE: tempDir() },
    });
    assert.equal(r.code, 0, r.stderr);
    const pushed = JSON.parse(r.stdout) as { manifestDigest: string };
    assert.equal(skopeoDigest(`docker://${reg.host}/archives/from-docker:v1`), pushed.manifestDigest);
    // docker-archive layers are plain tar; the registry gets them gzipped, with the same image config.
    const m = parseManifest(Buffer.from(run(requirePeer('skopeo'), ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/archives/from-docker:v1`]).stdout));
    assert.equal(m.kind, 'docker-v2s2');
    if (m.kind !== 'docker-v2s2') return;
    assert.ok(m.value.layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
    assert.equal(m.value.config.digest, 'sha256:1002426f0703fe12ca1da6fc771ba6e656f624ebd0e47585982fe3c3042027bb');
    // skopeo writes it back into a docker-archive; ocikit reads that: the same config, layers that decompress to the diff IDs.
    const check = tempDir();
    const back = join(check, 'back.tar');
    run(requirePeer('skopeo'), ['copy', '--src-tls-verify=false', `docker://${reg.host}/archives/from-docker:v1`, `docker-archive:${back}:hello:v1`]);
    r = ocikit(['inspect', '--raw', `docker-archive:${back}:hello:v1`], { env: { ...env, OCIKIT_STORE: tempDir() } });
    assert.equal(r.code, 0, r.stderr);
    const fromBack = parseManifest(Buffer.from(r.stdout));
    assert.ok(fromBack.kind === 'docker-v2s2');
    if (fromBack.kind !== 'docker-v2s2') return;
    assert.equal(fromBack.value.config.digest, 'sha256:1002426f0703fe12ca1da6fc771ba6e656f624ebd0e47585982fe3c3042027bb');
    r = ocikit(['copy', '-q', `docker-archive:${back}:hello:v1`, `oci:${join(check, 'layout')}:x`], { env: { ...env, OCIKIT_STORE: tempDir() } });
    assert.equal(r.code, 0, r.stderr);
    const cfg = JSON.parse(readFileSync(join(check, 'layout', 'blobs', 'sha256', fromBack.value.config.digest.slice(7)), 'utf8')) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(
      fromBack.value.layers.map((l) => l.digest),
      cfg.rootfs.diff_ids,
      'docker-archive layers are plain: their digests are the diff IDs',
    );
  });

  it('a multi-image index is pushed after its instances and read back whole', async () => {
    const store = newStore();
    proxy.requests.length = 0;
    try {
      const res = await copyImage(parseImageName(`oci:${fixture('multiarch-oci')}`), parseImageName(`docker://${proxy.host}/push/multi:all`), { store, multiArch: 'all', destCtx: insecure });
      const puts = proxy.requests.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/')).map((r) => r.path.split('/manifests/')[1]);
      assert.deepEqual(puts.length, 3);
      assert.equal(puts[2], 'all', 'the index goes last, under the tag');
      assert.ok(
        puts.slice(0, 2).every((p) => p!.startsWith('sha256:')),
        'instances go first, by digest',
      );
      assert.equal(skopeoDigest(`docker://${reg.host}/push/multi:all`), res.manifestDigest);
      const out = tempDir();
      const back = await copyImage(parseImageName(`docker://${reg.host}/push/multi:all`), parseImageName(`oci:${out}:m`), { store: newStore(), multiArch: 'all', sourceCtx: insecure });
      assert.equal(back.manifestDigest, res.manifestDigest);
    } finally {
      store.close();
    }
  });

  it('pushing an image the registry already shows under that tag costs one manifest HEAD, nothing else (a cold store: no blob read)', async () => {
    const store = newStore();
    try {
      await copyImage(parseImageName(HELLO), parseImageName(`docker://${proxy.host}/push/again:v1`), { store, destCtx: insecure });
    } finally {
      store.close();
    }
    const cold = newStore();
    proxy.requests.length = 0;
    try {
      const again = await copyImage(parseImageName(HELLO), parseImageName(`docker://${proxy.host}/push/again:v1`), { store: cold, destCtx: insecure });
      assert.deepEqual(proxy.requests.map(requestLine), ['HEAD /v2/push/again/manifests/v1']);
      assert.equal(again.manifestDigest, HELLO_DIGEST);
      assert.equal(again.blobsReused, 3);
      assert.equal(again.bytesRead, 0, 'no blob of the source was read');
      assert.equal(again.bytesWritten, 0);
      // The HEAD showed where the image's blobs are: a push to another repository mounts them from there.
      proxy.requests.length = 0;
      await copyImage(parseImageName(HELLO), parseImageName(`docker://${proxy.host}/push/again-elsewhere:v1`), { store: cold, destCtx: insecure });
      const mounts = proxy.requests.filter((r) => r.method === 'POST' && new URL(r.path, 'http://x').searchParams.get('from') === 'push/again');
      assert.equal(mounts.length, 3, proxy.requests.map(requestLine).join('\n'));
      assert.ok(mounts.every((m) => m.status === 201));
    } finally {
      cold.close();
    }
  });

  it('a push again from the command line opens no store: a fresh --store stays absent; one that recorded the first push keeps it (store ls, serve)', async () => {
    const name = `docker://${proxy.host}/push/cli-again:v1`;
    const push = (store: string): ReturnType<typeof ocikitAsync> => ocikitAsync(['--store', store, 'copy', '--json', '-q', '--dest-tls-verify=false', HELLO, name], { env });
    const refsOf = (store: string): Array<{ name: string; digest: string; updated: number }> => {
      const r = ocikit(['--store', store, '--json', 'store', 'ls'], { env });
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as Array<{ name: string; digest: string; updated: number }>).map(({ name, digest, updated }) => ({ name, digest, updated }));
    };
    const recorded = join(tempDir('ocikit-docker-cli-again-'), 'store');
    const first = await push(recorded);
    assert.equal(first.code, 0, first.stderr);
    const before = refsOf(recorded);
    assert.deepEqual(
      new Map(before.map((r) => [r.name, r.digest])),
      new Map([
        [name, HELLO_DIGEST],
        [parseImageName(HELLO).toString(), HELLO_DIGEST],
      ]),
    );

    // Into a fresh store: one HEAD, and no store directory made (no blob, manifest or ref recorded).
    const fresh = join(tempDir('ocikit-docker-cli-again-'), 'store');
    proxy.requests.length = 0;
    const again = await push(fresh);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(proxy.requests.map(requestLine), ['HEAD /v2/push/cli-again/manifests/v1']);
    assert.equal((JSON.parse(again.stdout) as { manifestDigest: string }).manifestDigest, HELLO_DIGEST);
    assert.equal(existsSync(fresh), false, 'the push again made a store directory');

    // Into the store that recorded the first push: its refs stay as they were (not even rewritten).
    const againRecorded = await push(recorded);
    assert.equal(againRecorded.code, 0, againRecorded.stderr);
    assert.deepEqual(refsOf(recorded), before);
    // ...and serve still serves the image under its canonical name, blobs and all.
    const srv = await startServe(recorded);
    try {
      const repo = `${proxy.host.replace(':', '_')}/push/cli-again`;
      const head = await fetch(`${srv.url}/v2/${repo}/manifests/v1`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('docker-content-digest'), HELLO_DIGEST);
      const m = parseManifest(Buffer.from(await (await fetch(`${srv.url}/v2/${repo}/manifests/v1`)).arrayBuffer()));
      assert.ok(m.kind === 'oci-manifest' || m.kind === 'docker-v2s2');
      for (const d of [m.value.config, ...m.value.layers]) assert.equal((await fetch(`${srv.url}/v2/${repo}/blobs/${d.digest}`, { method: 'HEAD' })).status, 200, d.digest);
    } finally {
      await srv.stop();
    }
  });

  it('inspect of a remote image: its tags asked for beside the manifest; its config taken from a store that holds it', async () => {
    const name = `docker://${proxy.host}/push/inspected:v1`;
    const store = join(tempDir('ocikit-docker-inspect-'), 'store');
    const pushed = await ocikitAsync(['--store', store, 'copy', '-q', '--dest-tls-verify=false', HELLO, name], { env });
    assert.equal(pushed.code, 0, pushed.stderr);
    const config = (JSON.parse(readFileSync(join(fixture('hello-oci'), 'blobs', 'sha256', HELLO_DIGEST.slice(7)), 'utf8')) as { config: { digest: string } }).config.digest;
    const inspect = async (withStore: string): Promise<{ Digest: string; RepoTags: string[]; Layers: string[] }> => {
      proxy.requests.length = 0;
      const r = await ocikitAsync(['--store', withStore, 'inspect', '--tls-verify=false', name], { env });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { Digest: string; RepoTags: string[]; Layers: string[] };
    };
    // The store that pushed it knows the tag and holds the config: a manifest HEAD and the tag list.
    const warm = await inspect(store);
    assert.deepEqual(proxy.requests.map(requestLine).sort(), ['GET /v2/push/inspected/tags/list', 'HEAD /v2/push/inspected/manifests/v1']);
    // A fresh store: the manifest, the config and the tag list from the registry, the same answer.
    const cold = await inspect(join(tempDir('ocikit-docker-inspect-'), 'store'));
    assert.deepEqual(proxy.requests.map(requestLine).sort(), [`GET /v2/push/inspected/blobs/${config}`, 'GET /v2/push/inspected/manifests/v1', 'GET /v2/push/inspected/tags/list']);
    assert.deepEqual(warm, cold);
    assert.equal(warm.Digest, HELLO_DIGEST);
    assert.deepEqual(warm.RepoTags, ['v1']);
    // A tag that is not there is still "not found" (exit 2), whatever the tag list answered.
    const missing = await ocikitAsync(['--store', store, 'inspect', '--tls-verify=false', `docker://${proxy.host}/push/inspected:nope`], { env });
    assert.equal(missing.code, 2, missing.stderr);
  });

  it('the same from a registry: a GET of the source manifest (a HEAD when the store knows the tag), a HEAD at the destination', async () => {
    proxy.requests.length = 0;
    const again = await copyImage(parseImageName(`docker://${proxy.host}/push/again:v1`), parseImageName(`docker://${proxy.host}/push/again-copy:v1`), {
      store: newStore(),
      sourceCtx: insecure,
      destCtx: insecure,
    });
    assert.ok(
      proxy.requests.some((r) => r.method === 'POST'),
      'the first copy mounted the blobs',
    );
    proxy.requests.length = 0;
    const store = newStore();
    try {
      const res = await copyImage(parseImageName(`docker://${proxy.host}/push/again:v1`), parseImageName(`docker://${proxy.host}/push/again-copy:v1`), {
        store,
        sourceCtx: insecure,
        destCtx: insecure,
      });
      assert.deepEqual(proxy.requests.map(requestLine), ['GET /v2/push/again/manifests/v1', 'HEAD /v2/push/again-copy/manifests/v1']);
      assert.equal(res.manifestDigest, again.manifestDigest);
      // That copy moved nothing, so it recorded nothing (lib/copy/README.md): the store still does
      // not know the tag, and the same copy again GETs it again.
      proxy.requests.length = 0;
      await copyImage(parseImageName(`docker://${proxy.host}/push/again:v1`), parseImageName(`docker://${proxy.host}/push/again-copy:v1`), { store, sourceCtx: insecure, destCtx: insecure });
      assert.deepEqual(proxy.requests.map(requestLine), ['GET /v2/push/again/manifests/v1', 'HEAD /v2/push/again-copy/manifests/v1']);
      assert.deepEqual(store.refs(), []);
      // A copy that moved the image through the store (a pull) recorded the tag: from then on a HEAD instead of the GET.
      await copyImage(parseImageName(`docker://${proxy.host}/push/again:v1`), parseImageName(`oci:${join(tempDir('ocikit-docker-again-'), 'layout')}:x`), { store, sourceCtx: insecure });
      proxy.requests.length = 0;
      await copyImage(parseImageName(`docker://${proxy.host}/push/again:v1`), parseImageName(`docker://${proxy.host}/push/again-copy:v1`), { store, sourceCtx: insecure, destCtx: insecure });
      assert.deepEqual(proxy.requests.map(requestLine), ['HEAD /v2/push/again/manifests/v1', 'HEAD /v2/push/again-copy/manifests/v1']);
    } finally {
      store.close();
    }
  });

  it('a changed image under the same tag is copied and moves the tag; an index pushed again (--all) costs one HEAD', async () => {
    const store = newStore();
    try {
      await copyImage(parseImageName(HELLO), parseImageName(`docker://${proxy.host}/push/moved:v1`), { store, destCtx: insecure });
      proxy.requests.length = 0;
      // The same image as Docker v2s2 is another manifest: the HEAD differs, and the copy goes on.
      const v2 = await copyImage(parseImageName(HELLO), parseImageName(`docker://${proxy.host}/push/moved:v1`), { store, format: 'v2s2', destCtx: insecure });
      assert.notEqual(v2.manifestDigest, HELLO_DIGEST);
      assert.ok(proxy.requests.some((r) => r.method === 'PUT' && r.path.endsWith('/manifests/v1')));
      assert.equal(skopeoDigest(`docker://${reg.host}/push/moved:v1`), v2.manifestDigest);

      const multi = parseImageName(`oci:${fixture('multiarch-oci')}`);
      const first = await copyImage(multi, parseImageName(`docker://${proxy.host}/push/multi-again:all`), { store, multiArch: 'all', destCtx: insecure });
      proxy.requests.length = 0;
      const again = await copyImage(multi, parseImageName(`docker://${proxy.host}/push/multi-again:all`), { store: newStore(), multiArch: 'all', destCtx: insecure });
      assert.equal(again.manifestDigest, first.manifestDigest);
      assert.deepEqual(proxy.requests.map(requestLine), ['HEAD /v2/push/multi-again/manifests/all']);
    } finally {
      store.close();
    }
  });

  it('mounts blobs from another repository the store saw them in, instead of uploading', async () => {
    const store = newStore();
    try {
      await copyImage(parseImageName(HELLO), parseImageName(`docker://${proxy.host}/mount/a:v1`), { store, destCtx: insecure });
      proxy.requests.length = 0;
      const res = await copyImage(parseImageName(HELLO), parseImageName(`docker://${proxy.host}/mount/b:v1`), { store, destCtx: insecure });
      const mounts = proxy.requests.filter((r) => r.method === 'POST' && r.path.includes('mount=') && r.path.includes('from=mount%2Fa'));
      assert.equal(mounts.length, 3);
      assert.ok(mounts.every((m) => m.status === 201));
      assert.equal(proxy.requests.filter((r) => r.method === 'PUT' && r.path.includes('/blobs/uploads/')).length, 0, 'no blob was uploaded');
      assert.equal(res.blobsReused, 3);
      assert.equal(skopeoDigest(`docker://${reg.host}/mount/b:v1`), HELLO_DIGEST);
    } finally {
      store.close();
    }
  });

  it('uploads in chunks (PATCH with Content-Range) when a chunk size is set, and the registry verifies the result', async () => {
    const store = newStore();
    proxy.requests.length = 0;
    try {
      const res = await copyImage(parseImageName(HELLO), parseImageName(`docker://${proxy.host}/chunked/a:v1`), { store, destCtx: { registry: { ...insecure.registry, uploadChunkSize: 4096 } } });
      const patches = proxy.requests.filter((r) => r.method === 'PATCH');
      // 16 KiB layer in 4 KiB chunks, plus one chunk for each of the two small blobs.
      assert.ok(patches.length >= 6, `got ${patches.length} PATCH requests`);
      assert.ok(patches.every((p) => /^\d+-\d+$/.test(String(p.headers['content-range'])) && p.status === 202));
      assert.equal(skopeoDigest(`docker://${reg.host}/chunked/a:v1`), res.manifestDigest);
    } finally {
      store.close();
    }
  });

  it('falls back to a chunked upload when the registry refuses a monolithic PUT', async () => {
    const store = newStore();
    proxy.requests.length = 0;
    proxy.rule = (r) => (r.method === 'PUT' && r.path.includes('/blobs/uploads/') && Number(r.headers['content-length'] ?? 0) > 0 ? { kind: 'status', status: 405 } : { kind: 'pass' });
    try {
      await copyImage(parseImageName(HELLO), parseImageName(`docker://${proxy.host}/chunked/fallback:v1`), { store, destCtx: insecure });
      assert.equal(proxy.requests.filter((r) => r.method === 'PATCH' && r.status === 202).length, 3);
      assert.equal(skopeoDigest(`docker://${reg.host}/chunked/fallback:v1`), HELLO_DIGEST);
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
      store.close();
    }
  });

  it('CLI --dest-chunk-size uploads in chunks', async () => {
    proxy.requests.length = 0;
    // Async: the proxy runs in this process and must keep serving while the CLI runs.
    const r = await ocikitAsync(['copy', '-q', '--dest-tls-verify=false', '--dest-chunk-size', '8K', HELLO, `docker://${proxy.host}/chunked/cli:v1`], { env: { ...env, OCIKIT_STORE: tempDir() } });
    assert.equal(r.code, 0, r.stderr);
    const patches = proxy.requests.filter((x) => x.method === 'PATCH');
    assert.ok(patches.length >= 4);
    // Every chunk is at most 8 KiB and the registry took it; the image it assembled is the source's.
    for (const p of patches) {
      const [a, b] = String(p.headers['content-range']).split('-').map(Number);
      assert.ok(b! - a! + 1 <= 8192 && p.status === 202, `${p.headers['content-range']} -> ${p.status}`);
    }
    assert.equal(skopeoDigest(`docker://${reg.host}/chunked/cli:v1`), HELLO_DIGEST);
  });
});

describe('docker:// and skopeo', () => {
  it('skopeo reads what ocikit pushed, blob for blob', () => {
    const skopeo = requirePeer('skopeo');
    const image = `docker://${reg.host}/interop/from-ocikit:v1`;
    const r = ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, image], { env: { ...env, OCIKIT_STORE: tempDir() } });
    assert.equal(r.code, 0, r.stderr);
    const out = tempDir();
    run(skopeo, ['copy', '--src-tls-verify=false', image, `oci:${out}:x`]);
    const idx = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    assert.equal(idx.manifests[0]!.digest, HELLO_DIGEST);
    const inspect = JSON.parse(run(skopeo, ['inspect', '--tls-verify=false', image]).stdout) as { Digest: string };
    assert.equal(inspect.Digest, HELLO_DIGEST);
  });

  it('registry: is docker: (containers-transports(5)): ocikit writes through the alias, skopeo reads the same digest', () => {
    const skopeo = requirePeer('skopeo');
    const r = ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, `registry://${reg.host}/alias/x:v1`], { env: { ...env, OCIKIT_STORE: tempDir() } });
    assert.equal(r.code, 0, r.stderr);
    const inspect = JSON.parse(run(skopeo, ['inspect', '--tls-verify=false', `docker://${reg.host}/alias/x:v1`]).stdout) as { Digest: string };
    assert.equal(inspect.Digest, HELLO_DIGEST);
    const i = ocikit(['inspect', '--tls-verify=false', `registry://${reg.host}/alias/x:v1`], { env });
    assert.equal(i.code, 0, i.stderr);
    assert.equal((JSON.parse(i.stdout) as { Digest: string }).Digest, HELLO_DIGEST);
  });

  it('ocikit reads what skopeo pushed, with the digests skopeo reports', () => {
    const skopeo = requirePeer('skopeo');
    const image = `docker://${reg.host}/interop/from-skopeo:v1`;
    run(skopeo, ['copy', '--dest-tls-verify=false', '--format', 'v2s2', HELLO, image]);
    const want = (JSON.parse(run(skopeo, ['inspect', '--tls-verify=false', image]).stdout) as { Digest: string }).Digest;
    const r = ocikit(['inspect', '--tls-verify=false', image], { env });
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { Digest: string; RepoTags: string[] };
    assert.equal(got.Digest, want);
    assert.deepEqual(got.RepoTags, ['v1']);
    const out = tempDir();
    const c = ocikit(['copy', '-q', '--json', '--src-tls-verify=false', image, `dir:${out}`], { env: { ...env, OCIKIT_STORE: tempDir() } });
    assert.equal(c.code, 0, c.stderr);
    assert.equal(digestBytes(readFileSync(join(out, 'manifest.json'))), want);
  });

  it('skopeo reads a multi-image index ocikit pushed', () => {
    const image = `docker://${reg.host}/interop/multi:v1`;
    const r = ocikit(['copy', '-q', '--all', '--dest-tls-verify=false', `oci:${fixture('multiarch-oci')}`, image], { env: { ...env, OCIKIT_STORE: tempDir() } });
    assert.equal(r.code, 0, r.stderr);
    const raw = run(requirePeer('skopeo'), ['inspect', '--raw', '--tls-verify=false', image]).stdout;
    const idx = parseManifest(Buffer.from(raw));
    assert.equal(idx.kind, 'oci-index');
    const out = tempDir();
    run(requirePeer('skopeo'), ['copy', '--all', '--src-tls-verify=false', image, `oci:${out}:m`]);
    assert.equal((JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> }).manifests[0]!.digest, digestBytes(raw));
  });
});

describe('docker:// tags and delete', () => {
  it('list-tags lists every tag (CLI, skopeo output shape)', () => {
    for (const t of ['a', 'b', 'c']) assert.equal(ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, `docker://${reg.host}/tags/x:${t}`], { env }).code, 0);
    const r = ocikit(['list-tags', '--tls-verify=false', `docker://${reg.host}/tags/x`], { env });
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { Repository: string; Tags: string[] };
    assert.equal(got.Repository, `${reg.host}/tags/x`);
    assert.deepEqual(got.Tags.sort(), ['a', 'b', 'c']);
  });

  it('list-tags follows Link rel="next" pages', async () => {
    for (const t of ['d', 'e']) assert.equal(ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, `docker://${reg.host}/tags/x:${t}`], { env }).code, 0);
    proxy.rule = (r) => (r.path.includes('/tags/list') ? { kind: 'paginate-tags', pageSize: 2 } : { kind: 'pass' });
    proxy.requests.length = 0;
    try {
      const tags = await parseImageName(`docker://${proxy.host}/tags/x`).listTags!({ store: lazyStore(), registry: { tlsVerify: false } });
      assert.deepEqual(tags, ['a', 'b', 'c', 'd', 'e']);
      assert.equal(proxy.requests.filter((r) => r.path.includes('/tags/list')).length, 3);
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
    }
  });

  it('delete resolves a tag to its digest and deletes the manifest (exit 2 after)', () => {
    const image = `docker://${reg.host}/del/a:v1`;
    assert.equal(ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, image], { env }).code, 0);
    let r = ocikit(['delete', '--tls-verify=false', image], { env });
    assert.equal(r.code, 0, r.stderr);
    r = ocikit(['inspect', '--tls-verify=false', image], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /manifest unknown/);
  });

  it('delete by digest', () => {
    assert.equal(ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, `docker://${reg.host}/del/b:v1`], { env }).code, 0);
    const r = ocikit(['delete', '--tls-verify=false', `docker://${reg.host}/del/b@${HELLO_DIGEST}`], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ocikit(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/del/b:v1`], { env }).code, 2);
  });

  it('delete --untag says clearly that distribution cannot delete a tag alone, and deletes nothing', () => {
    const image = `docker://${reg.host}/del/c:v1`;
    assert.equal(ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, image], { env }).code, 0);
    const r = ocikit(['delete', '--untag', '--tls-verify=false', image], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot delete a tag without deleting the image; nothing was deleted/);
    assert.equal(ocikit(['inspect', '--raw', '--tls-verify=false', image], { env }).code, 0, 'the tag is still there');
  });

  it('delete on a registry without storage.delete.enabled says so', async () => {
    const noDel = await startRegistry({ deleteEnabled: false });
    try {
      const image = `docker://${noDel.host}/x:v1`;
      assert.equal(ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, image], { env }).code, 0);
      const r = ocikit(['delete', '--tls-verify=false', image], { env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /does not allow deleting images/);
    } finally {
      await noDel.stop();
    }
  });

  it('inspect -n does not list tags', () => {
    const r = ocikit(['inspect', '-n', '--tls-verify=false', `docker://${reg.host}/tags/x:a`], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { RepoTags: string[] }).RepoTags, []);
  });
});

describe('docker:// with an untrusted registry', () => {
  it('refuses a manifest over the size limit without reading it whole', async () => {
    // distribution refuses to store manifests over 4 MiB, so the proxy serves the oversized one.
    assert.equal(ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, `docker://${reg.host}/big/m:v1`], { env }).code, 0);
    const huge = Buffer.alloc(5 * 1024 * 1024, 0x20);
    proxy.rule = (r) => (r.method === 'GET' && r.path.includes('/manifests/') ? { kind: 'replace-body', body: huge } : { kind: 'pass' });
    try {
      const src = await parseImageName(`docker://${proxy.host}/big/m:v1`).newSource({ store: lazyStore(), registry: { tlsVerify: false } });
      await assert.rejects(src.getManifest(), (err) => isOcikitError(err, 'E_MANIFEST_TOO_BIG') && /declares 5242880 bytes/.test((err as Error).message));
      await src.close();
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
    }
  });

  it('a manifest that begins with a NUL and carries escape sequences: one line, escaped, naming the image (copy and inspect)', async () => {
    assert.equal(ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, `docker://${reg.host}/evil/nul:v1`], { env }).code, 0);
    const hostile = Buffer.concat([Buffer.from([0]), Buffer.from('{"\x1b]0;pwned\x07\x1b[2J\u009b6n\u202e":1}')]);
    proxy.rule = (r) => (r.method === 'GET' && r.path.includes('/manifests/') ? { kind: 'replace-body', body: hostile } : { kind: 'pass' });
    try {
      const image = `docker://${proxy.host}/evil/nul:v1`;
      for (const args of [
        ['copy', '-q', '--src-tls-verify=false', image, `dir:${join(tempDir(), 'never')}`],
        ['inspect', '--tls-verify=false', image],
      ]) {
        // Asynchronously: the proxy answers from this process.
        const r = await ocikitAsync(args, { env: { ...env, OCIKIT_STORE: tempDir() } });
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stdout, '');
        assert.equal(r.stderr.split('\n').length, 2, `one line: ${JSON.stringify(r.stderr)}`);
        assert.match(r.stderr, new RegExp(`^ocikit: reading manifest of docker://${proxy.host.replace(/\./g, '\\.')}/evil/nul:v1: malformed manifest JSON: `));
        assert.doesNotMatch(r.stderr, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/, `raw control characters: ${JSON.stringify(r.stderr)}`);
      }
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
    }
  });

  it('verifies a manifest fetched by digest', async () => {
    const other = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));
    assert.equal(ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, `docker://${reg.host}/evil/m:v1`], { env }).code, 0);
    proxy.rule = (r) => (r.method === 'GET' && r.path.includes('/manifests/sha256:') ? { kind: 'replace-body', body: other } : { kind: 'pass' });
    try {
      const src = await parseImageName(`docker://${proxy.host}/evil/m@${HELLO_DIGEST}`).newSource({ store: lazyStore(), registry: { tlsVerify: false } });
      await assert.rejects(src.getManifest(), (err) => isOcikitError(err, 'E_DIGEST_MISMATCH'));
      await src.close();
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
    }
  });

  it('a blob whose content does not match its digest fails the copy and leaves no destination', async () => {
    assert.equal(ocikit(['copy', '-q', '--dest-tls-verify=false', HELLO, `docker://${reg.host}/evil/b:v1`], { env }).code, 0);
    proxy.rule = (r) => (r.method === 'GET' && r.path.includes('/blobs/sha256:') ? { kind: 'corrupt' } : { kind: 'pass' });
    const out = join(tempDir(), 'layout');
    const store = newStore();
    try {
      await assert.rejects(copyImage(parseImageName(`docker://${proxy.host}/evil/b:v1`), parseImageName(`oci:${out}:x`), { store, sourceCtx: insecure }), (err) =>
        isOcikitError(err, 'E_DIGEST_MISMATCH'),
      );
      assert.equal(existsSync(out), false);
      const m = parseManifest(readFileSync(join(fixture('hello-oci'), 'blobs', 'sha256', HELLO_DIGEST.slice(7))));
      assert.ok(m.kind === 'oci-manifest');
      if (m.kind !== 'oci-manifest') return;
      for (const d of [m.value.config, ...m.value.layers]) assert.equal(store.has(d.digest), false, `${d.digest} must not be in the store`);
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
      store.close();
    }
  });

  it('a relayed blob (registry to registry) whose content does not match its digest fails the copy: no tag, nothing stored', async () => {
    const image = ociImage(tempDir(), [randomLayer(1 << 20), randomLayer(1 << 20)]);
    const store = newStore();
    try {
      await copyImage(parseImageName(image.ref), parseImageName(`docker://${reg.host}/evil/relay:v1`), { store, destCtx: insecure });
    } finally {
      store.close();
    }
    const bad = image.layers[0]!.digest;
    proxy.rule = (r) => (r.method === 'GET' && r.path.endsWith(`/blobs/${bad}`) ? { kind: 'corrupt' } : { kind: 'pass' });
    const fresh = newStore();
    try {
      // To the other registry: no mount, every layer is downloaded and relayed into its upload.
      await assert.rejects(
        copyImage(parseImageName(`docker://${proxy.host}/evil/relay:v1`), parseImageName(`docker://${tlsReg.host}/evil/relay:v1`), { store: fresh, sourceCtx: insecure }),
        (err) => isOcikitError(err, 'E_DIGEST_MISMATCH') || (isOcikitError(err) && /DIGEST_INVALID|digest/i.test((err as Error).message)),
      );
      assert.equal(fresh.has(bad), false, 'the corrupt blob is not in the store');
      const dest = await parseImageName(`docker://${tlsReg.host}/evil/relay:v1`).newSource({ store: newStore() });
      await assert.rejects(dest.getManifest(), (err) => isOcikitError(err, 'E_NOT_FOUND'));
      await dest.close();
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
      fresh.close();
    }
  });
});

describe('docker:// transport options', () => {
  it('finds the CA in certs.d and goes through HTTPS_PROXY, except for NO_PROXY hosts', async () => {
    const { createServer } = await import('node:http');
    const net = await import('node:net');
    const connects: string[] = [];
    const tunnel = createServer();
    tunnel.on('connect', (req, client, head) => {
      connects.push(String(req.url));
      const [h, p] = String(req.url).split(':');
      const up = net.connect(Number(p), h, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.write(head);
        up.pipe(client);
        client.pipe(up);
      });
      up.on('error', () => client.destroy());
      client.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => tunnel.listen(0, '127.0.0.1', r));
    const port = (tunnel.address() as { port: number }).port;
    try {
      const image = `docker://${tlsReg.host}/proxied/a:v1`;
      let r = await ocikitAsync(['copy', '-q', HELLO, image], {
        env: { ...env, OCIKIT_STORE: tempDir(), HTTPS_PROXY: `http://127.0.0.1:${port}`, https_proxy: `http://127.0.0.1:${port}`, NO_PROXY: '', no_proxy: '' },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(connects.includes(tlsReg.host), `CONNECTs: ${connects.join(', ')}`);
      connects.length = 0;
      r = await ocikitAsync(['inspect', '--raw', image], {
        env: { ...env, HTTPS_PROXY: `http://127.0.0.1:${port}`, https_proxy: `http://127.0.0.1:${port}`, NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1' },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(digestBytes(r.stdout), HELLO_DIGEST);
      assert.deepEqual(connects, []);
    } finally {
      tunnel.closeAllConnections();
      await new Promise<void>((r) => tunnel.close(() => r()));
    }
  });

  it('without --tls-verify=false a plain-http registry is an error that says what to do', () => {
    const r = ocikit(['inspect', '--raw', `docker://${reg.host}/push/hello:v1`], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /does not speak TLS/);
    assert.match(r.stderr, /--tls-verify=false/);
  });

  it('an unknown repository is exit 2 (E_NOT_FOUND)', () => {
    const r = ocikit(['inspect', '--tls-verify=false', `docker://${reg.host}/no/such:thing`], { env });
    assert.equal(r.code, 2, r.stderr);
  });
});
