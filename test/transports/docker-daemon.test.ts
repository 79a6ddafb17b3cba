/**
 * docker-daemon: against a private dockerd (Debian's docker.io, vfs, its own sockets and data root,
 * stopped by PID), checked by the docker CLI and by skopeo (which needs --src-daemon-host /
 * --daemon-host for a private daemon). Faults come from the real daemon (a missing socket, a
 * refused connection, an image it will not load, the daemon killed mid-export) or, for the shapes
 * a daemon shows when a connection drops, from a proxy on its socket (test/helpers/daemon-proxy.ts).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { ocikit, ocikitAsync, run } from '../helpers/cli.js';
import { startDaemonProxy, type DaemonProxy } from '../helpers/daemon-proxy.js';
import { startDockerd, type DockerEngine } from '../../support/dockerd.js';
import { makeLayer, writeImage } from '../../support/images.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { freePort, startRegistry, testPki } from '../../support/registry.js';
import { sha } from '../../support/digest.js';

/** The hello fixture's config digest (= the image ID docker gives it) and diff IDs. */
function helloFacts(): { id: string; diffIDs: string[]; config: Record<string, unknown> } {
  const blob = (d: string): Buffer => readFileSync(join(fixture('hello-oci'), 'blobs', 'sha256', d.slice(7)));
  const index = JSON.parse(readFileSync(join(fixture('hello-oci'), 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const m = JSON.parse(blob(index.manifests[0]!.digest).toString()) as { config: { digest: string } };
  const config = JSON.parse(blob(m.config.digest).toString()) as { rootfs: { diff_ids: string[] } };
  return { id: m.config.digest, diffIDs: config.rootfs.diff_ids, config };
}

/** A client certificate signed by the test CA, for a daemon started with --tlsverify. */
function clientCert(dir: string): { certPath: string } {
  const pki = testPki();
  const openssl = requirePeer('openssl');
  const certPath = join(dir, 'client-certs');
  mkdirSync(certPath, { recursive: true });
  const f = (n: string): string => join(certPath, n);
  const ssl = (args: string[]): void => {
    const r = spawnSync(openssl, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('key.pem'), '-out', f('client.csr'), '-subj', '/CN=ocikit test client']);
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  ssl(['x509', '-req', '-in', f('client.csr'), '-CA', pki.caCrt, '-CAkey', pki.caKey, '-CAcreateserial', '-out', f('cert.pem'), '-days', '2', '-extfile', f('client.ext')]);
  copyFileSync(pki.caCrt, f('ca.pem'));
  return { certPath };
}

/** One line on stderr, starting with "ocikit: ". */
function oneLine(stderr: string): void {
  assert.match(stderr, /^ocikit: [^\n]+\n$/, `expected one error line, got: ${JSON.stringify(stderr)}`);
}

describe('docker-daemon: against a private dockerd', () => {
  let engine: DockerEngine;
  let dir: string;
  let storeDir: string;
  let skopeo: string;
  let tlsPort: number;
  let certPath: string;
  const hello = helloFacts();

  before(async () => {
    dir = tempDir('ocikit-daemon-');
    storeDir = join(dir, 'store');
    skopeo = requirePeer('skopeo');
    const pki = testPki();
    tlsPort = await freePort();
    certPath = clientCert(dir).certPath;
    engine = await startDockerd({ tls: { port: tlsPort, ca: pki.caCrt, cert: pki.serverCrt, key: pki.serverKey } });
  });
  after(async () => {
    await engine?.stop();
  });

  const cli = (args: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof ocikit> => ocikit(['--store', storeDir, ...args], { env });
  const inDocker = (name: string): { id: string; layers: string[] } | undefined => {
    const r = engine.docker(['image', 'inspect', '--format', '{{.Id}} {{json .RootFS.Layers}}', name], { allowFail: true });
    if (r.code !== 0) return undefined;
    const [id, layers] = r.stdout.trim().split(' ');
    return { id: id!, layers: JSON.parse(layers!) as string[] };
  };

  it('oci: -> docker-daemon: -> docker-archive:, the daemon and skopeo agree on every digest', () => {
    let r = cli(['copy', '--dest-daemon-host', engine.host, `oci:${fixture('hello-oci')}:latest`, 'docker-daemon:ocikit/hello:v1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^Loaded image: ocikit\/hello:v1$/m, "the daemon's own status line is passed through");
    assert.deepEqual(inDocker('ocikit/hello:v1'), { id: hello.id, layers: hello.diffIDs });

    // skopeo reads the same image from the daemon.
    const sk = JSON.parse(run(skopeo, ['inspect', '--daemon-host', engine.host, 'docker-daemon:ocikit/hello:v1']).stdout) as { Layers: string[] };
    assert.deepEqual(sk.Layers, hello.diffIDs);

    const archive = join(dir, 'round.tar');
    r = cli(['copy', '--src-daemon-host', engine.host, 'docker-daemon:ocikit/hello:v1', `docker-archive:${archive}:ocikit/hello:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const raw = JSON.parse(run(skopeo, ['inspect', '--raw', `docker-archive:${archive}`]).stdout) as { config: { digest: string } };
    assert.equal(raw.config.digest, hello.id);
    assert.deepEqual(JSON.parse(run(skopeo, ['inspect', `docker-archive:${archive}`]).stdout).Layers, hello.diffIDs);
    assert.deepEqual(JSON.parse(run(skopeo, ['inspect', '--config', `docker-archive:${archive}`]).stdout).rootfs.diff_ids, hello.diffIDs);
    // Through the env var as well as the flag.
    r = cli(['inspect', 'docker-daemon:ocikit/hello:v1'], { DOCKER_HOST: engine.host });
    assert.equal(r.code, 0, r.stderr);
  });

  it('an image docker built copies out byte-faithfully: its ID is the config digest, its layers are its diff IDs, as skopeo reads them', () => {
    const ctx = join(dir, 'build');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'f.txt'), 'built by docker\n');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY f.txt /f.txt\nLABEL org.example=built\nCMD ["/f.txt"]\n');
    const dockerCli = requirePeer('docker');
    const b = spawnSync(dockerCli, ['-H', engine.host, 'build', '-q', '-t', 'ocikit/built:1', ctx], { encoding: 'utf8', env: { ...process.env, DOCKER_BUILDKIT: '0' } });
    assert.equal(b.status, 0, b.stderr);
    const built = inDocker('ocikit/built:1')!;

    const out = join(dir, 'built-oci');
    // --dest-decompress: oci: would gzip the daemon's plain layers (as skopeo does); kept plain, each
    // layer's digest is its diff ID.
    const r = cli(['copy', '--dest-decompress', '--src-daemon-host', engine.host, 'docker-daemon:ocikit/built:1', `oci:${out}:b`]);
    assert.equal(r.code, 0, r.stderr);
    // dir: keeps skopeo from converting (to OCI it would rewrite the config).
    const sk = join(dir, 'built-skopeo');
    run(skopeo, ['copy', '-q', '--src-daemon-host', engine.host, 'docker-daemon:ocikit/built:1', `dir:${sk}`]);
    const manifestOf = (layout: string): { config: { digest: string }; layers: Array<{ digest: string }> } => {
      const idx = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
      return JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', idx.manifests[0]!.digest.slice(7)), 'utf8'));
    };
    const ours = manifestOf(out);
    assert.equal(ours.config.digest, built.id);
    const skm = JSON.parse(readFileSync(join(sk, 'manifest.json'), 'utf8')) as { config: { digest: string } };
    assert.equal(skm.config.digest, built.id, 'skopeo reads the same config');
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'blobs', 'sha256', ours.config.digest.slice(7)), 'utf8')), JSON.parse(readFileSync(join(sk, skm.config.digest.slice(7)), 'utf8')));
    // Our layers are the daemon's uncompressed layers: each digest IS its diff ID.
    assert.deepEqual(
      ours.layers.map((l) => l.digest),
      built.layers,
    );
    for (const l of ours.layers) assert.equal(sha(readFileSync(join(out, 'blobs', 'sha256', l.digest.slice(7)))), l.digest);
  });

  it('to oci:, each layer is gzipped as the export arrives: the plain layer never reaches the store, and the layer is the one the copy would make from the plain image', () => {
    const big = makeLayer([{ name: 'words.txt', data: 'layer blob digest usr lib share\n'.repeat(110_000) }]);
    const small = makeLayer([{ name: 'small.txt', data: 'small\n' }]);
    const layout = join(dir, 'packed-src');
    writeImage(layout, [big, small], 'packed');
    let r = cli(['copy', '-q', '--dest-daemon-host', engine.host, `oci:${layout}:latest`, 'docker-daemon:ocikit/packed:1']);
    assert.equal(r.code, 0, r.stderr);

    const store = join(dir, 'packed-store');
    const out = join(dir, 'packed-oci');
    r = ocikit(['--store', store, 'copy', '-q', '--src-daemon-host', engine.host, 'docker-daemon:ocikit/packed:1', `oci:${out}:x`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(join(store, 'blobs', 'sha256', big.diffId.slice(7))), false, 'the plain layer was never written down');

    // The same image taken plain (--dest-decompress), then compressed by a copy oci: -> oci:.
    const plain = join(dir, 'packed-plain');
    r = ocikit(['--store', join(dir, 'packed-store-2'), 'copy', '-q', '--dest-decompress', '--src-daemon-host', engine.host, 'docker-daemon:ocikit/packed:1', `oci:${plain}:x`]);
    assert.equal(r.code, 0, r.stderr);
    const out2 = join(dir, 'packed-oci-2');
    r = ocikit(['--store', join(dir, 'packed-store-3'), 'copy', '-q', `oci:${plain}:x`, `oci:${out2}:x`]);
    assert.equal(r.code, 0, r.stderr);
    const layers = (layout: string): Array<{ mediaType: string; digest: string }> => {
      const idx = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
      return (JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', idx.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: Array<{ mediaType: string; digest: string }> }).layers;
    };
    assert.deepEqual(layers(out), layers(out2));
    assert.deepEqual(
      layers(out).map((l) => sha(gunzipSync(readFileSync(join(out, 'blobs', 'sha256', l.digest.slice(7)))))),
      [big.diffId, small.diffId],
    );
    assert.deepEqual(JSON.parse(run(skopeo, ['inspect', '--config', `oci:${out}:x`]).stdout).rootfs.diff_ids, [big.diffId, small.diffId]);
  });

  it('reads NAME@DIGEST of an image the daemon pulled from a registry (the digest it knows it by)', async () => {
    const registry = await startRegistry();
    try {
      run(skopeo, ['copy', '-q', '--dest-tls-verify=false', `oci:${fixture('hello-oci')}:latest`, `docker://${registry.host}/ocikit/pulled:1`]);
      // dockerd treats 127.0.0.0/8 registries as insecure (plain http) by default.
      engine.docker(['pull', '-q', `${registry.host}/ocikit/pulled:1`]);
      const digest = engine
        .docker(['image', 'inspect', '--format', '{{index .RepoDigests 0}}', `${registry.host}/ocikit/pulled:1`])
        .stdout.trim()
        .split('@')[1]!;
      assert.equal(digest, JSON.parse(readFileSync(join(fixture('hello-oci'), 'index.json'), 'utf8')).manifests[0].digest);
      const r = cli(['inspect', '--daemon-host', engine.host, `docker-daemon:${registry.host}/ocikit/pulled@${digest}`]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { Name: string; Layers: string[] };
      assert.equal(out.Name, `${registry.host}/ocikit/pulled`);
      assert.deepEqual(out.Layers, hello.diffIDs);
    } finally {
      await registry.stop();
    }
  });

  it('reads by image ID; an ID or a digest cannot name a destination', () => {
    let r = cli(['inspect', '--daemon-host', engine.host, `docker-daemon:${hello.id}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).Layers, hello.diffIDs);
    assert.equal(JSON.parse(r.stdout).Name, undefined, 'an ID has no name, as skopeo prints it');
    r = cli(['copy', '--dest-daemon-host', engine.host, `oci:${fixture('hello-oci')}:latest`, `docker-daemon:${hello.id}`]);
    assert.equal(r.code, 1);
    oneLine(r.stderr);
    assert.match(r.stderr, /NAME:TAG/);
    r = cli(['copy', '--dest-daemon-host', engine.host, `oci:${fixture('hello-oci')}:latest`, `docker-daemon:ocikit/hello@${hello.id}`]);
    assert.equal(r.code, 1);
    oneLine(r.stderr);
  });

  it('inspect shows what skopeo inspect shows (layers named uncompressed, as they are); a missing image exits 2 with one line', () => {
    const r = cli(['inspect', '--daemon-host', engine.host, 'docker-daemon:ocikit/hello:v1']);
    assert.equal(r.code, 0, r.stderr);
    const ours = JSON.parse(r.stdout) as Record<string, unknown>;
    const theirs = JSON.parse(run(skopeo, ['inspect', '--daemon-host', engine.host, 'docker-daemon:ocikit/hello:v1']).stdout) as Record<string, unknown>;
    for (const k of ['Name', 'RepoTags', 'Created', 'DockerVersion', 'Labels', 'Architecture', 'Os', 'Layers', 'Env']) assert.deepEqual(ours[k], theirs[k], k);
    // skopeo labels the daemon's uncompressed layers as gzip; ocikit says what they are, so the
    // manifest it builds (and its digest) differ only in those media types.
    const raw = JSON.parse(cli(['inspect', '--raw', '--daemon-host', engine.host, 'docker-daemon:ocikit/hello:v1']).stdout) as { layers: Array<{ mediaType: string }> };
    const skRaw = JSON.parse(run(skopeo, ['inspect', '--raw', '--daemon-host', engine.host, 'docker-daemon:ocikit/hello:v1']).stdout) as { layers: Array<{ mediaType: string }> };
    assert.deepEqual({ ...raw, layers: raw.layers.map((l) => ({ ...l, mediaType: 'x' })) }, { ...skRaw, layers: skRaw.layers.map((l) => ({ ...l, mediaType: 'x' })) });
    assert.ok(raw.layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar'));

    const missing = cli(['inspect', '--daemon-host', engine.host, 'docker-daemon:ocikit/nope:v1']);
    assert.equal(missing.code, 2);
    oneLine(missing.stderr);
    assert.match(missing.stderr, /has no image ocikit\/nope:v1/);
  });

  it('tcp:// with TLS from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH; without a client certificate, one clear line', () => {
    const env = { DOCKER_HOST: `tcp://127.0.0.1:${tlsPort}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certPath };
    let r = cli(['inspect', 'docker-daemon:ocikit/hello:v1'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).Layers, hello.diffIDs);
    r = cli(['copy', '-q', `oci:${fixture('hello-oci')}:latest`, 'docker-daemon:ocikit/hello:tls'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(inDocker('ocikit/hello:tls')?.id, hello.id);

    const caOnly = join(dir, 'ca-only');
    mkdirSync(caOnly, { recursive: true });
    copyFileSync(join(certPath, 'ca.pem'), join(caOnly, 'ca.pem'));
    r = cli(['inspect', 'docker-daemon:ocikit/hello:v1'], { ...env, DOCKER_CERT_PATH: caOnly });
    assert.equal(r.code, 1);
    oneLine(r.stderr);
    assert.match(r.stderr, /cannot talk to the Docker daemon at tcp:\/\/127\.0\.0\.1/);
  });

  it('a missing socket and a refused connection: one line naming the daemon, exit 1', async () => {
    let r = cli(['inspect', '--daemon-host', `unix://${join(dir, 'no.sock')}`, 'docker-daemon:ocikit/hello:v1']);
    assert.equal(r.code, 1);
    oneLine(r.stderr);
    assert.match(r.stderr, /no\.sock: the socket does not exist \(is dockerd running\?/);
    const port = await freePort();
    r = cli(['copy', '--dest-daemon-host', `tcp://127.0.0.1:${port}`, `oci:${fixture('hello-oci')}:latest`, 'docker-daemon:ocikit/hello:refused']);
    assert.equal(r.code, 1);
    oneLine(r.stderr);
    assert.match(r.stderr, /connection refused/);
    r = cli(['inspect', '--daemon-host', 'ftp://x', 'docker-daemon:ocikit/hello:v1']);
    assert.equal(r.code, 1);
    oneLine(r.stderr);
  });

  it('an image the daemon refuses to load: its error as one line, and no tag', () => {
    // A windows config: the linux daemon reads the whole archive, then refuses the image.
    const layout = join(dir, 'windows-oci');
    cpSync(fixture('hello-oci'), layout, { recursive: true });
    const blobs = join(layout, 'blobs', 'sha256');
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; size: number }> };
    const m = JSON.parse(readFileSync(join(blobs, index.manifests[0]!.digest.slice(7)), 'utf8')) as { config: { digest: string; size: number } };
    const cfg = Buffer.from(JSON.stringify({ ...hello.config, os: 'windows' }));
    writeFileSync(join(blobs, sha(cfg).slice(7)), cfg);
    m.config = { ...m.config, digest: sha(cfg), size: cfg.length };
    const mb = Buffer.from(JSON.stringify(m));
    writeFileSync(join(blobs, sha(mb).slice(7)), mb);
    index.manifests[0] = { ...index.manifests[0]!, digest: sha(mb), size: mb.length };
    writeFileSync(join(layout, 'index.json'), JSON.stringify(index));

    const r = cli(['copy', '-q', '--dest-daemon-host', engine.host, `oci:${layout}:latest`, 'docker-daemon:ocikit/windows:1']);
    assert.equal(r.code, 1);
    oneLine(r.stderr);
    assert.match(r.stderr, /^ocikit: loading docker-daemon:ocikit\/windows:1: the daemon at unix:\/\/\S+ refused the image: .*windows/);
    assert.equal(inDocker('ocikit/windows:1'), undefined);
  });

  it('a copy that fails before commit leaves no tag in the daemon', () => {
    // A layer whose bytes do not match its digest: the copy stops, the load request is cut.
    const layout = join(dir, 'corrupt-oci');
    cpSync(fixture('hello-oci'), layout, { recursive: true });
    const blobs = join(layout, 'blobs', 'sha256');
    const big = readdirSync(blobs)
      .map((n) => ({ n, size: readFileSync(join(blobs, n)).length }))
      .sort((a, b) => b.size - a.size)[0]!.n;
    const p = join(blobs, big);
    const bytes = readFileSync(p);
    bytes[bytes.length - 10]! ^= 0xff;
    writeFileSync(p, bytes);
    const r = ocikit(['--store', join(dir, 'store-corrupt'), 'copy', '-q', '--dest-daemon-host', engine.host, `oci:${layout}:latest`, 'docker-daemon:ocikit/corrupt:1']);
    assert.equal(r.code, 1);
    oneLine(r.stderr);
    assert.match(r.stderr, /digest/);
    assert.equal(inDocker('ocikit/corrupt:1'), undefined);
  });

  describe('faults on the connection (a proxy on the daemon socket)', () => {
    let proxy: DaemonProxy;
    // The proxy runs in this process: ocikit must run asynchronously, or neither moves.
    const cliAsync = (args: string[]): ReturnType<typeof ocikitAsync> => ocikitAsync(['--store', storeDir, ...args]);
    before(async () => {
      proxy = await startDaemonProxy(engine.host.slice('unix://'.length));
    });
    after(async () => {
      await proxy?.close();
    });

    it('an export cut off mid-stream: one line, nothing written at the destination', async () => {
      proxy.rule = ({ path }) => (path.includes('/images/get') ? { kind: 'cut', bytes: 20_000 } : { kind: 'pass' });
      const out = join(dir, 'cut-oci');
      const r = await cliAsync(['copy', '-q', '--src-daemon-host', proxy.host, 'docker-daemon:ocikit/hello:v1', `oci:${out}:x`]);
      assert.equal(r.code, 1);
      oneLine(r.stderr);
      assert.match(r.stderr, /the export stopped before its end/);
      assert.equal(existsSync(out), false);
    });

    it('an export that ends cleanly but short (a truncated tar): one line saying so', async () => {
      proxy.rule = ({ path }) => (path.includes('/images/get') ? { kind: 'truncate', bytes: 20_000 } : { kind: 'pass' });
      const out = join(dir, 'trunc-oci');
      const r = await cliAsync(['copy', '-q', '--src-daemon-host', proxy.host, 'docker-daemon:ocikit/hello:v1', `oci:${out}:x`]);
      assert.equal(r.code, 1);
      oneLine(r.stderr);
      assert.match(r.stderr, /truncated/);
      assert.equal(existsSync(out), false);
    });

    it('a load whose connection drops mid-archive: one line, and the daemon tags nothing', async () => {
      proxy.rule = ({ path }) => (path.includes('/images/load') ? { kind: 'cut-request', bytes: 20_000 } : { kind: 'pass' });
      const r = await cliAsync(['copy', '-q', '--dest-daemon-host', proxy.host, `oci:${fixture('hello-oci')}:latest`, 'docker-daemon:ocikit/hello:dropped']);
      assert.equal(r.code, 1);
      oneLine(r.stderr);
      assert.match(r.stderr, /cannot talk to the Docker daemon/);
      assert.equal(inDocker('ocikit/hello:dropped'), undefined);
    });

    it('the image deleted while its export streams: the copy is of the image as exported, complete and verified', async () => {
      engine.docker(['tag', 'ocikit/hello:v1', 'ocikit/doomed:1']);
      proxy.rule = ({ path }) =>
        path.includes('/images/get')
          ? {
              kind: 'hold',
              bytes: 20_000,
              then: async () => {
                engine.docker(['rmi', 'ocikit/doomed:1']);
              },
            }
          : { kind: 'pass' };
      const out = join(dir, 'doomed-oci');
      const r = await cliAsync(['copy', '-q', '--dest-decompress', '--src-daemon-host', proxy.host, 'docker-daemon:ocikit/doomed:1', `oci:${out}:x`]);
      assert.equal(inDocker('ocikit/doomed:1'), undefined, 'the tag was removed mid-export');
      // The export began before the removal: what arrives is the whole image as it was then
      // (Docker 20.10 stages an export before sending it), complete and verified.
      assert.equal(r.code, 0, r.stderr);
      const idx = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
      const m = JSON.parse(readFileSync(join(out, 'blobs', 'sha256', idx.manifests[0]!.digest.slice(7)), 'utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
      assert.equal(m.config.digest, hello.id);
      assert.deepEqual(
        m.layers.map((l) => l.digest),
        hello.diffIDs,
      );
    });
  });
});

describe('docker-daemon: the daemon dies mid-export', () => {
  let engine: DockerEngine | undefined;
  let proxy: DaemonProxy | undefined;
  let dir: string;
  before(async () => {
    dir = tempDir('ocikit-daemon-dies-');
    engine = await startDockerd();
    // Bigger than the socket buffers between the daemon and the proxy: when the proxy stops
    // reading, the daemon is still writing, and killing it loses the rest.
    engine.docker(['load', '-i', await bigArchive(dir)]);
    proxy = await startDaemonProxy(engine.host.slice('unix://'.length));
  });
  after(async () => {
    await proxy?.close();
    await engine?.stop();
  });

  it('one line, and nothing at the destination', async () => {
    const e = engine!;
    proxy!.rule = ({ path }) =>
      path.includes('/images/get')
        ? {
            kind: 'hold',
            bytes: 20_000,
            then: async () => {
              process.kill(e.pid, 'SIGKILL');
            },
          }
        : { kind: 'pass' };
    const out = join(dir, 'out.tar');
    const r = await ocikitAsync(['--store', join(dir, 'store'), 'copy', '-q', '--src-daemon-host', proxy!.host, 'docker-daemon:ocikit/big:1', `docker-archive:${out}`]);
    assert.equal(r.code, 1);
    oneLine(r.stderr);
    assert.match(r.stderr, /the export stopped before its end: cannot talk to the Docker daemon/);
    assert.equal(existsSync(out), false);
  });
});

/** A docker-archive (written by skopeo, the independent writer) of a one-layer image with 16 MiB of random data, tagged ocikit/big:1. */
async function bigArchive(dir: string): Promise<string> {
  const layout = join(dir, 'big-oci');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer): string => {
    writeFileSync(join(blobs, sha(b).slice(7)), b);
    return sha(b);
  };
  const layer = await tarOf([{ name: 'data.bin', data: randomBytes(16 << 20) }]);
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha(layer)] } }));
  const m = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(cfg), size: cfg.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: put(layer), size: layer.length }],
    }),
  );
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: put(m), size: m.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
    }),
  );
  const out = join(dir, 'big.tar');
  run(requirePeer('skopeo'), ['copy', '-q', `oci:${layout}:latest`, `docker-archive:${out}:ocikit/big:1`]);
  return out;
}

