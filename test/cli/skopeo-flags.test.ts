/**
 * The smaller copy, sync, login and logout flags of skopeo 1.22, each run beside skopeo 1.9.3 where
 * it has the flag (or read back by skopeo where it has not): --dest-oci-accept-uncompressed-layers,
 * --src-/--dest-shared-blob-dir, --dest-force-compress-format, --dest-precompute-digests,
 * --additional-tag as a comma-separated list, login/logout --compat-auth-file, and the global
 * --tls-verify skopeo still takes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeDispatchers } from '../../lib/registry/index.js';
import { dockerCompatKey } from '../../lib/auth/index.js';
import { ocikit, run } from '../helpers/cli.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { startRegistry, type RegistryHandle } from '../../support/registry.js';
import { sha } from '../../support/digest.js';

const HELLO = `oci:${fixture('hello-oci')}:latest`;
const HELLO_DIGEST = 'sha256:0f84579c704be60c6d3004afdf7a54631e413c026e4b8cf2dbb90aee9a3495f7';
const ALICE = { username: 'alice', password: 'flags-Pa55word' };
const home = tempDir('ocikit-flags-home-');
const env = { HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, '.config'), OCIKIT_STORE: join(home, 'store'), REGISTRY_AUTH_FILE: '' };
const skopeo = (args: string[]): ReturnType<typeof run> => run(requirePeer('skopeo'), args, { allowFail: true, env });

let reg: RegistryHandle;
let basic: RegistryHandle;

before(async () => {
  [reg, basic] = await Promise.all([startRegistry(), startRegistry({ htpasswd: [ALICE] })]);
});
after(async () => {
  await closeDispatchers();
  await Promise.all([reg.stop(), basic.stop()]);
});

function ok(args: string[]): string {
  const r = ocikit(args, { env });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

const layersOf = (manifest: string): Array<{ mediaType: string; digest: string }> => (JSON.parse(manifest) as { layers: Array<{ mediaType: string; digest: string }> }).layers;

describe('copy: destination flags', () => {
  it('--dest-oci-accept-uncompressed-layers keeps plain layers plain in oci:, as skopeo does (same manifest digest)', () => {
    const d = tempDir();
    ok(['copy', '-q', '--dest-decompress', HELLO, `dir:${join(d, 'plain')}`]);
    ok(['copy', '-q', '--dest-oci-accept-uncompressed-layers', `dir:${join(d, 'plain')}`, `oci:${join(d, 'ours')}:x`]);
    const s = skopeo(['--insecure-policy', 'copy', '-q', '--dest-oci-accept-uncompressed-layers', `dir:${join(d, 'plain')}`, `oci:${join(d, 'theirs')}:x`]);
    assert.equal(s.code, 0, s.stderr);
    const ours = ok(['inspect', '--raw', `oci:${join(d, 'ours')}:x`]);
    assert.equal(sha(Buffer.from(ours)), sha(Buffer.from(ok(['inspect', '--raw', `oci:${join(d, 'theirs')}:x`]))));
    for (const l of layersOf(ours)) assert.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar');
    // Without the flag the layout gets gzip, as always.
    ok(['copy', '-q', `dir:${join(d, 'plain')}`, `oci:${join(d, 'gz')}:x`]);
    for (const l of layersOf(ok(['inspect', '--raw', `oci:${join(d, 'gz')}:x`]))) assert.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  });

  it("--dest-shared-blob-dir and --src-shared-blob-dir: blobs live outside the layout; skopeo reads ours and we read skopeo's", () => {
    const d = tempDir();
    const shared = join(d, 'shared');
    ok(['copy', '-q', '--dest-shared-blob-dir', shared, HELLO, `oci:${join(d, 'ours')}:x`]);
    assert.equal(existsSync(join(d, 'ours', 'blobs', 'sha256', HELLO_DIGEST.slice(7))), false, 'no blob in the layout');
    assert.ok(existsSync(join(shared, 'sha256', HELLO_DIGEST.slice(7))), 'the manifest is in the shared directory');
    assert.equal(readdirSync(join(shared, 'sha256')).length, 4, 'manifest, config, two layers');
    const s = skopeo(['--insecure-policy', 'copy', '-q', '--src-shared-blob-dir', shared, `oci:${join(d, 'ours')}:x`, `dir:${join(d, 'sk-read')}`]);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(sha(readFileSync(join(d, 'sk-read', 'manifest.json'))), HELLO_DIGEST);
    // Without the directory, the layout alone has no blobs to give.
    assert.notEqual(ocikit(['copy', '-q', `oci:${join(d, 'ours')}:x`, `dir:${join(d, 'fails')}`], { env }).code, 0);
    const theirs = join(d, 'theirs-shared');
    const w = skopeo(['--insecure-policy', 'copy', '-q', '--dest-shared-blob-dir', theirs, HELLO, `oci:${join(d, 'theirs')}:x`]);
    assert.equal(w.code, 0, w.stderr);
    ok(['copy', '-q', '--src-shared-blob-dir', theirs, `oci:${join(d, 'theirs')}:x`, `dir:${join(d, 'oc-read')}`]);
    assert.equal(sha(readFileSync(join(d, 'oc-read', 'manifest.json'))), HELLO_DIGEST);
  });

  it('--dest-force-compress-format needs a format; with one, every layer is in it (skopeo reads them)', () => {
    const d = tempDir();
    const bad = ocikit(['copy', '-q', '--dest-force-compress-format', HELLO, `oci:${join(d, 'x')}:x`], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--dest-force-compress-format needs --dest-compress-format/);
    ok(['copy', '-q', '--dest-compress-format', 'zstd', '--dest-force-compress-format', HELLO, `oci:${join(d, 'z')}:x`]);
    for (const l of layersOf(ok(['inspect', '--raw', `oci:${join(d, 'z')}:x`]))) assert.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    const s = skopeo(['--insecure-policy', 'copy', '-q', '--dest-decompress', `oci:${join(d, 'z')}:x`, `dir:${join(d, 'sk')}`]);
    assert.equal(s.code, 0, s.stderr);
  });

  it('--dest-precompute-digests is accepted: a push of layers the registry has uploads none (ocikit always knows the digest first)', () => {
    const image = `docker://${reg.host}/precompute/app:1`;
    ok(['copy', '-q', '--dest-tls-verify=false', HELLO, image]);
    const r = ocikit(['--debug', 'copy', '-q', '--dest-tls-verify=false', '--dest-precompute-digests', '--dest-compress-format', 'gzip', HELLO, `docker://${reg.host}/precompute/app:2`], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /HEAD http:\/\/\S+\/blobs\/sha256:\S+ 200/);
    assert.doesNotMatch(r.stderr, /(PUT|PATCH|POST) \S+\/blobs\/uploads/, 'no blob was uploaded');
  });

  it("--additional-tag takes a comma-separated list, as skopeo's", () => {
    const d = tempDir();
    ok(['copy', '-q', '--additional-tag', 'extra/one:1,extra/two:2', '--additional-tag', 'extra/three:3', HELLO, `docker-archive:${join(d, 'a.tar')}:main/app:0`]);
    const s = skopeo(['list-tags', `docker-archive:${join(d, 'a.tar')}`]);
    assert.equal(s.code, 0, s.stderr);
    const tags = (JSON.parse(s.stdout) as { Tags: string[] }).Tags.sort();
    assert.deepEqual(tags, ['docker.io/extra/one:1', 'docker.io/extra/three:3', 'docker.io/extra/two:2', 'docker.io/main/app:0']);
  });
});

describe('login and logout --compat-auth-file; the global --tls-verify', () => {
  it("login writes Docker's config.json format, which skopeo --authfile reads; logout removes the entry and keeps the rest", () => {
    const file = join(home, 'docker', 'config.json');
    const r = ocikit(['login', '--cert-dir', basic.certDir!, '-u', ALICE.username, '--password-stdin', '--compat-auth-file', file, basic.host], { env, input: ALICE.password });
    assert.equal(r.code, 0, r.stderr);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(Buffer.from(saved.auths[basic.host]!.auth, 'base64').toString(), `${ALICE.username}:${ALICE.password}`);
    ok(['copy', '-q', '--dest-cert-dir', basic.certDir!, '--dest-creds', `${ALICE.username}:${ALICE.password}`, HELLO, `docker://${basic.host}/compat/app:1`]);
    const s = skopeo(['inspect', '--raw', '--authfile', file, '--cert-dir', basic.certDir!, `docker://${basic.host}/compat/app:1`]);
    assert.equal(s.code, 0, s.stderr);
    // Docker's other settings survive a logout.
    const withHelper = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...withHelper, detachKeys: 'ctrl-x' }));
    const out = ocikit(['logout', '--compat-auth-file', file, basic.host], { env });
    assert.equal(out.code, 0, out.stderr);
    const after = JSON.parse(readFileSync(file, 'utf8')) as { auths: Record<string, unknown>; detachKeys: string };
    assert.deepEqual(after.auths, {});
    assert.equal(after.detachKeys, 'ctrl-x');
    const both = ocikit(['login', '--authfile', join(home, 'a.json'), '--compat-auth-file', file, '-u', 'x', '-p', 'y', basic.host], { env });
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--authfile and --compat-auth-file conflict/);
  });

  it("Docker Hub is saved under its old URL key; a namespaced key cannot be written in Docker's format", () => {
    assert.equal(dockerCompatKey('docker.io'), 'https://index.docker.io/v1/');
    assert.equal(dockerCompatKey('quay.io'), 'quay.io');
    assert.throws(() => dockerCompatKey('quay.io/team'), /docker has no per-namespace credentials/);
  });

  it('ocikit --tls-verify=false copy reaches a plain-http registry on both sides, as skopeo --tls-verify=false does', () => {
    const r = ocikit(['--tls-verify=false', 'copy', '-q', HELLO, `docker://${reg.host}/global/app:1`], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /--tls-verify is deprecated/);
    const back = ocikit(['copy', '-q', '--tls-verify=false', `docker://${reg.host}/global/app:1`, `docker://${reg.host}/global/app:2`], { env });
    assert.equal(back.code, 0, back.stderr);
    const s = skopeo(['--tls-verify=false', 'inspect', '--raw', `docker://${reg.host}/global/app:2`]);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(sha(Buffer.from(s.stdout)), HELLO_DIGEST);
    // A side's own flag wins over it.
    const own = ocikit(['--tls-verify=false', 'copy', '-q', '--dest-tls-verify=true', HELLO, `docker://${reg.host}/global/app:3`], { env });
    assert.notEqual(own.code, 0);
  });
});
