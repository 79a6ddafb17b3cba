/**
 * Layer encryption (ocicrypt) against skopeo 1.9, both ways, for each key-wrapping scheme it has
 * (jwe, pkcs7, pgp): what ocikit encrypts skopeo decrypts, and what skopeo encrypts ocikit decrypts,
 * each time back to the very image that was encrypted (same manifest digest, so every layer's
 * bytes). Also: --encrypt-layer, an encrypted image copied without a key, and a key that does not fit.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { fixture, tempDir } from '../helpers/paths.js';
import { ocikit, run } from '../helpers/cli.js';
import { gpgHome, type GpgHome } from '../helpers/gpg.js';
import { requirePeer } from '../../support/peers.js';

type Manifest = { mediaType: string; layers: Array<{ mediaType: string; digest: string; annotations?: Record<string, string> }> };

const SRC = `oci:${fixture('hello-oci')}:latest`;
const ORIGINAL = (JSON.parse(readFileSync(join(fixture('hello-oci'), 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> }).manifests[0]!.digest;

describe('layer encryption with skopeo', () => {
  let dir: string;
  let skopeo: string;
  let gpg: GpgHome;
  const keys: Record<string, string> = {};
  const enc: Record<string, string> = {};
  const dec: Record<string, string[]> = {};

  const layout = (name: string): { ref: string; digest: () => string; manifest: () => Manifest } => {
    const path = join(dir, name);
    const digest = (): string => (JSON.parse(readFileSync(join(path, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> }).manifests[0]!.digest;
    return { ref: `oci:${path}:x`, digest, manifest: () => JSON.parse(readFileSync(join(path, 'blobs', 'sha256', digest().slice(7)), 'utf8')) as Manifest };
  };
  const copy = (args: string[]): void => {
    const r = ocikit(['--store', join(dir, 'store'), 'copy', '-q', ...args], { env: gpg.env });
    assert.equal(r.code, 0, r.stderr);
  };
  const skopeoCopy = (args: string[]): void => void run(skopeo, ['--insecure-policy', 'copy', '-q', ...args], { env: gpg.env });

  before(() => {
    skopeo = requirePeer('skopeo');
    dir = tempDir('ocikit-enc-');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keys.priv = join(dir, 'priv.pem');
    keys.pub = join(dir, 'pub.pem');
    keys.cert = join(dir, 'cert.pem');
    writeFileSync(keys.priv, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(keys.pub, publicKey.export({ format: 'pem', type: 'spki' }));
    run('openssl', ['req', '-x509', '-new', '-key', keys.priv, '-subj', '/CN=ocikit test', '-days', '30', '-out', keys.cert]);
    // OpenPGP: an RSA key with an encryption subkey (what ocicrypt's Go OpenPGP can use)
    gpg = gpgHome();
    gpg.gpg(['--passphrase', '', '--pinentry-mode', 'loopback', '--quick-gen-key', 'Layer Key <layers@example.com>', 'rsa2048', 'sign', 'never']);
    const fpr = gpg
      .gpg(['--with-colons', '--list-keys', 'layers@example.com'])
      .split('\n')
      .find((l) => l.startsWith('fpr:'))!
      .split(':')[9]!;
    gpg.gpg(['--passphrase', '', '--pinentry-mode', 'loopback', '--quick-add-key', fpr, 'rsa2048', 'encr', 'never']);
    keys.gpgSecret = join(dir, 'secret.gpg');
    // binary, as ocicrypt's Go OpenPGP reads a key ring
    const exported = spawnSync('gpg', ['--homedir', gpg.dir, '--batch', '--passphrase', '', '--pinentry-mode', 'loopback', '--export-secret-keys', fpr]);
    assert.equal(exported.status, 0, String(exported.stderr));
    writeFileSync(keys.gpgSecret, exported.stdout);
    // an EC key for jwe too: ECDH-ES+A256KW
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keys.ecPriv = join(dir, 'ec.pem');
    keys.ecPub = join(dir, 'ec-pub.pem');
    writeFileSync(keys.ecPriv, ec.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(keys.ecPub, ec.publicKey.export({ format: 'pem', type: 'spki' }));
    Object.assign(enc, { jwe: `jwe:${keys.pub}`, 'jwe-ec': `jwe:${keys.ecPub}`, pkcs7: `pkcs7:${keys.cert}`, pgp: 'pgp:layers@example.com' });
    Object.assign(dec, { jwe: [keys.priv], 'jwe-ec': [keys.ecPriv], pkcs7: [keys.priv, keys.cert], pgp: [keys.gpgSecret] });
  });

  for (const scheme of ['jwe', 'jwe-ec', 'pkcs7', 'pgp'] as const) {
    const annotation = `org.opencontainers.image.enc.keys.${scheme.replace('-ec', '')}`;
    it(`${scheme}: ocikit encrypts, skopeo decrypts it back to the same image`, () => {
      const e = layout(`ocikit-${scheme}`);
      copy(['--encryption-key', enc[scheme]!, SRC, e.ref]);
      const m = e.manifest();
      for (const l of m.layers) {
        assert.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted');
        assert.ok(l.annotations?.[annotation], annotation);
        const pub = JSON.parse(Buffer.from(l.annotations['org.opencontainers.image.enc.pubopts']!, 'base64').toString()) as { cipher: string; hmac: string };
        assert.equal(pub.cipher, 'AES_256_CTR_HMAC_SHA256');
      }
      const d = layout(`skopeo-dec-${scheme}`);
      skopeoCopy([...dec[scheme]!.flatMap((k) => ['--decryption-key', k]), e.ref, d.ref]);
      assert.equal(d.digest(), ORIGINAL, 'skopeo decrypted every layer back to its bytes');
    });

    it(`${scheme}: skopeo encrypts, ocikit decrypts it back to the same image`, () => {
      const e = layout(`skopeo-${scheme}`);
      skopeoCopy(['--encryption-key', enc[scheme]!, SRC, e.ref]);
      assert.ok(e.manifest().layers.every((l) => l.mediaType.endsWith('+encrypted')));
      const d = layout(`ocikit-dec-${scheme}`);
      copy([...dec[scheme]!.flatMap((k) => ['--decryption-key', k]), e.ref, d.ref]);
      assert.equal(d.digest(), ORIGINAL, 'ocikit decrypted every layer back to its bytes');
    });
  }

  it('for every scheme at once: skopeo decrypts with any one of the keys', () => {
    const e = layout('all-schemes');
    copy([...['jwe', 'pkcs7', 'pgp'].flatMap((k) => ['--encryption-key', enc[k]!]), SRC, e.ref]);
    const a = e.manifest().layers[0]!.annotations!;
    assert.deepEqual(
      Object.keys(a).sort(),
      ['jwe', 'pgp', 'pkcs7', 'pubopts'].map((k) => (k === 'pubopts' ? 'org.opencontainers.image.enc.pubopts' : `org.opencontainers.image.enc.keys.${k}`)).sort(),
    );
    for (const k of ['jwe', 'pkcs7', 'pgp']) {
      const d = layout(`all-schemes-${k}`);
      skopeoCopy([...dec[k]!.flatMap((f) => ['--decryption-key', f]), e.ref, d.ref]);
      assert.equal(d.digest(), ORIGINAL, `decrypted with the ${k} key alone`);
    }
  });

  it('--encrypt-layer -1 encrypts the last layer only; skopeo decrypts it', () => {
    const e = layout('last-only');
    copy(['--encryption-key', enc.jwe!, '--encrypt-layer', '-1', SRC, e.ref]);
    const types = e.manifest().layers.map((l) => l.mediaType.endsWith('+encrypted'));
    assert.deepEqual(types, [false, true]);
    const d = layout('last-only-dec');
    skopeoCopy(['--decryption-key', keys.priv!, e.ref, d.ref]);
    assert.equal(d.digest(), ORIGINAL);
  });

  it('an encrypted image copied without a key stays as it is; into Docker v2s2 it is refused', () => {
    const e = layout('ocikit-jwe');
    const k = layout('kept');
    copy([e.ref, k.ref]);
    assert.equal(k.digest(), e.digest());
    const r = ocikit(['--store', join(dir, 'store'), 'copy', '-q', '--format', 'v2s2', e.ref, `dir:${join(dir, 'v2s2')}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /encrypted layers need an OCI manifest/);
  });

  it('a key that does not fit: one clear error, exit 1, nothing written', () => {
    const other = join(dir, 'other.pem');
    writeFileSync(other, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const out = join(dir, 'nothing');
    const r = ocikit(['--store', join(dir, 'store'), 'copy', '-q', '--decryption-key', other, layout('ocikit-jwe').ref, `oci:${out}:x`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /none of the --decryption-key keys opens its layer key \(wrapped with jwe\)/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(!existsSync(join(out, 'index.json')));
  });

  it('the flags follow skopeo: encryption and decryption exclude each other; --encrypt-layer needs a key', () => {
    let r = ocikit(['copy', '--encryption-key', enc.jwe!, '--decryption-key', keys.priv!, SRC, layout('x').ref]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot be specified together/);
    r = ocikit(['copy', '--encrypt-layer', '0', SRC, layout('x').ref]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--encrypt-layer can only be used with --encryption-key/);
  });
});
