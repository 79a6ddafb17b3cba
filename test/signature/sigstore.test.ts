/**
 * Sigstore keys and signatures against an independent implementation. Debian's skopeo 1.9.3 is built
 * with sigstore disabled ("Debian-local change: sigstore disabled"), and cosign is not packaged, so the
 * oracle is Python with PyNaCl (secretbox), hashlib.scrypt and pyca/cryptography (ECDSA), following
 * go-securesystemslib's "encrypted" format and cosign's signature layout:
 *
 * - a key made by `ocikit generate-sigstore-key` decrypts in Python, and Python's signature with it
 *   is accepted by ocikit's sigstoreSigned policy;
 * - a key encrypted by Python (scrypt N=2^16, as current cosign writes) signs in `ocikit copy
 *   --sign-by-sigstore-private-key`, and Python verifies that signature and its payload.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SIGSTORE_SIGNATURE_ANNOTATION, SIGSTORE_SIGNATURE_MEDIA_TYPE, signatureBlobBytes } from '../../lib/signature/index.js';
import { ocikit, run } from '../helpers/cli.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';

const HELLO = `oci:${fixture('hello-oci')}:latest`;
const HELLO_DIGEST = 'sha256:0f84579c704be60c6d3004afdf7a54631e413c026e4b8cf2dbb90aee9a3495f7';
const IDENTITY = 'registry.example.com/hello:v1';

// The oracle: go-securesystemslib's encrypted format and cosign's signature, written from their specs.
const ORACLE = String.raw`
import sys, json, base64, hashlib, os
from nacl.secret import SecretBox
from cryptography.hazmat.primitives import serialization, hashes
from cryptography.hazmat.primitives.asymmetric import ec

def pem_body(text, kind):
    lines = text.strip().splitlines()
    assert lines[0] == '-----BEGIN %s-----' % kind, lines[0]
    assert lines[-1] == '-----END %s-----' % kind, lines[-1]
    return base64.b64decode(''.join(lines[1:-1]))

def decrypt(path, passphrase):
    enc = json.loads(pem_body(open(path).read(), 'ENCRYPTED COSIGN PRIVATE KEY'))
    assert enc['kdf']['name'] == 'scrypt' and enc['cipher']['name'] == 'nacl/secretbox'
    p = enc['kdf']['params']
    key = hashlib.scrypt(passphrase, salt=base64.b64decode(enc['kdf']['salt']), n=p['N'], r=p['r'], p=p['p'], maxmem=2**30, dklen=32)
    der = SecretBox(key).decrypt(base64.b64decode(enc['ciphertext']), base64.b64decode(enc['cipher']['nonce']))
    return serialization.load_der_private_key(der, password=None)

cmd = sys.argv[1]
if cmd == 'sign':
    # sign KEYFILE PASSPHRASE DIGEST IDENTITY -> prints payload (base64) and signature (base64)
    key = decrypt(sys.argv[2], sys.argv[3].encode())
    payload = json.dumps({'critical': {'identity': {'docker-reference': sys.argv[5]}, 'image': {'docker-manifest-digest': sys.argv[4]}, 'type': 'cosign container image signature'}, 'optional': None}).encode()
    sig = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    print(base64.b64encode(payload).decode())
    print(base64.b64encode(sig).decode())
elif cmd == 'genkey':
    # genkey PREFIX PASSPHRASE: writes PREFIX.private (N=2^16) and PREFIX.pub
    priv = ec.generate_private_key(ec.SECP256R1())
    der = priv.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt, nonce = os.urandom(32), os.urandom(24)
    key = hashlib.scrypt(sys.argv[3].encode(), salt=salt, n=65536, r=8, p=1, maxmem=2**30, dklen=32)
    ct = SecretBox(key).encrypt(der, nonce).ciphertext
    body = json.dumps({'kdf': {'name': 'scrypt', 'params': {'N': 65536, 'r': 8, 'p': 1}, 'salt': base64.b64encode(salt).decode()}, 'cipher': {'name': 'nacl/secretbox', 'nonce': base64.b64encode(nonce).decode()}, 'ciphertext': base64.b64encode(ct).decode()})
    b64 = base64.b64encode(body.encode()).decode()
    open(sys.argv[2] + '.private', 'w').write('-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n' + '\n'.join(b64[i:i+64] for i in range(0, len(b64), 64)) + '\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n')
    open(sys.argv[2] + '.pub', 'wb').write(priv.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
elif cmd == 'verify':
    # verify PUBFILE SIGNATURE-FILE (containers/image blob: \0sigstore-json\n{...}) -> prints the payload
    blob = open(sys.argv[3], 'rb').read()
    prefix = b'\x00sigstore-json\n'
    assert blob.startswith(prefix), blob[:20]
    sig = json.loads(blob[len(prefix):])
    assert sig['mimeType'] == 'application/vnd.dev.cosign.simplesigning.v1+json'
    payload = base64.b64decode(sig['payload'])
    pub = serialization.load_pem_public_key(open(sys.argv[2], 'rb').read())
    pub.verify(base64.b64decode(sig['annotations']['dev.cosignproject.cosign/signature']), payload, ec.ECDSA(hashes.SHA256()))
    print(payload.decode())
`;

let dir: string;
let py: string;
let oracle: string;
let pass: string;

function policy(pub: string, identity: unknown = { type: 'exactReference', dockerReference: IDENTITY }): string {
  const p = join(dir, `policy-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    p,
    JSON.stringify({
      default: [{ type: 'reject' }],
      transports: { dir: { '': [{ type: 'sigstoreSigned', keyPath: pub, signedIdentity: identity }] }, oci: { '': [{ type: 'insecureAcceptAnything' }] } },
    }),
  );
  return p;
}

before(() => {
  py = requirePeer('python3-nacl');
  requirePeer('python3-cryptography');
  dir = tempDir('ocikit-sigstore-');
  oracle = join(dir, 'oracle.py');
  writeFileSync(oracle, ORACLE);
  pass = join(dir, 'pass');
  writeFileSync(pass, 'open sesame\nsecond line is not part of it\n');
});

describe('sigstore keys and signatures (Python oracle)', () => {
  it('a key from generate-sigstore-key decrypts elsewhere, and what it signs there passes the policy', () => {
    const prefix = join(dir, 'ours');
    const r = ocikit(['generate-sigstore-key', '--output-prefix', prefix, '--passphrase-file', pass]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(`${prefix}.private`).mode & 0o777, 0o600);
    const [payloadB64, sigB64] = run(py, [oracle, 'sign', `${prefix}.private`, 'open sesame', HELLO_DIGEST, IDENTITY])
      .stdout.trim()
      .split('\n');
    // A dir: image carrying the Python-made signature.
    const img = join(dir, 'py-signed');
    assert.equal(ocikit(['--store', join(dir, 'store'), 'copy', '-q', HELLO, `dir:${img}`]).code, 0);
    writeFileSync(
      join(img, 'signature-1'),
      signatureBlobBytes({ format: 'sigstore', mediaType: SIGSTORE_SIGNATURE_MEDIA_TYPE, payload: Buffer.from(payloadB64!, 'base64'), annotations: { [SIGSTORE_SIGNATURE_ANNOTATION]: sigB64! } }),
    );
    const ok = ocikit(['--store', join(dir, 'store'), '--policy', policy(`${prefix}.pub`), 'copy', '-q', `dir:${img}`, `dir:${join(dir, 'py-out')}`]);
    assert.equal(ok.code, 0, ok.stderr);
    // The same signature over another identity is refused.
    const bad = ocikit([
      '--store',
      join(dir, 'store'),
      '--policy',
      policy(`${prefix}.pub`, { type: 'exactReference', dockerReference: 'registry.example.com/hello:v2' }),
      'copy',
      '-q',
      `dir:${img}`,
      `dir:${join(dir, 'py-bad')}`,
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /requirement sigstoreSigned: signature 1 claims identity "registry\.example\.com\/hello:v1"/);
    assert.equal(existsSync(join(dir, 'py-bad')), false);
  });

  it('a key encrypted elsewhere (N=2^16, ENCRYPTED SIGSTORE PRIVATE KEY) signs in ocikit copy, and the signature verifies elsewhere', () => {
    const prefix = join(dir, 'theirs');
    run(py, [oracle, 'genkey', prefix, 'open sesame']);
    const out = join(dir, 'oc-signed');
    const r = ocikit([
      '--store',
      join(dir, 'store'),
      'copy',
      '-q',
      '--sign-by-sigstore-private-key',
      `${prefix}.private`,
      '--sign-passphrase-file',
      pass,
      '--sign-identity',
      IDENTITY,
      HELLO,
      `dir:${out}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const payload = JSON.parse(run(py, [oracle, 'verify', `${prefix}.pub`, join(out, 'signature-1')]).stdout) as {
      critical: { identity: Record<string, string>; image: Record<string, string>; type: string };
    };
    assert.deepEqual(payload.critical, { identity: { 'docker-reference': IDENTITY }, image: { 'docker-manifest-digest': HELLO_DIGEST }, type: 'cosign container image signature' });
    assert.equal(ocikit(['--store', join(dir, 'store'), '--policy', policy(`${prefix}.pub`), 'copy', '-q', `dir:${out}`, `dir:${join(dir, 'oc-out')}`]).code, 0);
  });

  it('refuses: a tampered payload, a wrong passphrase, overwriting a key, no passphrase without a terminal', () => {
    const prefix = join(dir, 'ours');
    const signed = join(dir, 'oc-signed2');
    assert.equal(
      ocikit(['--store', join(dir, 'store'), 'copy', '-q', '--sign-by-sigstore-private-key', `${prefix}.private`, '--sign-passphrase-file', pass, '--sign-identity', IDENTITY, HELLO, `dir:${signed}`])
        .code,
      0,
    );
    const blob = readFileSync(join(signed, 'signature-1'));
    const j = JSON.parse(blob.subarray(15).toString()) as { payload: string };
    j.payload = Buffer.from(Buffer.from(j.payload, 'base64').toString().replace('hello:v1', 'hello:v9')).toString('base64');
    writeFileSync(join(signed, 'signature-1'), Buffer.concat([blob.subarray(0, 15), Buffer.from(JSON.stringify(j))]));
    let r = ocikit(['--store', join(dir, 'store'), '--policy', policy(`${prefix}.pub`), 'copy', '-q', `dir:${signed}`, `dir:${join(dir, 'tampered')}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /signature 1: cryptographic signature verification failed/);
    assert.equal(existsSync(join(dir, 'tampered')), false);

    const wrong = join(dir, 'wrong');
    writeFileSync(wrong, 'close sesame\n');
    r = ocikit([
      '--store',
      join(dir, 'store'),
      'copy',
      '-q',
      '--sign-by-sigstore-private-key',
      `${prefix}.private`,
      '--sign-passphrase-file',
      wrong,
      '--sign-identity',
      IDENTITY,
      HELLO,
      `dir:${join(dir, 'never')}`,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /decryption failed \(wrong passphrase\?\)/);
    assert.equal(existsSync(join(dir, 'never')), false);

    const before = readFileSync(`${prefix}.private`);
    r = ocikit(['generate-sigstore-key', '--output-prefix', prefix, '--passphrase-file', pass]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refusing to overwrite/);
    assert.deepEqual(readFileSync(`${prefix}.private`), before);

    r = ocikit(['generate-sigstore-key', '--output-prefix', join(dir, 'noprompt')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /standard input is not a terminal \(give the passphrase with --passphrase-file\)/);
    assert.equal(existsSync(join(dir, 'noprompt.private')), false);
  });
});
