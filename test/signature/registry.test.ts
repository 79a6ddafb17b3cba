/**
 * Signatures of docker:// images, against a real docker-registry on loopback: simple signatures in
 * lookaside storage (written to a file:// staging directory, read back over http from a server on
 * loopback that serves that directory), checked both ways with skopeo; sigstore signatures as
 * `sha256-<hex>.sig` attachments, read back by skopeo and verified by the policy; and the refusals
 * that must leave the registry's tag where it was.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { closeDispatchers } from '../../lib/registry/index.js';
import { ocikit, run } from '../helpers/cli.js';
import { gpgHome, type GpgHome } from '../helpers/gpg.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { ociImage, randomLayer } from '../helpers/layer-images.js';
import { requirePeer } from '../../support/peers.js';
import { freePort, startRegistry, type RegistryHandle } from '../../support/registry.js';

const HELLO = `oci:${fixture('hello-oci')}:latest`;
const HELLO_HEX = '0f84579c704be60c6d3004afdf7a54631e413c026e4b8cf2dbb90aee9a3495f7';

let reg: RegistryHandle;
let server: ChildProcess;
let serverLog: string;
let lookasideURL: string;
let dir: string;
let lookaside: string;
let regsd: string;
let home: GpgHome;
let signer: string;
let other: string;
let skopeo: string;
const env: NodeJS.ProcessEnv = {};

function writeRegistriesD(d: string, yaml: string): string {
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'test.yaml'), yaml);
  return d;
}

before(async () => {
  skopeo = requirePeer('skopeo');
  dir = tempDir('ocikit-sigreg-');
  Object.assign(env, { HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'home', '.config'), XDG_RUNTIME_DIR: join(dir, 'home', 'run') });
  lookaside = join(dir, 'lookaside');
  mkdirSync(lookaside);
  reg = await startRegistry();
  // The lookaside directory, published over http on loopback by a separate web server process
  // (Python's http.server), whose access log shows what the clients read.
  const port = await freePort();
  serverLog = join(dir, 'http.log');
  server = spawn(requirePeer('python3'), ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', lookaside, String(port)], { stdio: ['ignore', 'ignore', openSync(serverLog, 'w')] });
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (up) break;
    if (i > 100 || server.exitCode !== null) throw new Error(`python3 -m http.server did not start: ${readFileSync(serverLog, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  lookasideURL = `http://127.0.0.1:${port}`;
  regsd = writeRegistriesD(join(dir, 'registries.d'), `docker:\n  ${reg.host}:\n    lookaside: ${lookasideURL}\n    lookaside-staging: file://${lookaside}\n    use-sigstore-attachments: true\n`);
  home = gpgHome();
  signer = home.genKey('Registry Signer <rs@example.com>');
  other = home.genKey('Someone Else <se@example.com>');
  Object.assign(env, home.env);
  writeFileSync(join(dir, 'signer.gpg'), home.exportKey(signer));
});

after(async () => {
  await closeDispatchers();
  if (server.pid !== undefined && server.exitCode === null) process.kill(server.pid, 'SIGTERM');
  await reg.stop();
});

/** Paths the lookaside web server has served (GET, 200) so far, decoded. */
function served(): string[] {
  return readFileSync(serverLog, 'utf8')
    .split('\n')
    .map((l) => /"GET (\S+) HTTP\/[0-9.]+" 200/.exec(l)?.[1])
    .filter((p): p is string => !!p)
    .map((p) => decodeURIComponent(p));
}

/** A policy: everything from oci: accepted; `repo` on the registry under `reqs`; anything else rejected. */
function policy(name: string, repo: string, reqs: unknown[]): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify({ default: [{ type: 'reject' }], transports: { oci: { '': [{ type: 'insecureAcceptAnything' }] }, docker: { [`${reg.host}/${repo}`]: reqs } } }));
  return p;
}

const gpgReq = (keyPath: string): unknown => ({ type: 'signedBy', keyType: 'GPGKeys', keyPath });

function oc(args: string[]): ReturnType<typeof ocikit> {
  return ocikit(['--store', join(dir, 'store'), '--registries.d', regsd, ...args], { env });
}

