/**
 * Simple signing (GPG) against the real programs: keys in a throwaway GNUPGHOME, signatures made by
 * ocikit checked by skopeo and the reverse (standalone and on copy), and every bad signature refused
 * with a clear one-line error: another manifest, another reference, truncated, garbled, an expired
 * key, a revoked key, a key the policy does not name, an unsigned image under signedBy.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { digestBytes } from '../../lib/digest/index.js';
import { SIMPLE_SIGNING_TYPE, encodePayload } from '../../lib/signature/index.js';
import { ocikit, run } from '../helpers/cli.js';
import { gpgHome, type GpgHome } from '../helpers/gpg.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';

const HELLO = `oci:${fixture('hello-oci')}:latest`;
const HELLO_DIGEST = 'sha256:0f84579c704be60c6d3004afdf7a54631e413c026e4b8cf2dbb90aee9a3495f7';
const MANIFEST = fixture('hello-oci', 'blobs', 'sha256', HELLO_DIGEST.slice(7));
const IDENTITY = 'registry.example.com/hello:v1';

let home: GpgHome;
let signer: string;
let other: string;
let expired: string;
let revoked: string;
let dir: string;
let skopeo: string;
/** Public key files: the signer's (binary and armored) and the other key's. */
const keys = { signer: '', signerArmored: '', other: '', expired: '', revoked: '' };

/** skopeo with the test's GnuPG home (gpgme reads GNUPGHOME). */
function skopeoRun(args: string[]): ReturnType<typeof run> {
  return run(skopeo, args, { allowFail: true, env: home.env });
}

/** A signature over our payload made by gpg itself at a faked time (how an expired key's signature is made). */
function gpgSignAt(fpr: string, time: string, manifest: Buffer, identity: string): Buffer {
  const payload = encodePayload(SIMPLE_SIGNING_TYPE, digestBytes(manifest), identity, new Date(Date.UTC(2020, 0, 1, 1)));
  const r = spawnSync('gpg', ['--homedir', home.dir, '--batch', '--faked-system-time', time, '--sign', '--local-user', fpr, '--output', '-'], { input: payload });
  assert.equal(r.status, 0, String(r.stderr));
  return r.stdout;
}

before(() => {
  skopeo = requirePeer('skopeo');
  dir = tempDir('ocikit-gpg-test-');
  home = gpgHome();
  signer = home.genKey('Signer <signer@example.com>');
  other = home.genKey('Other <other@example.com>');
  expired = home.genKey('Old <old@example.com>', { fakedTime: '20200101T000000', expire: '1d' });
  revoked = home.genKey('Revoked <revoked@example.com>');
  for (const [k, fpr, armor] of [
    ['signer', signer, false],
    ['signerArmored', signer, true],
    ['other', other, false],
    ['expired', expired, false],
  ] as const) {
    keys[k] = join(dir, `${k}.key`);
    writeFileSync(keys[k], home.exportKey(fpr, armor));
  }
});

