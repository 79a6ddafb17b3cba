/**
 * Incremental bundles, end to end through the CLI: week one carries everything, week two only what
 * the receiver's inventory lacks (byte count asserted); apply is all-or-nothing and idempotent; a
 * complete bundle is an oci-archive: skopeo and ocikit read; applied images are there for copy and
 * serve.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ocikit, run } from '../helpers/cli.js';
import { ociImage, randomLayer, type BuiltImage } from '../helpers/layer-images.js';
import { sha } from '../../support/digest.js';
import { cliPath, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { startServe } from '../helpers/serve.js';
import { storeSnapshot } from '../helpers/store.js';

function ok(r: { code: number; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r.stdout;
}

/** The size of a tar (tar-stream's: 512-byte headers, data padded to 512, two zero blocks at the end) of members of these sizes. */
function tarSize(sizes: number[]): number {
  return sizes.reduce((n, s) => n + 512 + Math.ceil(s / 512) * 512, 0) + 1024;
}

/** The blob members of a tar, by `tar -tvf`: name -> size. */
function tarBlobs(path: string): Map<string, number> {
  const out = run('tar', ['-tvf', path]).stdout.trim().split('\n');
  const m = new Map<string, number>();
  for (const line of out) {
    const parts = line.trim().split(/\s+/);
    const name = parts[parts.length - 1]!;
    if (/^blobs\/sha256\/[0-9a-f]{64}$/.test(name)) m.set(`sha256:${name.slice(13)}`, Number(parts[2]));
  }
  return m;
}

