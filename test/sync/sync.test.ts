/**
 * ocikit sync against two real docker-registry instances on loopback: an open one behind a logging
 * fault proxy (pagination, a tag that vanishes, a broken blob, request counts) and one with
 * htpasswd Basic auth over TLS. skopeo reads everything written, and runs the same syncs where it
 * has the feature, for the same outcome.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyImage } from '../../lib/copy/index.js';
import { closeDispatchers } from '../../lib/registry/index.js';
import { BlobStore } from '../../lib/store/index.js';
import { parseSyncConfig } from '../../lib/sync/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import type { TransportOptions } from '../../lib/transports/types.js';
import { ocikitAsync, runAsync, type RunResult } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { makeLayer, pseudoRandom, writeImage } from '../../support/images.js';
import { cliPath, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { startRegistry, type RegistryHandle } from '../../support/registry.js';

const ALICE = { username: 'alice', password: 'sync-Pa55word' };
const home = tempDir('ocikit-sync-home-');
const env = { HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, '.config'), REGISTRY_AUTH_FILE: join(home, 'auth.json') };

let open: RegistryHandle;
let basic: RegistryHandle;
let proxy: FaultProxy;
/** Manifest digests of app:v1..v4, by tag. */
const appDigest: Record<string, string> = {};
let baseLayerDigest = '';
let v3LayerDigest = '';
let manyDigest = '';

interface Report {
  images: Array<{ source: string; destination: string; status: string; digest?: string; error?: { code: string; message: string } }>;
  copied: number;
  skipped: number;
  failed: number;
  gone: number;
  sources: number;
}

/** ocikit sync with a fresh store (unless given), --json, reading the report. */
async function sync(args: string[], store = tempDir('ocikit-sync-store-')): Promise<RunResult & { report?: Report }> {
  const r = await ocikitAsync(['--store', store, 'sync', '--json', ...args], { env });
  let report: Report | undefined;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    report = undefined;
  }
  return { ...r, ...(report ? { report } : {}) };
}

function skopeo(args: string[]): Promise<RunResult> {
  return runAsync(requirePeer('skopeo'), args, { env });
}

const srcTls = ['--src-tls-verify=false'];
const destAuth = (): string[] => ['--dest-cert-dir', basic.certDir!, '--dest-creds', `${ALICE.username}:${ALICE.password}`];
const srcAuth = (): string[] => ['--src-cert-dir', basic.certDir!, '--src-creds', `${ALICE.username}:${ALICE.password}`];

/** The images of a dir: tree (sync --dest dir output): relative directory → manifest digest (via skopeo). */
async function dirTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, rel: string): Promise<void> => {
    if (existsSync(join(d, 'manifest.json'))) {
      const s = await skopeo(['inspect', `dir:${d}`]);
      assert.equal(s.code, 0, s.stderr);
      out[rel] = (JSON.parse(s.stdout) as { Digest: string }).Digest;
      return;
    }
    // skopeo leaves a failed image's directory half-written (blobs, no manifest.json): not an image.
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) if (e.isDirectory()) await walk(join(d, e.name), rel ? `${rel}/${e.name}` : e.name);
  };
  if (existsSync(root)) await walk(root, '');
  return out;
}

before(async () => {
  [open, basic] = await Promise.all([startRegistry(), startRegistry({ htpasswd: [ALICE] })]);
  proxy = await startFaultProxy(open.host);
  const base = makeLayer([{ name: 'base.bin', data: pseudoRandom(256 * 1024, 'base') }]);
  baseLayerDigest = base.digest;
  const store = BlobStore.open(tempDir());
  try {
    const push = async (layout: string, dest: string, ctx: TransportOptions = { registry: { tlsVerify: false } }): Promise<void> => {
      await copyImage(parseImageName(`oci:${layout}:latest`), parseImageName(dest), { store, destCtx: ctx });
    };
    for (const i of [1, 2, 3, 4]) {
      const unique = makeLayer([{ name: 'variant.txt', data: `variant ${i}\n` }]);
      if (i === 3) v3LayerDigest = unique.digest;
      const dir = tempDir();
      appDigest[`v${i}`] = writeImage(dir, [base, unique], `v${i}`);
      await push(dir, `docker://${open.host}/app:v${i}`);
    }
    const one = tempDir();
    manyDigest = writeImage(one, [base, makeLayer([{ name: 'm.txt', data: 'many' }])], 'many');
    // 120 tags: more than one page of tags at the page size the proxy is given below.
    for (let i = 0; i < 120; i++) await push(one, `docker://${open.host}/many:t${String(i).padStart(3, '0')}`);
    for (const t of ['1.0.0', '1.2.0', '2.0.0', 'v1.5', 'latest']) await push(one, `docker://${open.host}/semv:${t}`);
    // The authenticated registry holds a repository too (a source with credentials in YAML).
    for (const t of ['v1', 'v2']) {
      const dir = tempDir();
      writeImage(dir, [base, makeLayer([{ name: 'b.txt', data: t }])], `b-${t}`);
      await copyImage(parseImageName(`oci:${dir}:latest`), parseImageName(`docker://${basic.host}/src/app:${t}`), { store, destCtx: { registry: { certDir: basic.certDir!, credentials: ALICE } } });
    }
  } finally {
    store.close();
  }
});