describe('standalone-sign and standalone-verify with skopeo', () => {
  it('skopeo verifies what ocikit signs, and ocikit verifies what skopeo signs', () => {
    const ours = join(dir, 'ours.sig');
    let r = ocikit(['standalone-sign', MANIFEST, IDENTITY, signer, '-o', ours], { env: home.env });
    assert.equal(r.code, 0, r.stderr);
    let s = skopeoRun(['standalone-verify', MANIFEST, IDENTITY, signer, ours]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`digest ${HELLO_DIGEST}`));

    const theirs = join(dir, 'theirs.sig');
    s = skopeoRun(['standalone-sign', MANIFEST, IDENTITY, signer, '-o', theirs]);
    assert.equal(s.code, 0, s.stderr);
    r = ocikit(['standalone-verify', MANIFEST, IDENTITY, signer, theirs], { env: home.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Signature verified using fingerprint ${signer}, digest ${HELLO_DIGEST}\n`);
  });

  it('--public-key-file checks without any keyring (binary or armored keys, "any")', () => {
    const sig = join(dir, 'pk.sig');
    assert.equal(ocikit(['standalone-sign', MANIFEST, IDENTITY, signer, '-o', sig], { env: home.env }).code, 0);
    const noHome = { GNUPGHOME: join(dir, 'does-not-exist') };
    for (const k of [keys.signer, keys.signerArmored]) {
      const r = ocikit(['standalone-verify', '--public-key-file', k, MANIFEST, IDENTITY, 'any', sig], { env: noHome });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(signer));
    }
    assert.equal(existsSync(noHome.GNUPGHOME), false);
    // skopeo 1.9 has no --public-key-file; it checks the same signature with the keyring.
    assert.equal(skopeoRun(['standalone-verify', MANIFEST, IDENTITY, signer, sig]).code, 0);
  });

  it('a passphrase-protected key signs with --passphrase-file (gpg loopback), and skopeo verifies it', () => {
    const locked = home.genKey('Locked <locked@example.com>', { passphrase: 'sesame' });
    // The agent caches passphrases from key generation: forget them, so the file is what unlocks the key.
    run('gpgconf', ['--homedir', home.dir, '--kill', 'gpg-agent']);
    const pf = join(dir, 'pass');
    writeFileSync(pf, 'sesame\nignored second line\n');
    const sig = join(dir, 'locked.sig');
    const r = ocikit(['standalone-sign', '--passphrase-file', pf, MANIFEST, IDENTITY, locked, '-o', sig], { env: home.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(skopeoRun(['standalone-verify', MANIFEST, IDENTITY, locked, sig]).code, 0);
    writeFileSync(pf, 'wrong\n');
    run('gpgconf', ['--homedir', home.dir, '--kill', 'gpg-agent']);
    const bad = ocikit(['standalone-sign', '--passphrase-file', pf, MANIFEST, IDENTITY, locked, '-o', join(dir, 'nope.sig')], { env: home.env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^ocikit: signing with key .*: /);
    assert.equal(existsSync(join(dir, 'nope.sig')), false);
  });

  it('refuses bad signatures with one clear line', () => {
    const good = join(dir, 'good.sig');
    assert.equal(ocikit(['standalone-sign', MANIFEST, IDENTITY, signer, '-o', good], { env: home.env }).code, 0);
    const goodBytes = readFileSync(good);
    const otherManifest = join(dir, 'other-manifest.json');
    writeFileSync(otherManifest, Buffer.concat([readFileSync(MANIFEST), Buffer.from(' ')]));
    const write = (name: string, b: Buffer): string => {
      const p = join(dir, name);
      writeFileSync(p, b);
      return p;
    };
    const otherKeySig = join(dir, 'other.sig');
    assert.equal(ocikit(['standalone-sign', MANIFEST, IDENTITY, other, '-o', otherKeySig], { env: home.env }).code, 0);
    const expiredSig = write('expired.sig', gpgSignAt(expired, '20200101T010000', readFileSync(MANIFEST), IDENTITY));
    const revokedSig = join(dir, 'revoked.sig');
    assert.equal(ocikit(['standalone-sign', MANIFEST, IDENTITY, revoked, '-o', revokedSig], { env: home.env }).code, 0);
    home.revoke(revoked);
    keys.revoked = write('revoked.key', home.exportKey(revoked));
    const garbled = Buffer.from(goodBytes);
    garbled[Math.floor(garbled.length / 2)]! ^= 0xff;

    const cases: Array<[string, string[], RegExp]> = [
      ['another manifest', [otherManifest, IDENTITY, signer, good], /signs manifest sha256:0f84.*but .*other-manifest\.json has digest/],
      ['another reference', [MANIFEST, 'registry.example.com/hello:v2', signer, good], /signs identity "registry\.example\.com\/hello:v1", not "registry\.example\.com\/hello:v2"/],
      ['truncated', [MANIFEST, IDENTITY, signer, write('trunc.sig', goodBytes.subarray(0, goodBytes.length - 20))], /verifying signature .*trunc\.sig: /],
      ['garbled', [MANIFEST, IDENTITY, signer, write('garbled.sig', garbled)], /verifying signature .*garbled\.sig: /],
      ['not a signature at all', [MANIFEST, IDENTITY, signer, write('text.sig', Buffer.from('{"critical":{}}'))], /not a signed OpenPGP message/],
      ['a key not accepted', [MANIFEST, IDENTITY, signer, otherKeySig], new RegExp(`signed by key ${other}, which is not accepted`)],
      ['a key not in the key file', ['--public-key-file', keys.signer, MANIFEST, IDENTITY, 'any', otherKeySig], /which is not among the trusted keys/],
      ['an expired key', ['--public-key-file', keys.expired, MANIFEST, IDENTITY, 'any', expiredSig], new RegExp(`which has expired`)],
      ['a revoked key', ['--public-key-file', keys.revoked, MANIFEST, IDENTITY, 'any', revokedSig], /which has been revoked/],
    ];
    for (const [what, args, want] of cases) {
      const r = ocikit(['standalone-verify', ...args], { env: home.env });
      assert.equal(r.code, 1, `${what}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, want, what);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /^ocikit: /, what);
      assert.equal(r.stdout, '', what);
    }
    // skopeo agrees on the cases it can express.
    assert.notEqual(skopeoRun(['standalone-verify', otherManifest, IDENTITY, signer, good]).code, 0);
    assert.notEqual(skopeoRun(['standalone-verify', MANIFEST, 'registry.example.com/hello:v2', signer, good]).code, 0);
  });
});