describe('docker-daemon: a Docker 25+ export (OCI layout inside), from a stand-in engine', () => {
  // The installed dockerd (20.10) exports only the legacy layout, and a real Docker 25+ is not
  // available here: this in-process stand-in answers the two calls a read makes, with the archive
  // Docker 25's containerd image store writes (the OCI layout of the image, its original gzip
  // layers under blobs/, plus manifest.json). It also speaks an older API than ocikit asks for,
  // so version negotiation shows in the paths it sees.
  let dir: string;
  let server: Server;
  let sock: string;
  const seen: string[] = [];
  const hello = helloFacts();

  before(async () => {
    dir = tempDir('ocikit-daemon25-');
    const layout = fixture('hello-oci');
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const m = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
    const entries: Array<{ name: string; data?: Buffer; dir?: boolean }> = [
      { name: 'blobs/', dir: true },
      { name: 'blobs/sha256/', dir: true },
    ];
    for (const n of readdirSync(join(layout, 'blobs', 'sha256')).sort()) entries.push({ name: `blobs/sha256/${n}`, data: readFileSync(join(layout, 'blobs', 'sha256', n)) });
    entries.push({ name: 'index.json', data: readFileSync(join(layout, 'index.json')) }, { name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') });
    entries.push({
      name: 'manifest.json',
      data: Buffer.from(JSON.stringify([{ Config: `blobs/sha256/${m.config.digest.slice(7)}`, RepoTags: ['ocikit/hello:v25'], Layers: m.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`) }])),
    });
    const archive = await tarOf(entries);
    sock = join(mkdtempSync('/tmp/okf-'), 'engine.sock');
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url === '/_ping') {
        res.writeHead(200, { 'api-version': '1.44', 'content-type': 'text/plain' });
        res.end('OK');
      } else if (req.url?.startsWith('/v1.44/images/get?names=ocikit%2Fhello%3Av25')) {
        res.writeHead(200, { 'content-type': 'application/x-tar' });
        res.end(archive);
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"message":"no such image"}');
      }
    });
    await new Promise<void>((resolve) => server.listen(sock, () => resolve()));
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    rmSync(dirname(sock), { recursive: true, force: true });
  });

  it('reads the image: the original gzip layers, checked against their diff IDs, and the config', async () => {
    const out = join(dir, 'out');
    const r = await ocikitAsync(['--store', join(dir, 'store'), 'copy', '-q', '--src-daemon-host', `unix://${sock}`, 'docker-daemon:ocikit/hello:v25', `oci:${out}:x`]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      seen.some((s) => s.startsWith('GET /v1.44/images/get?')),
      `negotiated down to the engine's 1.44: ${seen.join(', ')}`,
    );
    const skopeo = requirePeer('skopeo');
    const raw = JSON.parse(run(skopeo, ['inspect', '--raw', `oci:${out}:x`]).stdout) as { config: { digest: string }; layers: Array<{ mediaType: string; digest: string }> };
    assert.equal(raw.config.digest, hello.id);
    // Kept as the engine sent them (gzip), each one verified to decompress to its diff ID on the way.
    assert.ok(
      raw.layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip' || l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip'),
      JSON.stringify(raw.layers),
    );
    assert.deepEqual(JSON.parse(run(skopeo, ['inspect', '--config', `oci:${out}:x`]).stdout).rootfs.diff_ids, hello.diffIDs);
    const missing = await ocikitAsync(['--store', join(dir, 'store'), 'inspect', '--daemon-host', `unix://${sock}`, 'docker-daemon:ocikit/nope:1']);
    assert.equal(missing.code, 2);
    oneLine(missing.stderr);
  });
});

/** A tar of `entries` (tar-stream, the library ocikit's writer uses, fixed mtimes). */
async function tarOf(entries: Array<{ name: string; data?: Buffer; dir?: boolean }>): Promise<Buffer> {
  const p = tarPack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const h = { name: e.name, mode: e.dir ? 0o755 : 0o644, mtime: new Date(0), type: e.dir ? ('directory' as const) : ('file' as const) };
      if (e.dir) p.entry(h, (err) => (err ? reject(err) : resolve()));
      else p.entry(h, e.data!, (err) => (err ? reject(err) : resolve()));
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}