describe('ocikit bundle', () => {
  let dir: string;
  let sender: string;
  let receiver: string;
  let v1: BuiltImage;
  let v2: BuiltImage;
  let week1: string;
  let week2: string;

  before(() => {
    dir = tempDir('ocikit-bundle-');
    sender = join(dir, 'sender');
    receiver = join(dir, 'receiver');
    const base = [randomLayer(700_000), randomLayer(300_000)];
    v1 = ociImage(join(dir, 'v1'), base);
    v2 = ociImage(join(dir, 'v2'), [...base, randomLayer(120_000)]);
    ok(ocikit(['--store', sender, 'copy', '-q', v1.ref, 'store:acme/app:1']), 'v1 into the sender');
    ok(ocikit(['--store', sender, 'copy', '-q', v2.ref, 'store:acme/app:2']), 'v2 into the sender');
    week1 = join(dir, 'week1.tar');
    week2 = join(dir, 'week2.tar');
  });

  it('week one: a complete bundle that skopeo and ocikit read as oci-archive:, applied on the far side', () => {
    ok(ocikit(['--store', sender, 'bundle', 'create', 'store:acme/app:1', '-o', week1]), 'bundle create');
    const skopeo = requirePeer('skopeo');
    const sk = join(dir, 'sk-week1');
    run(skopeo, ['--insecure-policy', 'copy', '-q', `oci-archive:${week1}:acme/app:1`, `dir:${sk}`]);
    assert.equal(sha(readFileSync(join(sk, 'manifest.json'))), v1.manifestDigest);
    for (const l of v1.layers) assert.deepEqual(readFileSync(join(sk, l.digest.slice(7))), l.gz);
    const oc = ocikit(['--store', join(dir, 'other'), 'copy', '-q', '--json', `oci-archive:${week1}:acme/app:1`, `oci:${join(dir, 'ok-week1')}:x`]);
    assert.equal(JSON.parse(ok(oc, 'ocikit reads the bundle')).manifestDigest, v1.manifestDigest);

    const out = ok(ocikit(['--store', receiver, 'bundle', 'apply', week1]), 'apply week one');
    assert.equal(out.trim(), `${v1.manifestDigest}  store:acme/app:1`);
  });

  it('-o /dev/stdout: the same bundle on standard output (a pipe), and the summary on stderr', () => {
    const r = spawnSync(cliPath, ['--store', sender, 'bundle', 'create', 'store:acme/app:1', '-o', '/dev/stdout'], { maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr.toString());
    // The same members, modes, owners, times and bytes as the file (the stream's headers are tar-stream's encoding, the file's the writer's own).
    const piped = join(dir, 'week1-piped.tar');
    writeFileSync(piped, r.stdout);
    assert.equal(run('tar', ['-tvf', piped]).stdout, run('tar', ['-tvf', week1]).stdout);
    assert.equal(r.stdout.length, statSync(week1).size, 'nothing else on stdout');
    const contents = (tar: string): Buffer => spawnSync('tar', ['-xOf', tar], { maxBuffer: 64 << 20 }).stdout;
    assert.ok(contents(piped).equals(contents(week1)), 'the same member bytes');
    assert.match(r.stderr.toString(), /^wrote \/dev\/stdout: 1 image, 4 blobs/m);
  });

  it('week two: with the receiver inventory, the bundle holds only the new layer, config and manifest', () => {
    const inv = join(dir, 'inventory.json');
    writeFileSync(inv, ok(ocikit(['--store', receiver, 'bundle', 'inventory']), 'inventory'));
    assert.deepEqual(JSON.parse(readFileSync(inv, 'utf8')).blobs, [v1.manifestDigest, v1.configDigest, ...v1.layers.map((l) => l.digest)].sort());
    const res = JSON.parse(ok(ocikit(['--store', sender, '--json', 'bundle', 'create', 'store:acme/app:2', '--since', inv, '-o', week2]), 'bundle create --since'));
    const newLayer = v2.layers[2]!;
    const want = new Map([
      [v2.manifestDigest, v2.manifest.length],
      [v2.configDigest, v2.config.length],
      [newLayer.digest, newLayer.gz.length],
    ]);
    assert.deepEqual(tarBlobs(week2), want);
    assert.equal(res.leftOut, 2);
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: v2.manifestDigest, size: v2.manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'acme/app:2' } }],
    });
    // oci-layout, index.json, two directories, three blobs: nothing else.
    assert.equal(statSync(week2).size, tarSize([30, index.length, 0, 0, ...want.values()]));
    assert.ok(statSync(week2).size < v2.layers[0]!.gz.length, 'smaller than the base layer it leaves out');
  });

  it('the inventory lists only what the receiver keeps: a gc between inventory and apply removes nothing the bundle counts on', () => {
    // A receiver that once held v2 under refs since removed (the copy's destination and the source
    // the store remembers): v2's own layer, config and manifest are still files in its store, but
    // no ref reaches them, so the next gc removes them.
    const far = join(dir, 'far');
    ok(ocikit(['--store', far, 'copy', '-q', v1.ref, 'store:acme/app:1']), 'v1 into the far store');
    ok(ocikit(['--store', far, 'copy', '-q', v2.ref, 'store:scratch/app:2']), 'v2 under a ref to drop');
    ok(ocikit(['--store', far, 'store', 'rm', 'store:scratch/app:2', v2.ref]), 'drop its refs');
    const inv = join(dir, 'far-inventory.json');
    writeFileSync(inv, ok(ocikit(['--store', far, 'bundle', 'inventory']), 'inventory'));
    assert.deepEqual(JSON.parse(readFileSync(inv, 'utf8')).blobs, [v1.manifestDigest, v1.configDigest, ...v1.layers.map((l) => l.digest)].sort());
    const b = join(dir, 'far-week2.tar');
    ok(ocikit(['--store', sender, 'bundle', 'create', 'store:acme/app:2', '--since', inv, '-o', b]), 'bundle create --since');
    const gc = JSON.parse(ok(ocikit(['--store', far, '--json', 'store', 'gc']), 'gc on the far side')) as { removed: string[] };
    assert.ok(gc.removed.includes(v2.layers[2]!.digest), `gc removed v2's own layer: ${JSON.stringify(gc.removed)}`);
    assert.equal(ok(ocikit(['--store', far, 'bundle', 'apply', b]), 'apply after gc').trim(), `${v2.manifestDigest}  store:acme/app:2`);
  });

  it('a bundle that lacks a blob the receiver does not have is refused before anything changes', () => {
    const fresh = join(dir, 'fresh');
    const before = storeSnapshot(fresh);
    const r = ocikit(['--store', fresh, 'bundle', 'apply', week2]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /lacks 2 blobs this store does not have either/);
    assert.deepEqual(storeSnapshot(fresh), before);
  });

  it('a tampered or truncated bundle changes nothing', () => {
    const before = storeSnapshot(receiver);
    const bytes = readFileSync(week2);
    const newLayer = v2.layers[2]!;
    const at = bytes.indexOf(newLayer.gz.subarray(0, 256));
    assert.ok(at > 0);
    const tampered = join(dir, 'tampered.tar');
    const t = Buffer.from(bytes);
    t[at + 1000] = t[at + 1000]! ^ 0xff;
    writeFileSync(tampered, t);
    const r1 = ocikit(['--store', receiver, 'bundle', 'apply', tampered]);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /digest|nothing was changed/);
    assert.deepEqual(storeSnapshot(receiver), before);

    const manifestAt = bytes.indexOf(v2.manifest.subarray(0, 64));
    const badManifest = join(dir, 'bad-manifest.tar');
    const m = Buffer.from(bytes);
    m[manifestAt + 40] = m[manifestAt + 40]! ^ 0x01;
    writeFileSync(badManifest, m);
    assert.equal(ocikit(['--store', receiver, 'bundle', 'apply', badManifest]).code, 1);
    assert.deepEqual(storeSnapshot(receiver), before);

    for (const keep of [bytes.length - 1024 - 700, Math.floor(bytes.length / 2), 600]) {
      const truncated = join(dir, `truncated-${keep}.tar`);
      copyFileSync(week2, truncated);
      truncateSync(truncated, keep);
      const r = ocikit(['--store', receiver, 'bundle', 'apply', truncated]);
      assert.equal(r.code, 1, `truncated at ${keep}: ${r.stderr}`);
      assert.deepEqual(storeSnapshot(receiver), before, `truncated at ${keep}`);
    }
  });

  it('week two applies over week one, again without change (idempotent), and the image is there for copy and serve', async () => {
    ok(ocikit(['--store', receiver, 'bundle', 'apply', week2]), 'apply week two');
    const once = storeSnapshot(receiver);
    assert.ok(once.refs.includes(`store:acme/app:2 ${v2.manifestDigest}`));
    const again = ocikit(['--store', receiver, 'bundle', 'apply', week2]);
    ok(again, 'apply week two again');
    assert.match(again.stderr, /stored 0 blobs/);
    assert.deepEqual(storeSnapshot(receiver), once);

    const copied = ocikit(['--store', receiver, '--json', 'copy', '-q', 'store:acme/app:2', `oci:${join(dir, 'from-store')}:x`]);
    assert.equal(JSON.parse(ok(copied, 'copy store:acme/app:2')).manifestDigest, v2.manifestDigest);
    assert.equal(JSON.parse(ok(copied, '')).bytesRead, 0, 'nothing fetched: the store had it all');

    const srv = await startServe(receiver, ['--read-only']);
    try {
      const raw = run(requirePeer('skopeo'), ['inspect', '--raw', '--tls-verify=false', `docker://${srv.host}/acme/app:2`]).stdout;
      assert.equal(sha(Buffer.from(raw)), v2.manifestDigest);
    } finally {
      await srv.stop();
    }
  });

  it('names: a docker reference becomes its canonical name; an image without a name is refused with a hint', () => {
    const archive = join(dir, 'named.tar');
    ok(ocikit(['--store', sender, 'copy', '-q', v1.ref, `docker-archive:${archive}:acme/tool:3`]), 'docker-archive');
    const b = join(dir, 'named-bundle.tar');
    ok(ocikit(['--store', sender, 'bundle', 'create', `docker-archive:${archive}:acme/tool:3`, '-o', b]), 'bundle a docker-archive');
    const other = join(dir, 'named-receiver');
    assert.match(ok(ocikit(['--store', other, 'bundle', 'apply', b]), 'apply'), /store:docker\.io\/acme\/tool:3\n$/);
    const r = ocikit(['--store', sender, 'bundle', 'create', v1.ref, '-o', join(dir, 'unnamed.tar')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /has no image name to give the receiver \(copy it into the store under a name first/);
  });
});