describe('copy with signedBy (dir:)', () => {
  const policyFile = (name: string, keyPath: string, identity: unknown = { type: 'exactReference', dockerReference: IDENTITY }): string => {
    const p = join(dir, name);
    writeFileSync(
      p,
      JSON.stringify({
        default: [{ type: 'reject' }],
        transports: { dir: { '': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath, signedIdentity: identity }] }, oci: { '': [{ type: 'insecureAcceptAnything' }] } },
      }),
    );
    return p;
  };

  it('ocikit accepts what skopeo copy --sign-by signed, and carries the signature byte for byte', () => {
    const signed = join(dir, 'sk-signed');
    const s = skopeoRun(['--insecure-policy', 'copy', '-q', '--sign-by', signer, '--sign-identity', IDENTITY, HELLO, `dir:${signed}`]);
    assert.equal(s.code, 0, s.stderr);
    const pol = policyFile('p-signer.json', keys.signer);
    const out = join(dir, 'ok-out');
    const r = ocikit(['--store', join(dir, 'store'), '--policy', pol, 'copy', '-q', `dir:${signed}`, `dir:${out}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readFileSync(join(out, 'signature-1')), readFileSync(join(signed, 'signature-1')));
  });

  it('skopeo accepts what ocikit copy --sign-by signed', () => {
    const signed = join(dir, 'ok-signed');
    const pol = policyFile('p-signer2.json', keys.signer);
    const r = ocikit(['--store', join(dir, 'store'), '--policy', pol, 'copy', '-q', '--sign-by', signer, '--sign-identity', IDENTITY, HELLO, `dir:${signed}`], { env: home.env });
    assert.equal(r.code, 0, r.stderr);
    const s = skopeoRun(['--policy', pol, 'copy', '-q', `dir:${signed}`, `dir:${join(dir, 'sk-out')}`]);
    assert.equal(s.code, 0, s.stderr);
    // and ocikit itself, reading it back
    assert.equal(ocikit(['--store', join(dir, 'store'), '--policy', pol, 'copy', '-q', `dir:${signed}`, `dir:${join(dir, 'ok-out2')}`]).code, 0);
  });

  it('rejects, before writing anything: unsigned, signed by a key not in the policy, another identity', () => {
    const unsigned = join(dir, 'unsigned');
    assert.equal(ocikit(['--store', join(dir, 'store'), 'copy', '-q', HELLO, `dir:${unsigned}`]).code, 0);
    const otherSigned = join(dir, 'other-signed');
    assert.equal(skopeoRun(['--insecure-policy', 'copy', '-q', '--sign-by', other, '--sign-identity', IDENTITY, HELLO, `dir:${otherSigned}`]).code, 0);
    const cases: Array<[string, string, string, RegExp]> = [
      ['unsigned', unsigned, policyFile('p1.json', keys.signer), /requirement signedBy: a GPG \(simple signing\) signature is required, but the image has none/],
      ['key not in policy', otherSigned, policyFile('p2.json', keys.signer), /signature 1: signed by key [0-9A-F]+, which is not among the trusted keys/],
      [
        'other identity',
        otherSigned,
        policyFile('p3.json', keys.other, { type: 'exactReference', dockerReference: 'registry.example.com/hello:v2' }),
        /claims identity "registry\.example\.com\/hello:v1", which signedIdentity exactReference does not accept/,
      ],
    ];
    for (const [what, src, pol, want] of cases) {
      const out = join(dir, `rejected-${what.replace(/ /g, '-')}`);
      const r = ocikit(['--store', join(dir, 'store-rej'), '--policy', pol, 'copy', '-q', `dir:${src}`, `dir:${out}`]);
      assert.equal(r.code, 1, what);
      assert.match(r.stderr, /^ocikit: source image dir:.* rejected by trust policy .*, scope dir:"", /, what);
      assert.match(r.stderr, want, what);
      assert.equal(existsSync(out), false, what);
      // skopeo rejects the same images under the same policy
      assert.notEqual(skopeoRun(['--policy', pol, 'copy', '-q', `dir:${src}`, `dir:${out}-sk`]).code, 0, what);
    }
    // nothing was left beside the destinations either (no staging directories)
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith('rejected-') && !n.endsWith('-sk')),
      [],
    );
  });

  it('refuses --sign-by towards oci: (which cannot hold signatures) before writing anything', () => {
    const out = join(dir, 'oci-signed');
    const r = ocikit(['--store', join(dir, 'store'), 'copy', '-q', '--sign-by', signer, '--sign-identity', IDENTITY, HELLO, `oci:${out}:x`], { env: home.env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot store signatures/);
    assert.equal(existsSync(out), false);
    // and a signed image to oci: needs --remove-signatures, as skopeo
    const signed = join(dir, 'ok-signed');
    const r2 = ocikit(['--store', join(dir, 'store'), 'copy', '-q', `dir:${signed}`, `oci:${out}:x`]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /cannot store signatures \(use --remove-signatures/);
    assert.equal(ocikit(['--store', join(dir, 'store'), 'copy', '-q', '--remove-signatures', `dir:${signed}`, `oci:${out}:x`]).code, 0);
  });
});
