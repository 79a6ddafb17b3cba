/**
 * Copies between two repositories of one registry (Debian's docker-registry behind the fault
 * proxy, which counts requests): every blob mounted from the source repository, none downloaded;
 * and when the registry refuses to mount, the relay of every layer at once, which once deadlocked
 * on the per-host transfer bound, with no upload session left open.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { copyImage } from '../../lib/copy/index.js';
import { digestBytes } from '../../lib/digest/index.js';
import { closeDispatchers } from '../../lib/registry/index.js';
import { BlobStore } from '../../lib/store/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import { ocikitAsync, run } from '../helpers/cli.js';
import { peakConcurrency, startFaultProxy, type FaultProxy, type FaultRule } from '../helpers/fault-proxy.js';
import { ociImage, randomLayer, type BuiltImage } from '../helpers/layer-images.js';
import { tempDir } from '../helpers/paths.js';
import { requirePeer } from '../helpers/peers.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const home = tempDir('ocikit-same-registry-home-');
process.env.HOME = home;
process.env.XDG_CONFIG_HOME = join(home, '.config');
delete process.env.REGISTRY_AUTH_FILE;
const env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_RUNTIME_DIR: join(home, 'run') };
const TLS = ['--src-tls-verify=false', '--dest-tls-verify=false'];

let reg: RegistryHandle;
let proxy: FaultProxy;
/** Eight layers of 6 MiB: each larger than what the buffers between a download and its upload hold. */
let many: BuiltImage;

before(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.host);
  many = ociImage(
    tempDir(),
    Array.from({ length: 8 }, () => randomLayer(6 << 20)),
  );
  const store = BlobStore.open(tempDir());
  try {
    await copyImage(parseImageName(many.ref), parseImageName(`docker://${reg.host}/src/many:v1`), { store, destCtx: { registry: { tlsVerify: false } } });
  } finally {
    store.close();
  }
});

after(async () => {
  await proxy.close();
  await closeDispatchers();
  await reg.stop();
});

/** The manifest digest skopeo reads at `image` (on the registry itself, not through the proxy). */
function skopeoDigest(image: string): string {
  return digestBytes(run(requirePeer('skopeo'), ['inspect', '--raw', '--tls-verify=false', image]).stdout);
}

const isBlobGet = (r: { method: string; path: string }): boolean => r.method === 'GET' && r.path.includes('/blobs/sha256:');
const isMount = (r: { method: string; path: string }): boolean => r.method === 'POST' && r.path.includes('mount=');

/** A registry that refuses every mount (it opens a plain upload session instead, as the spec allows). */
const refuseMounts: FaultRule = (r) => (isMount(r) ? { kind: 'rewrite', path: r.path.split('?')[0]! } : { kind: 'pass' });