function sk(args: string[]): ReturnType<typeof run> {
  return run(skopeo, ['--registries.d', regsd, ...args], { allowFail: true, env });
}

/** The manifest a tag of the registry holds, or undefined (skopeo inspect --raw). */
function rawManifest(image: string): string | undefined {
  const r = run(skopeo, ['inspect', '--raw', '--tls-verify=false', image], { allowFail: true, env });
  return r.code === 0 ? r.stdout : undefined;
}

describe('simple signatures in lookaside storage', () => {
  it('ocikit signs on push (file:// staging); skopeo verifies reading the lookaside over http', () => {
    const image = `docker://${reg.host}/gpg/ours:v1`;
    const r = oc(['copy', '-q', '--dest-tls-verify=false', '--sign-by', signer, HELLO, image]);
    assert.equal(r.code, 0, r.stderr);
    const staged = join(lookaside, 'gpg', 'ours@sha256=' + HELLO_HEX, 'signature-1');
    assert.ok(existsSync(staged), 'signature-1 in the staging directory');
    const pol = policy('p-ours.json', 'gpg', [gpgReq(join(dir, 'signer.gpg'))]);
    const s = sk(['--policy', pol, 'copy', '-q', '--src-tls-verify=false', image, `dir:${join(dir, 'sk-ours')}`]);
    assert.equal(s.code, 0, s.stderr);
    assert.ok(served().includes(`/gpg/ours@sha256=${HELLO_HEX}/signature-1`), `skopeo read the lookaside over http: ${served().join(' ')}`);
    // skopeo's copy carries the signature (dir: signature-1), byte for byte
    assert.deepEqual(readFileSync(join(dir, 'sk-ours', 'signature-1')), readFileSync(staged));
  });

  it('pushing the same image again with --sign-by writes the new signature, though the manifest is already there', () => {
    const image = `docker://${reg.host}/gpg/again:v1`;
    assert.equal(oc(['copy', '-q', '--dest-tls-verify=false', HELLO, image]).code, 0);
    const r = oc(['copy', '-q', '--dest-tls-verify=false', '--sign-by', signer, HELLO, image]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(lookaside, 'gpg', `again@sha256=${HELLO_HEX}`, 'signature-1')), 'signature-1 in the staging directory');
    const pol = policy('p-again.json', 'gpg', [gpgReq(join(dir, 'signer.gpg'))]);
    const s = sk(['--policy', pol, 'copy', '-q', '--src-tls-verify=false', image, `dir:${join(dir, 'sk-again')}`]);
    assert.equal(s.code, 0, s.stderr);
  });

  it('skopeo signs on push; ocikit verifies reading the lookaside over http', () => {
    const image = `docker://${reg.host}/gpg/theirs:v1`;
    const s = sk(['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', '--sign-by', signer, HELLO, image]);
    assert.equal(s.code, 0, s.stderr);
    const pol = policy('p-theirs.json', 'gpg', [gpgReq(join(dir, 'signer.gpg'))]);
    const before = served().length;
    const out = join(dir, 'ok-theirs');
    const r = oc(['--policy', pol, 'copy', '-q', '--src-tls-verify=false', image, `dir:${out}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(served().slice(before).includes(`/gpg/theirs@sha256=${HELLO_HEX}/signature-1`), 'ocikit read the lookaside over http');
    assert.deepEqual(readFileSync(join(out, 'signature-1')), readFileSync(join(lookaside, 'gpg', `theirs@sha256=${HELLO_HEX}`, 'signature-1')));
  });

  it('rejects unsigned and wrongly signed images before writing anything', () => {
    const unsigned = `docker://${reg.host}/gpg/unsigned:v1`;
    assert.equal(oc(['copy', '-q', '--dest-tls-verify=false', HELLO, unsigned]).code, 0);
    const wrongKey = `docker://${reg.host}/gpg/wrongkey:v1`;
    assert.equal(oc(['copy', '-q', '--dest-tls-verify=false', '--sign-by', other, HELLO, wrongKey]).code, 0);
    const wrongRef = `docker://${reg.host}/gpg/wrongref:v1`;
    assert.equal(oc(['copy', '-q', '--dest-tls-verify=false', '--sign-by', signer, '--sign-identity', `${reg.host}/gpg/elsewhere:v1`, HELLO, wrongRef]).code, 0);
    const pol = policy('p-rej.json', 'gpg', [gpgReq(join(dir, 'signer.gpg'))]);
    for (const [image, want] of [
      [unsigned, /a GPG \(simple signing\) signature is required, but the image has none/],
      [wrongKey, /which is not among the trusted keys/],
      [wrongRef, /claims identity ".*\/gpg\/elsewhere:v1", which signedIdentity matchRepoDigestOrExact does not accept/],
    ] as const) {
      const out = join(dir, `rej-${image.split('/').at(-1)!.replace(':', '-')}`);
      const r = oc(['--policy', pol, 'copy', '-q', '--src-tls-verify=false', image, `dir:${out}`]);
      assert.equal(r.code, 1, image);
      assert.match(r.stderr, new RegExp(`rejected by trust policy .*, scope docker:"${reg.host}/gpg", requirement signedBy: `), image);
      assert.match(r.stderr, want, image);
      assert.equal(existsSync(out), false);
      assert.notEqual(sk(['--policy', pol, 'copy', '-q', '--src-tls-verify=false', image, `dir:${out}-sk`]).code, 0, image);
    }
  });

  it('refuses to write signatures to an http lookaside, and the tag is not pushed', () => {
    const ro = writeRegistriesD(join(dir, 'registries-ro.d'), `docker:\n  ${reg.host}:\n    lookaside: ${lookasideURL}\n`);
    const image = `docker://${reg.host}/gpg/ro:v1`;
    const r = ocikit(['--store', join(dir, 'store'), '--registries.d', ro, 'copy', '-q', '--dest-tls-verify=false', '--sign-by', signer, HELLO, image], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /only file:\/\/ lookaside storage can be written \(configure a lookaside-staging/);
    assert.equal(rawManifest(`docker://${reg.host}/gpg/ro:v1`), undefined);
  });
});

describe('sigstore attachments', () => {
  let keyPrefix: string;
  let key2Prefix: string;
  let pass: string;
  before(() => {
    pass = join(dir, 'pass');
    writeFileSync(pass, 'correct horse\n');
    keyPrefix = join(dir, 'cosign');
    key2Prefix = join(dir, 'cosign2');
    for (const p of [keyPrefix, key2Prefix]) {
      const r = oc(['generate-sigstore-key', '--output-prefix', p, '--passphrase-file', pass]);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  const sigReq = (pub: string, identity?: unknown): unknown => ({ type: 'sigstoreSigned', keyPath: pub, ...(identity ? { signedIdentity: identity } : {}) });

  it('ocikit signs on push as an attachment (sha256-<hex>.sig), which skopeo reads; the policy accepts it', () => {
    const image = `docker://${reg.host}/sig/hello:v1`;
    const r = oc(['copy', '-q', '--dest-tls-verify=false', '--sign-by-sigstore-private-key', `${keyPrefix}.private`, '--sign-passphrase-file', pass, HELLO, image]);
    assert.equal(r.code, 0, r.stderr);
    const att = rawManifest(`docker://${reg.host}/sig/hello:sha256-${HELLO_HEX}.sig`);
    assert.ok(att, 'skopeo reads the attachment manifest');
    const m = JSON.parse(att) as { mediaType: string; layers: Array<{ mediaType: string; annotations: Record<string, string> }> };
    assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(m.layers.length, 1);
    assert.equal(m.layers[0]!.mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
    assert.ok(m.layers[0]!.annotations['dev.cosignproject.cosign/signature']);
    // skopeo copies the attachment's payload layer as a plain blob: the registry serves what we pushed.
    const payloadOut = join(dir, 'att-dir');
    assert.equal(run(skopeo, ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/sig/hello:sha256-${HELLO_HEX}.sig`, `dir:${payloadOut}`], { env }).code, 0);

    const ok = oc(['--policy', policy('p-sig.json', 'sig', [sigReq(`${keyPrefix}.pub`)]), 'copy', '-q', '--src-tls-verify=false', image, `dir:${join(dir, 'sig-out')}`]);
    assert.equal(ok.code, 0, ok.stderr);
    // The signature travels to dir: in containers/image's format ("\0sigstore-json\n{...}").
    assert.equal(
      readFileSync(join(dir, 'sig-out', 'signature-1'))
        .subarray(0, 15)
        .toString('latin1'),
      '\0sigstore-json\n',
    );
    const bad = oc(['--policy', policy('p-sig2.json', 'sig', [sigReq(`${key2Prefix}.pub`)]), 'copy', '-q', '--src-tls-verify=false', image, `dir:${join(dir, 'sig-bad')}`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /requirement sigstoreSigned: signature 1: cryptographic signature verification failed/);
    assert.equal(existsSync(join(dir, 'sig-bad')), false);
  });

  it('a second signature is added beside the first; each key is then accepted', () => {
    const image = `docker://${reg.host}/sig/hello:v1`;
    const r = oc([
      '--policy',
      policy('p-any.json', 'sig', [{ type: 'insecureAcceptAnything' }]),
      'copy',
      '-q',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      '--sign-by-sigstore-private-key',
      `${key2Prefix}.private`,
      '--sign-passphrase-file',
      pass,
      image,
      image,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(rawManifest(`docker://${reg.host}/sig/hello:sha256-${HELLO_HEX}.sig`)!) as { layers: unknown[] };
    assert.equal(m.layers.length, 2);
    for (const k of [keyPrefix, key2Prefix]) {
      const ok = oc(['--policy', policy('p-k.json', 'sig', [sigReq(`${k}.pub`)]), 'copy', '-q', '--src-tls-verify=false', image, `dir:${join(dir, `two-${k.length}-${Math.random()}`)}`]);
      assert.equal(ok.code, 0, ok.stderr);
    }
  });

  it('refuses sigstore signing where attachments are off, a wrong passphrase, and a GPG-only policy; the tag is not pushed', () => {
    const off = writeRegistriesD(join(dir, 'registries-off.d'), `docker:\n  ${reg.host}:\n    lookaside-staging: file://${lookaside}\n`);
    const image = `docker://${reg.host}/sig/off:v1`;
    let r = ocikit(
      [
        '--store',
        join(dir, 'store'),
        '--registries.d',
        off,
        'copy',
        '-q',
        '--dest-tls-verify=false',
        '--sign-by-sigstore-private-key',
        `${keyPrefix}.private`,
        '--sign-passphrase-file',
        pass,
        HELLO,
        image,
      ],
      { env },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sigstore attachments are off \(set use-sigstore-attachments: true/);
    assert.equal(rawManifest(image), undefined);
    const wrong = join(dir, 'wrong-pass');
    writeFileSync(wrong, 'battery staple\n');
    r = oc(['copy', '-q', '--dest-tls-verify=false', '--sign-by-sigstore-private-key', `${keyPrefix}.private`, '--sign-passphrase-file', wrong, HELLO, image]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /decryption failed \(wrong passphrase\?\)/);
    assert.equal(rawManifest(image), undefined);
    // A sigstore-signed image under signedBy has no GPG signature.
    r = oc(['--policy', policy('p-gpg-on-sig.json', 'sig', [gpgReq(join(dir, 'signer.gpg'))]), 'copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/sig/hello:v1`, `dir:${join(dir, 'x')}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /a GPG \(simple signing\) signature is required, but the image has none \(it has 2 of another kind\)/);
  });
});

describe('sync signs every image it copies (--sign-by, --sign-by-sigstore-private-key)', () => {
  let pass: string;
  let keyPrefix: string;
  before(() => {
    // Two tags of one source repository, unsigned, two different images (lookaside storage keeps
    // one set of signatures per manifest, and a copy replaces it, as containers/image does).
    const other = ociImage(join(dir, 'sync-other'), [randomLayer(10_000)]);
    for (const [tag, image] of [
      ['a', HELLO],
      ['b', other.ref],
    ] as const) {
      const r = oc(['copy', '-q', '--dest-tls-verify=false', image, `docker://${reg.host}/syncsrc/app:${tag}`]);
      assert.equal(r.code, 0, r.stderr);
    }
    pass = join(dir, 'sync-pass');
    writeFileSync(pass, 'sync passphrase\n');
    keyPrefix = join(dir, 'sync-cosign');
    const r = oc(['generate-sigstore-key', '--output-prefix', keyPrefix, '--passphrase-file', pass]);
    assert.equal(r.code, 0, r.stderr);
  });
  const tls = ['--src-tls-verify=false', '--dest-tls-verify=false'];
  /** ocikit sync of the source repository to NAMESPACE, registry to registry, with `flags`. */
  const syncTo = (namespace: string, flags: string[]): ReturnType<typeof oc> =>
    oc(['sync', '--src', 'docker', '--dest', 'docker', ...tls, ...flags, `${reg.host}/syncsrc/app`, `${reg.host}/${namespace}`]);

  it('GPG: each image signed as its destination name; skopeo verifies every one, and refuses the unsigned source', () => {
    const r = syncTo('syncgpg', ['--sign-by', signer]);
    assert.equal(r.code, 0, r.stderr);
    const pol = policy('p-sync-gpg.json', 'syncgpg', [gpgReq(join(dir, 'signer.gpg'))]);
    for (const tag of ['a', 'b']) {
      const s = sk(['--policy', pol, 'copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/syncgpg/app:${tag}`, `dir:${join(dir, `sk-sync-${tag}`)}`]);
      assert.equal(s.code, 0, s.stderr);
    }
    // The positive control: the same policy over the unsigned source refuses it.
    const unsigned = sk([
      '--policy',
      policy('p-sync-src.json', 'syncsrc', [gpgReq(join(dir, 'signer.gpg'))]),
      'copy',
      '-q',
      '--src-tls-verify=false',
      `docker://${reg.host}/syncsrc/app:a`,
      `dir:${join(dir, 'sk-unsigned')}`,
    ]);
    assert.notEqual(unsigned.code, 0);
    // A second run finds the images there and still signs them (the manifest is not written again).
    const again = syncTo('syncgpg', ['--sign-by', signer]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /2 copied/);
  });

  it('sigstore: each image gets an attachment skopeo carries, which a sigstoreSigned policy accepts', () => {
    const r = syncTo('syncsig', ['--sign-by-sigstore-private-key', `${keyPrefix}.private`, '--sign-passphrase-file', pass]);
    assert.equal(r.code, 0, r.stderr);
    const sigstoreReq = { type: 'sigstoreSigned', keyPath: `${keyPrefix}.pub` };
    const pol = policy('p-sync-sig.json', 'syncsig', [sigstoreReq]);
    for (const tag of ['a', 'b']) {
      // (Debian's skopeo 1.9 carries sigstore signatures but does not verify them: ocikit's policy does.)
      const s = sk(['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/syncsig/app:${tag}`, `dir:${join(dir, `sk-syncsig-${tag}`)}`]);
      assert.equal(s.code, 0, s.stderr);
      assert.ok(
        readFileSync(join(dir, `sk-syncsig-${tag}`, 'signature-1'))
          .subarray(0, 15)
          .equals(Buffer.from('\0sigstore-json\n')),
      );
      const v = oc(['--policy', pol, 'copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/syncsig/app:${tag}`, `dir:${join(dir, `oc-syncsig-${tag}`)}`]);
      assert.equal(v.code, 0, v.stderr);
    }
    const unsigned = oc([
      '--policy',
      policy('p-sync-sig-src.json', 'syncsrc', [sigstoreReq]),
      'copy',
      '-q',
      '--src-tls-verify=false',
      `docker://${reg.host}/syncsrc/app:a`,
      `dir:${join(dir, 'oc-unsigned')}`,
    ]);
    assert.notEqual(unsigned.code, 0);
  });

  it('a wrong passphrase fails before anything is copied; signing a dir: destination is refused up front', () => {
    const wrong = join(dir, 'sync-wrong');
    writeFileSync(wrong, 'nope\n');
    let r = syncTo('syncnever', ['--sign-by-sigstore-private-key', `${keyPrefix}.private`, '--sign-passphrase-file', wrong]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /wrong passphrase/);
    assert.equal(rawManifest(`docker://${reg.host}/syncnever/app:a`), undefined);
    r = oc(['sync', '--src', 'docker', '--dest', 'dir', '--src-tls-verify=false', '--sign-by', signer, `${reg.host}/syncsrc/app`, join(dir, 'sync-dir')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sync: signing needs --dest docker/);
  });
});
