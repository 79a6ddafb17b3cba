/**
 * `ocikit serve --mirror`: a pull-through mirror in front of a real registry (Debian's
 * docker-registry on loopback), used the way sites use one: podman with a registries.conf mirror
 * entry, and a private dockerd with `registry-mirrors` (which asks a mirror for Docker Hub names:
 * here docker.io is mapped to the same local registry, `--mirror docker.io=HOST:PORT`). What the
 * clients get is checked by digest; that it came through the mirror is checked in the mirror's
 * store; a tag moved upstream is seen once older than --mirror-max-age; with the upstream gone,
 * what was mirrored is still served.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobStore } from '../../lib/store/index.js';
import { ocikit, run } from '../helpers/cli.js';
import { startDockerd, type DockerEngine } from '../../support/dockerd.js';
import { sha } from '../../support/digest.js';
import { ociImage, randomLayer, type BuiltImage } from '../helpers/layer-images.js';
import { tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { podmanStore } from '../../support/podman.js';
import { startRegistry, type RegistryHandle } from '../../support/registry.js';
import { startServe, type ServeHandle } from '../helpers/serve.js';
import { refsOf } from '../helpers/store.js';

describe('ocikit serve --mirror: a pull-through mirror for podman and dockerd', () => {
  let dir: string;
  let store: string;
  let upstream: RegistryHandle;
  let srv: ServeHandle;
  let skopeo: string;
  let app: BuiltImage;
  let hub: BuiltImage;
  let upstreamStopped = false;

  const push = (img: BuiltImage, to: string): void => void run(skopeo, ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', img.ref, `docker://${upstream.host}/${to}`]);
  const servedDigest = (name: string): string => sha(Buffer.from(run(skopeo, ['inspect', '--raw', '--tls-verify=false', `docker://${srv.host}/${name}`]).stdout));

  before(async () => {
    skopeo = requirePeer('skopeo');
    dir = tempDir('ocikit-serve-mirror-');
    store = join(dir, 'store');
    upstream = await startRegistry();
    app = ociImage(join(dir, 'app'), [randomLayer(200_000), randomLayer(5_000)]);
    hub = ociImage(join(dir, 'hub'), [randomLayer(100_000)]);
    push(app, 'team/app:1');
    push(hub, 'library/hello:1');
    srv = await startServe(store, ['--mirror', upstream.host, '--mirror', `docker.io=${upstream.host}`, '--mirror-tls-verify=false', '--mirror-max-age', '1s']);
  });
  after(async () => {
    await srv?.stop();
    if (!upstreamStopped) await upstream?.stop();
  });

  it('podman with a registries.conf mirror entry pulls through the mirror, which keeps the image under the upstream name', () => {
    const conf = join(dir, 'registries.conf');
    const mirrored = `${upstream.host.replace(':', '_')}`;
    writeFileSync(conf, `[[registry]]\nprefix = "${upstream.host}"\nlocation = "${upstream.host}"\ninsecure = true\n\n[[registry.mirror]]\nlocation = "${srv.host}/${mirrored}"\ninsecure = true\n`);
    const p = podmanStore({ env: { CONTAINERS_REGISTRIES_CONF: conf } });
    p.podman(['pull', '-q', `${upstream.host}/team/app:1`]);
    const id = p.podman(['image', 'inspect', '--format', '{{.Id}}', `${upstream.host}/team/app:1`]).stdout.trim();
    assert.equal(`sha256:${id}`, app.configDigest);
    // The mirror fetched it: recorded as a copy from the upstream records it, every blob kept.
    assert.equal(refsOf(store).get(`docker://${upstream.host}/team/app:1`), app.manifestDigest);
    const verify = ocikit(['--store', store, 'store', 'verify']);
    assert.equal(verify.code, 0, verify.stderr);
    const s = BlobStore.open(store);
    try {
      for (const l of app.layers) assert.ok(s.has(l.digest), l.digest);
    } finally {
      s.close();
    }
  });

  describe('a private dockerd with registry-mirrors', () => {
    let engine: DockerEngine | undefined;
    before(async () => {
      engine = await startDockerd({ registryMirrors: [srv.url], insecureRegistries: [srv.host] });
    });
    after(async () => {
      await engine?.stop();
    });

    it('docker pull of a Docker Hub name is answered by the mirror (no network here: only the mirror can answer)', () => {
      engine!.docker(['pull', '-q', 'hello:1']);
      const id = engine!.docker(['image', 'inspect', '--format', '{{.Id}}', 'hello:1']).stdout.trim();
      assert.equal(id, hub.configDigest);
      assert.equal(refsOf(store).get('docker://hello:1'), hub.manifestDigest);
    });
  });

  it('a tag moved upstream is served anew once older than --mirror-max-age; with the upstream gone, what was mirrored is still served', async () => {
    assert.equal(servedDigest(`${upstream.host.replace(':', '_')}/team/app:1`), app.manifestDigest);
    const v2 = ociImage(join(dir, 'app2'), [randomLayer(50_000)]);
    push(v2, 'team/app:1');
    const name = `${upstream.host.replace(':', '_')}/team/app:1`;
    const end = Date.now() + 30_000;
    while (servedDigest(name) !== v2.manifestDigest) {
      assert.ok(Date.now() < end, 'the moved tag was never seen');
      await new Promise((r) => setTimeout(r, 200));
    }
    // A pull of it through the mirror brings its new layer.
    const out = join(dir, 'v2');
    run(skopeo, ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${srv.host}/${name}`, `dir:${out}`]);
    await upstream.stop();
    upstreamStopped = true;
    // Upstream gone: the tag (however old) and the blobs are served from the store.
    assert.equal(servedDigest(name), v2.manifestDigest);
    assert.equal(servedDigest('library/hello:1'), hub.manifestDigest);
    const back = join(dir, 'offline');
    run(skopeo, ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${srv.host}/${name}`, `dir:${back}`]);
    assert.equal(sha(readFileSync(join(back, v2.layers[0]!.digest.slice(7)))), v2.layers[0]!.digest);
    // A name the upstream never had is unknown, and the failure to reach it is said in the log.
    const miss = run(skopeo, ['inspect', '--raw', '--tls-verify=false', `docker://${srv.host}/${upstream.host.replace(':', '_')}/no/such:1`], { allowFail: true });
    assert.notEqual(miss.code, 0);
    // (The server's stderr is read by this process's event loop, which the synchronous run held.)
    for (let i = 0; i < 100 && !/mirror: .*no\/such:1/.test(srv.stderr()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(srv.stderr(), /mirror: .*no\/such:1/);
  });
});