describe('docker:// to another repository of the same registry', () => {
  it('relays every layer at once when mounts are refused, and finishes (downloads and uploads share no bound they could deadlock on)', async () => {
    // Blob downloads answer late, so that every layer's download has started before the first
    // answer arrives: each then waits for its upload to start. With one transfer bound per host
    // for both directions, the six downloads held all of it and no upload could ever start.
    proxy.rule = (r) => (isBlobGet(r) ? { kind: 'stall', ms: 300 } : refuseMounts(r));
    proxy.requests.length = 0;
    try {
      const r = await ocikitAsync(['copy', '-q', ...TLS, `docker://${proxy.host}/src/many:v1`, `docker://${proxy.host}/relay/many:v1`], { env: { ...env, OCIKIT_STORE: tempDir() } });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
    }
    assert.equal(skopeoDigest(`docker://${reg.host}/relay/many:v1`), many.manifestDigest);
    assert.equal(proxy.requests.filter(isBlobGet).length, 9, 'every blob was downloaded once');
    assertNoSessionLeft();
  });

  it('mounts every blob from the source repository: no blob downloaded or uploaded, through a cold store (as skopeo, crane and regctl)', async () => {
    proxy.requests.length = 0;
    const r = await ocikitAsync(['copy', '-q', ...TLS, `docker://${proxy.host}/src/many:v1`, `docker://${proxy.host}/promoted/many:v1`], { env: { ...env, OCIKIT_STORE: tempDir() } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(skopeoDigest(`docker://${reg.host}/promoted/many:v1`), many.manifestDigest);
    const mounts = proxy.requests.filter(isMount);
    assert.equal(mounts.length, 9, 'the config and eight layers');
    assert.ok(
      mounts.every((m) => m.status === 201 && m.path.includes('from=src%2Fmany')),
      JSON.stringify(mounts.map((m) => [m.path, m.status])),
    );
    assert.equal(proxy.requests.filter(isBlobGet).length, 0, 'no blob was downloaded');
    assert.equal(proxy.requests.filter(isUpload).length, 0, 'no blob was uploaded');
  });

  it('the config and the layers are checked at once: the config does not gate the layers, and the bound holds', async () => {
    proxy.requests.length = 0;
    const isBlobHead = (r: { method: string; path: string }): boolean => r.method === 'HEAD' && r.path.includes('/blobs/');
    // Existence checks answer late, so that checks in flight together overlap visibly.
    proxy.rule = (r) => (isBlobHead(r) ? { kind: 'stall', ms: 150 } : { kind: 'pass' });
    try {
      const r = await ocikitAsync(['copy', '-q', ...TLS, `docker://${proxy.host}/src/many:v1`, `docker://${proxy.host}/together/many:v1`], { env: { ...env, OCIKIT_STORE: tempDir() } });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
    }
    // Six at once (the default bound, the config taking one), and the config's check beside the layers'.
    assert.equal(peakConcurrency(proxy.requests, isBlobHead), 6);
    const heads = proxy.requests.filter(isBlobHead);
    const configHead = heads.find((h) => h.path.endsWith(`/blobs/${many.configDigest}`))!;
    assert.ok(
      heads.some((h) => h !== configHead && h.start < configHead.end! && configHead.start < h.end!),
      'a layer was checked while the config was',
    );
    assert.equal(skopeoDigest(`docker://${reg.host}/together/many:v1`), many.manifestDigest);
  });

  it('a mount refused for some blobs uploads those (in the session the refusal opened) and mounts the rest', async () => {
    proxy.requests.length = 0;
    const refused = new Set(many.layers.slice(0, 3).map((l) => l.digest));
    proxy.rule = (r) => (isMount(r) && refused.has(new URL(r.path, 'http://x').searchParams.get('mount') ?? '') ? refuseMounts(r) : { kind: 'pass' });
    try {
      const r = await ocikitAsync(['copy', '-q', ...TLS, `docker://${proxy.host}/src/many:v1`, `docker://${proxy.host}/partly/many:v1`], { env: { ...env, OCIKIT_STORE: tempDir() } });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
    }
    assert.equal(skopeoDigest(`docker://${reg.host}/partly/many:v1`), many.manifestDigest);
    assert.equal(proxy.requests.filter((x) => isMount(x) && x.status === 201).length, 6);
    assert.equal(proxy.requests.filter(isBlobGet).length, 3, 'only the refused blobs were downloaded');
    assert.equal(proxy.requests.filter(isUpload).length, 3);
    // No session opened besides the three the refusals opened: the uploads used those.
    assert.equal(proxy.requests.filter((x) => x.method === 'POST' && !isMount(x)).length, 0);
    assertNoSessionLeft();
  });
});

const isUpload = (r: { method: string; path: string }): boolean => r.method === 'PUT' && r.path.includes('/blobs/uploads/');

/** Every upload session the registry opened (a POST answered 202) was finished (PUT) or cancelled (DELETE). */
function assertNoSessionLeft(): void {
  const opened = proxy.requests.filter((r) => r.method === 'POST' && r.status === 202).length;
  const closed = proxy.requests.filter((r) => (isUpload(r) && r.status === 201) || (r.method === 'DELETE' && r.path.includes('/blobs/uploads/'))).length;
  assert.equal(closed, opened, `${opened} upload sessions opened, ${closed} finished or cancelled`);
}