after(async () => {
  await closeDispatchers();
  await proxy.close();
  await Promise.all([open.stop(), basic.stop()]);
});

describe('sync --src docker', () => {
  it('copies every tag to a Basic-auth registry; skopeo reads each; shared blobs are fetched once', async () => {
    proxy.rule = () => ({ kind: 'pass' });
    const start = proxy.requests.length;
    const r = await sync([...srcTls, ...destAuth(), '--src', 'docker', '--dest', 'docker', `${proxy.host}/app`, `${basic.host}/mirror`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report!.copied, 4);
    assert.deepEqual(
      r.report!.images.map((i) => i.destination).sort(),
      ['v1', 'v2', 'v3', 'v4'].map((t) => `docker://${basic.host}/mirror/app:${t}`),
    );
    // The layer every tag shares crossed the network once.
    const baseGets = proxy.requests.slice(start).filter((q) => q.method === 'GET' && q.path.endsWith(`/blobs/${baseLayerDigest}`));
    assert.equal(baseGets.length, 1);
    for (const t of ['v1', 'v2', 'v3', 'v4']) {
      const s = await skopeo(['inspect', '--cert-dir', basic.certDir!, '--creds', `${ALICE.username}:${ALICE.password}`, `docker://${basic.host}/mirror/app:${t}`]);
      assert.equal(s.code, 0, s.stderr);
      assert.equal((JSON.parse(s.stdout) as { Digest: string }).Digest, appDigest[t]);
    }
    assert.match(r.stderr, /^\[1\/4\] copied docker:\/\//m);
    assert.match(r.stderr, /Synced 4 images from 1 source: 4 copied, 0 skipped, 0 failed/);
  });

  it('a layer every tag shares is checked and mounted once per destination repository, then known; the images run side by side', async () => {
    proxy.rule = () => ({ kind: 'pass' });
    const start = proxy.requests.length;
    const r = await sync([...srcTls, '--dest-tls-verify=false', '--src', 'docker', '--dest', 'docker', `${proxy.host}/app`, `${proxy.host}/ledger`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report!.copied, 4);
    const atDest = proxy.requests.slice(start).filter((q) => q.path.startsWith('/v2/ledger/app/blobs/'));
    const forBase = atDest.filter((q) => decodeURIComponent(q.path).includes(baseLayerDigest));
    assert.deepEqual(
      forBase.map((q) => `${q.method} ${q.status}`),
      ['HEAD 404', 'POST 201'],
      'one HEAD and one mount (from the source repository, same registry) for the four images',
    );
    assert.equal(proxy.requests.slice(start).filter((q) => q.method === 'GET' && q.path.includes('/blobs/')).length, 0, 'no blob downloaded');
    for (const t of ['v1', 'v2', 'v3', 'v4']) {
      const s = await skopeo(['inspect', '--tls-verify=false', `docker://${open.host}/ledger/app:${t}`]);
      assert.equal(s.code, 0, s.stderr);
      assert.equal((JSON.parse(s.stdout) as { Digest: string }).Digest, appDigest[t]);
    }
  });

  it('a second run skips every image after one HEAD on each side (skopeo 1.9.3 copies again)', async () => {
    const start = proxy.requests.length;
    const r = await sync([...srcTls, ...destAuth(), '--src', 'docker', '--dest', 'docker', `${proxy.host}/app`, `${basic.host}/mirror`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report!.skipped, 4);
    assert.equal(r.report!.copied, 0);
    const seen = proxy.requests.slice(start);
    assert.equal(seen.filter((q) => q.path.includes('/blobs/')).length, 0, 'no blob requests');
    assert.deepEqual(
      seen.filter((q) => q.path.includes('/manifests/')).map((q) => q.method),
      ['HEAD', 'HEAD', 'HEAD', 'HEAD'],
    );
  });

  it('a repository of more than 100 tags is listed page by page, into one OCI layout with REPO:TAG refs', async () => {
    proxy.rule = ({ path }) => (path.includes('/tags/list') ? { kind: 'paginate-tags', pageSize: 50 } : { kind: 'pass' });
    const start = proxy.requests.length;
    const layout = join(tempDir(), 'layout');
    try {
      const r = await sync([...srcTls, '--src', 'docker', '--dest', 'oci', `${proxy.host}/many`, layout]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.report!.copied, 120);
      assert.equal(proxy.requests.slice(start).filter((q) => q.path.includes('/tags/list')).length, 3, 'three pages');
      const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
      const refs = index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']).sort();
      assert.equal(refs.length, 120);
      assert.equal(refs[0], 'many:t000');
      assert.equal(refs[119], 'many:t119');
      assert.ok(index.manifests.every((m) => m.digest === manyDigest));
      const s = await skopeo(['inspect', `oci:${layout}:many:t119`]);
      assert.equal(s.code, 0, s.stderr);
      assert.equal((JSON.parse(s.stdout) as { Digest: string }).Digest, manyDigest);
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
    }
  });

  it('a tag that disappears mid-sync is reported gone and the rest is synced (skopeo fails)', async () => {
    // The registry listed v2, then answers for it as a registry does once the tag is deleted.
    const unknown = JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
    proxy.rule = ({ path }) => (path.endsWith('/manifests/v2') ? { kind: 'status', status: 404, body: unknown } : { kind: 'pass' });
    try {
      const dest = join(tempDir(), 'd');
      const r = await sync([...srcTls, '--src', 'docker', '--dest', 'dir', `${proxy.host}/app`, dest]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.report!.gone, 1);
      assert.equal(r.report!.copied, 3);
      assert.equal(r.report!.images.find((i) => i.status === 'gone')!.source, `docker://${proxy.host}/app:v2`);
      assert.match(r.stderr, /gone docker:\/\/.*app:v2: the registry listed this tag but no longer has it/);
      assert.deepEqual(await dirTree(dest), { 'app:v1': appDigest.v1, 'app:v3': appDigest.v3, 'app:v4': appDigest.v4 });
      const s = await skopeo(['--insecure-policy', 'sync', '--src-tls-verify=false', '--src', 'docker', '--dest', 'dir', `${proxy.host}/app`, join(tempDir(), 's')]);
      assert.equal(s.code, 1);
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
    }
  });

  it('--keep-going: one broken image fails, the others are synced, exit 1 (as skopeo); without it the sync stops', async () => {
    // v3's own layer arrives corrupted, every time.
    proxy.rule = ({ method, path }) => (method === 'GET' && path.endsWith(`/blobs/${v3LayerDigest}`) ? { kind: 'corrupt' } : { kind: 'pass' });
    try {
      const stop = join(tempDir(), 'stop');
      const r1 = await sync([...srcTls, '--jobs', '1', '--src', 'docker', '--dest', 'dir', `${proxy.host}/app`, stop]);
      assert.equal(r1.code, 1);
      const err = JSON.parse(r1.stderr.trim().split('\n').pop()!) as { error: { code: string; message: string } };
      assert.equal(err.error.code, 'E_DIGEST_MISMATCH');
      assert.match(err.error.message, /^sync: copying docker:\/\/.*app:v3 to dir:/);
      assert.deepEqual(Object.keys(await dirTree(stop)), ['app:v1', 'app:v2'], 'v4 is not attempted');

      const keep = join(tempDir(), 'keep');
      const r2 = await sync([...srcTls, '--keep-going', '--src', 'docker', '--dest', 'dir', `${proxy.host}/app`, keep]);
      assert.equal(r2.code, 1);
      assert.equal(r2.report!.failed, 1);
      assert.equal(r2.report!.copied, 3);
      assert.equal(r2.report!.images.find((i) => i.status === 'failed')!.source, `docker://${proxy.host}/app:v3`);
      assert.match(r2.stderr, /"message":"sync: 1 of 4 images failed/);
      const ours = await dirTree(keep);
      assert.deepEqual(ours, { 'app:v1': appDigest.v1, 'app:v2': appDigest.v2, 'app:v4': appDigest.v4 });

      const theirs = join(tempDir(), 'skopeo');
      const s = await skopeo(['--insecure-policy', 'sync', '--keep-going', '--src-tls-verify=false', '--src', 'docker', '--dest', 'dir', `${proxy.host}/app`, theirs]);
      assert.equal(s.code, 1);
      assert.deepEqual(await dirTree(theirs), ours);
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
    }
  });

  it('an interrupted sync continues where it stopped when run again', async () => {
    const store = tempDir('ocikit-sync-store-');
    const dest = join(tempDir(), 'resume');
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(cliPath, ['--store', store, 'sync', '--jobs', '1', ...srcTls, '--src', 'docker', '--dest', 'dir', `${proxy.host}/app`, dest], {
        env: { ...process.env, ...env },
      });
      let err = '';
      p.stderr.on('data', (c: Buffer) => {
        err += c.toString();
        // Interrupt once the first image is in place.
        if (/\] copied /.test(err) && p.exitCode === null && !p.killed) p.kill('SIGINT');
      });
      p.on('close', (c) => resolve(c));
    });
    assert.equal(code, 130);
    const done = await dirTree(dest);
    assert.ok(Object.keys(done).length >= 1 && Object.keys(done).length < 4, JSON.stringify(done));
    const r = await sync([...srcTls, '--src', 'docker', '--dest', 'dir', `${proxy.host}/app`, dest], store);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report!.skipped, Object.keys(done).length);
    assert.equal(r.report!.copied, 4 - Object.keys(done).length);
    assert.deepEqual(await dirTree(dest), { 'app:v1': appDigest.v1, 'app:v2': appDigest.v2, 'app:v3': appDigest.v3, 'app:v4': appDigest.v4 });
  });

  it('--scoped and --dry-run name destinations as skopeo; --dry-run writes nothing; --digestfile lists each image', async () => {
    const ours = join(tempDir(), 'ours');
    const dry = await sync([...srcTls, '--dry-run', '--scoped', '--src', 'docker', '--dest', 'dir', `${proxy.host}/app:v1`, ours]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.report!.images[0]!.status, 'would-copy');
    assert.equal(existsSync(ours), false);
    const df = join(tempDir(), 'digests');
    const r = await sync([...srcTls, '--scoped', '--digestfile', df, '--src', 'docker', '--dest', 'dir', `${proxy.host}/app:v1`, ours]);
    assert.equal(r.code, 0, r.stderr);
    const theirs = join(tempDir(), 'theirs');
    const s = await skopeo(['--insecure-policy', 'sync', '--scoped', '--src-tls-verify=false', '--src', 'docker', '--dest', 'dir', `${proxy.host}/app:v1`, theirs]);
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(await dirTree(ours), await dirTree(theirs));
    assert.deepEqual(Object.keys(await dirTree(ours)), [`${proxy.host}/app:v1`]);
    assert.equal(readFileSync(df, 'utf8'), `${appDigest.v1} dir:${join(ours, proxy.host, 'app:v1')}\n`);
  });

  it("takes copy's compression flags: zstd layers at a registry and decompressed ones in a dir:, which skopeo reads", async () => {
    const r = await sync([
      ...srcTls,
      '--dest-tls-verify=false',
      '--dest-compress-format',
      'zstd',
      '--dest-compress-level',
      '5',
      '--src',
      'docker',
      '--dest',
      'docker',
      `${open.host}/app:v1`,
      `${open.host}/zstd`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const s = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${open.host}/zstd/app:v1`]);
    assert.equal(s.code, 0, s.stderr);
    const layers = (JSON.parse(s.stdout) as { layers: Array<{ mediaType: string }> }).layers;
    assert.deepEqual(
      layers.map((l) => l.mediaType),
      ['application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar+zstd'],
    );
    // skopeo reads the zstd layers: decompressed into a dir: they are tar archives again.
    const out = join(tempDir(), 'sk');
    const c = await skopeo(['--insecure-policy', 'copy', '--src-tls-verify=false', '--dest-decompress', `docker://${open.host}/zstd/app:v1`, `dir:${out}`]);
    assert.equal(c.code, 0, c.stderr);
    const plain = join(tempDir(), 'plain');
    const d = await sync([...srcTls, '--dest-decompress', '--src', 'docker', '--dest', 'dir', `${open.host}/app:v1`, plain]);
    assert.equal(d.code, 0, d.stderr);
    const m = await skopeo(['inspect', '--raw', `dir:${join(plain, 'app:v1')}`]);
    const ml = (JSON.parse(m.stdout) as { layers: Array<{ mediaType: string; digest: string }> }).layers;
    for (const l of ml) {
      assert.doesNotMatch(l.mediaType, /gzip|zstd/);
      const bytes = readFileSync(join(plain, 'app:v1', l.digest.slice(7)));
      assert.equal(bytes.subarray(257, 262).toString(), 'ustar', 'a plain tar');
    }
  });

  it('--append-suffix is added to every destination tag', async () => {
    const r = await sync([...srcTls, '--append-suffix', '-mirror', '--src', 'docker', '--dest', 'oci', `${proxy.host}/app:v2`, join(tempDir(), 'l')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.report!.images[0]!.destination, /:app:v2-mirror$/);
  });
});

describe('sync --src dir', () => {
  it('syncs every image of a tree to a registry, as skopeo does', async () => {
    const tree = join(tempDir(), 'tree');
    assert.equal((await sync([...srcTls, '--src', 'docker', '--dest', 'dir', `${proxy.host}/app`, tree])).code, 0);
    const r = await sync([...destAuth(), '--src', 'dir', '--dest', 'docker', tree, `${basic.host}/fromdir`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report!.copied, 4);
    const s = await skopeo(['--insecure-policy', 'sync', ...destAuth(), '--src', 'dir', '--dest', 'docker', tree, `${basic.host}/fromdir-skopeo`]);
    assert.equal(s.code, 0, s.stderr);
    for (const t of ['v1', 'v2', 'v3', 'v4']) {
      for (const ns of ['fromdir', 'fromdir-skopeo']) {
        const i = await skopeo(['inspect', '--cert-dir', basic.certDir!, '--creds', `${ALICE.username}:${ALICE.password}`, `docker://${basic.host}/${ns}/app:${t}`]);
        assert.equal(i.code, 0, i.stderr);
        assert.equal((JSON.parse(i.stdout) as { Digest: string }).Digest, appDigest[t]);
      }
    }
  });
});

/** A sync YAML naming the open registry (`open` lines under its images:) and the Basic-auth one, with its credentials (`basicImages`). */
function twoRegistriesYaml(open: string[], basicImages: string): string {
  return [
    `${proxy.host}:`,
    '  tls-verify: false',
    '  images:',
    ...open,
    `${basic.host}:`,
    `  cert-dir: ${basic.certDir}`,
    '  credentials:',
    `    username: ${ALICE.username}`,
    `    password: ${ALICE.password}`,
    '  images:',
    basicImages,
    '',
  ].join('\n');
}

describe('sync --src yaml', () => {
  it('tags, digests, tag regex, credentials and cert-dir: the same images as skopeo sync', async () => {
    const d = tempDir();
    const file = join(d, 'sync.yaml');
    writeFileSync(file, twoRegistriesYaml(['    app:', '      - v1', `      - "${appDigest.v2}"`, '  images-by-tag-regex:', '    semv: ^1\\.[0-9]+\\.0$'], '    src/app: []'));
    const ours = join(d, 'ours');
    // --scoped: the two registries both have an "app" repository.
    const r = await sync(['--scoped', '--src', 'yaml', '--dest', 'dir', file, ours]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report!.sources, 3);
    const theirs = join(d, 'theirs');
    const s = await skopeo(['--insecure-policy', 'sync', '--scoped', '--src', 'yaml', '--dest', 'dir', file, theirs]);
    assert.equal(s.code, 0, s.stderr);
    const got = await dirTree(ours);
    assert.deepEqual(got, await dirTree(theirs));
    assert.deepEqual(
      Object.keys(got).sort(),
      [`${proxy.host}/app:v1`, `${proxy.host}/app@${appDigest.v2}`, `${proxy.host}/semv:1.0.0`, `${proxy.host}/semv:1.2.0`, `${basic.host}/src/app:v1`, `${basic.host}/src/app:v2`].sort(),
    );
  });

  it('two sources that map to one destination name are an error naming both, before anything is copied', async () => {
    const d = tempDir();
    const file = join(d, 'clash.yaml');
    writeFileSync(file, twoRegistriesYaml(['    app: [v1]'], '    src/app: [v1]'));
    const out = join(d, 'out');
    const r = await sync(['--src', 'yaml', '--dest', 'dir', file, out]);
    assert.equal(r.code, 1);
    // (--json: the error is one JSON object.)
    assert.match(r.stderr, new RegExp(`"message":"sync: docker://${proxy.host}/app:v1 and docker://${basic.host}/src/app:v1 would both be written to dir:\\S+/app:v1","hint":"use --scoped`));
    assert.equal(existsSync(out), false, 'nothing was copied');
    const scoped = await sync(['--scoped', '--src', 'yaml', '--dest', 'dir', file, out]);
    assert.equal(scoped.code, 0, scoped.stderr);
  });

  it('images-by-semver selects the tags in a range (Masterminds syntax: commas, a v prefix)', async () => {
    const file = join(tempDir(), 's.yaml');
    writeFileSync(file, `${proxy.host}:\n  tls-verify: false\n  images-by-semver:\n    semv: ">= 1.0.0, < 2.0.0"\n`);
    const r = await sync(['--dry-run', '--src', 'yaml', '--dest', 'oci', file, join(tempDir(), 'l')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.report!.images.map((i) => i.source.split(':').pop()).sort(), ['1.0.0', '1.2.0', 'v1.5']);
  });

  it('bad YAML, an unknown key, a bad regex or range: one line naming the file, the line and the key', async () => {
    const d = tempDir();
    const cases: Array<[string, RegExp]> = [
      [`${proxy.host}:\n  images:\n    app: []\n  tls-verfy: false\n`, /:4: .*tls-verfy: unknown key/],
      [`${proxy.host}:\n  images: [\n`, /:3: not valid YAML/],
      [`${proxy.host}:\n  images-by-tag-regex:\n    app: "(unclosed"\n`, /:3: .*images-by-tag-regex\.app: not a regular expression/],
      [`${proxy.host}:\n  images-by-semver:\n    app: "not a range"\n`, /:3: .*images-by-semver\.app: "not a range" is not a semver range/],
      [`${proxy.host}:\n  images:\n    app: ["bad tag!"]\n`, /:3: .*images\.app: "bad tag!" is not a valid tag/],
      [`${proxy.host}:\n  tls-verify: false\n`, /:1: .*no images/],
    ];
    for (const [i, [text, want]] of cases.entries()) {
      const file = join(d, `bad-${i}.yaml`);
      writeFileSync(file, text);
      const r = await ocikitAsync(['sync', '--src', 'yaml', '--dest', 'dir', file, join(d, `out-${i}`)], { env });
      assert.equal(r.code, 1, text);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^ocikit: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${want.source}`), r.stderr);
      assert.equal(existsSync(join(d, `out-${i}`)), false);
    }
    assert.throws(() => parseSyncConfig('x', 'f.yaml'), /f\.yaml:1: expected a mapping/);
  });
});

describe('sync --src docker with an authenticated source', () => {
  it('reads with --src-creds and --src-cert-dir into one OCI layout that skopeo reads', async () => {
    const layout = join(tempDir(), 'l');
    const r = await sync([...srcAuth(), '--src', 'docker', '--dest', 'oci', `${basic.host}/src/app`, layout]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report!.copied, 2);
    for (const t of ['v1', 'v2']) {
      const want = await skopeo(['inspect', '--cert-dir', basic.certDir!, '--creds', `${ALICE.username}:${ALICE.password}`, `docker://${basic.host}/src/app:${t}`]);
      const got = await skopeo(['inspect', `oci:${layout}:app:${t}`]);
      assert.equal(got.code, 0, got.stderr);
      assert.equal((JSON.parse(got.stdout) as { Digest: string }).Digest, (JSON.parse(want.stdout) as { Digest: string }).Digest);
    }
  });
});
