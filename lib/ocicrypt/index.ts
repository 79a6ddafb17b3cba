/**
 * lib/ocicrypt: layer encryption as containers/ocicrypt does it, for skopeo's `--encryption-key`,
 * `--encrypt-layer` and `--decryption-key`: key specifications read into the copy pipeline's
 * encryption and decryption hooks (lib/copy/options.ts). The layer cipher runs in the blob job
 * (workers/crypt.ts); the key wrapping is in wrap.ts; the metadata formats in options.ts.
 *
 * Nothing here loads a package or starts a program until a copy asks for encryption or decryption.
 */
import { X509Certificate, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { OcikitError } from '../errors.js';
import type { LayerDecryption, LayerEncryption } from '../copy/options.js';
import { ANNOTATIONS, wrappedKeys } from './options.js';
import { jweUnwrap, jweWrap, loadPrivateKey, pgpUnwrap, pgpWrap, pkcs7Unwrap, pkcs7Wrap, type JweRecipient, type PgpSecretKey } from './wrap.js';

export * from './options.js';

const JWE_ALGS = ['RSA-OAEP', 'RSA-OAEP-256', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW'];

async function readKeyFile(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new OcikitError('E_USAGE', `${flag} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
}

function certificate(data: Buffer): X509Certificate | undefined {
  try {
    return new X509Certificate(data);
  } catch {
    return undefined;
  }
}

/** A JWE recipient from a public key file: PEM or DER public key, or a JWK (its `alg` honoured). */
function jweRecipient(data: Buffer, path: string): JweRecipient {
  let key: KeyObject;
  let alg: string | undefined;
  const text = data.toString('utf8').trim();
  try {
    if (text.startsWith('{')) {
      const jwk = JSON.parse(text) as JsonWebKey & { alg?: string };
      alg = jwk.alg;
      key = createPublicKey({ key: jwk, format: 'jwk' });
    } else {
      key = text.includes('-----BEGIN') ? createPublicKey(text) : createPublicKey({ key: data, format: 'der', type: 'spki' });
    }
  } catch {
    throw new OcikitError('E_USAGE', `--encryption-key jwe:${path}: not a public key (PEM, DER or JWK)`);
  }
  if (key.type !== 'public') throw new OcikitError('E_USAGE', `--encryption-key jwe:${path}: not a public key`);
  alg ??= key.asymmetricKeyType === 'ec' ? 'ECDH-ES+A256KW' : 'RSA-OAEP';
  if (!JWE_ALGS.includes(alg)) throw new OcikitError('E_USAGE', `--encryption-key jwe:${path}: ${alg} is not a JWE key algorithm ocicrypt takes (${JWE_ALGS.join(', ')})`);
  return { key, alg };
}

/**
 * The encryption hook for `--encryption-key` specs (jwe:PUBKEY, pkcs7:CERT, pgp:RECIPIENT) and
 * `--encrypt-layer` indices (undefined: every layer). Key files are read and checked here, before
 * any byte moves.
 */
export async function layerEncryption(specs: string[], layers: number[] | undefined): Promise<LayerEncryption> {
  const jwe: JweRecipient[] = [];
  const certs: X509Certificate[] = [];
  const pgp: string[] = [];
  for (const spec of specs) {
    const colon = spec.indexOf(':');
    const scheme = colon < 0 ? '' : spec.slice(0, colon);
    const value = spec.slice(colon + 1);
    if (scheme === 'jwe') jwe.push(jweRecipient(await readKeyFile(value, '--encryption-key jwe:'), value));
    else if (scheme === 'pkcs7') {
      const c = certificate(await readKeyFile(value, '--encryption-key pkcs7:'));
      if (!c) throw new OcikitError('E_USAGE', `--encryption-key pkcs7:${value}: not an x509 certificate`);
      certs.push(c);
    } else if (scheme === 'pgp') {
      if (!value) throw new OcikitError('E_USAGE', '--encryption-key pgp: needs a recipient (pgp:NAME or pgp:EMAIL)');
      pgp.push(value);
    } else {
      throw new OcikitError('E_USAGE', `--encryption-key ${JSON.stringify(spec)}: expected jwe:PUBLIC-KEY-FILE, pkcs7:CERTIFICATE-FILE or pgp:RECIPIENT`);
    }
  }
  return {
    ...(layers !== undefined ? { layers } : {}),
    async wrap(privateOptions) {
      const out: Record<string, string> = {};
      if (jwe.length > 0) out[ANNOTATIONS.jwe] = (await jweWrap(privateOptions, jwe)).toString('base64');
      if (certs.length > 0) out[ANNOTATIONS.pkcs7] = pkcs7Wrap(privateOptions, certs).toString('base64');
      if (pgp.length > 0) out[ANNOTATIONS.pgp] = (await pgpWrap(privateOptions, pgp)).toString('base64');
      return out;
    },
  };
}

/** ocicrypt's password forms after FILE: "pass=PW", "file=PATH", "fd=N", or the password itself. */
async function password(spec: string): Promise<string> {
  if (spec.startsWith('pass=')) return spec.slice(5);
  if (spec.startsWith('file=')) return (await readKeyFile(spec.slice(5), '--decryption-key password file')).toString('utf8').replace(/\r?\n$/, '');
  if (spec.startsWith('fd=')) {
    const { readFileSync } = await import('node:fs');
    return readFileSync(Number(spec.slice(3)))
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  return spec;
}

/** True for an OpenPGP secret key (armored, or a binary secret-key packet first). */
function isPgpSecretKey(data: Buffer): boolean {
  if (data.includes('-----BEGIN PGP PRIVATE KEY BLOCK-----')) return true;
  const b = data[0] ?? 0;
  if ((b & 0x80) === 0) return false;
  const tag = b & 0x40 ? b & 0x3f : (b >> 2) & 0x0f;
  return tag === 5;
}

/**
 * The decryption hook for `--decryption-key FILE[:PASSWORD]` specs: private keys (PEM, DER, JWK)
 * for jwe and pkcs7, OpenPGP secret keys (as `gpg --export-secret-keys` writes them) for pgp, and
 * certificates (accepted, as skopeo takes them for pkcs7; ocikit finds the recipient without them).
 */
export async function layerDecryption(specs: string[]): Promise<LayerDecryption> {
  const keys: KeyObject[] = [];
  const pgp: PgpSecretKey[] = [];
  for (const spec of specs) {
    const parts = spec.split(':');
    const file = parts.length === 2 ? parts[0]! : spec;
    const pass = parts.length === 2 ? await password(parts[1]!) : undefined;
    const data = await readKeyFile(file, '--decryption-key');
    let key: KeyObject | undefined;
    try {
      key = loadPrivateKey(data, pass);
    } catch (err) {
      throw new OcikitError('E_USAGE', `--decryption-key ${file}: ${(err as Error).message}`);
    }
    if (key) keys.push(key);
    else if (isPgpSecretKey(data)) pgp.push({ data, source: file, ...(pass !== undefined ? { passphrase: pass } : {}) });
    else if (!certificate(data)) throw new OcikitError('E_USAGE', `--decryption-key ${file}: not a private key (PEM, DER, JWK), an OpenPGP secret key or a certificate`);
  }
  return {
    async unwrap(annotations, what) {
      const tried: string[] = [];
      for (const w of wrappedKeys(annotations, 'jwe')) {
        tried.push('jwe');
        const got = keys.length > 0 ? await jweUnwrap(w, keys) : undefined;
        if (got) return got;
      }
      for (const w of wrappedKeys(annotations, 'pkcs7')) {
        tried.push('pkcs7');
        const got = keys.length > 0 ? pkcs7Unwrap(w, keys) : undefined;
        if (got) return got;
      }
      const pgpMessages = wrappedKeys(annotations, 'pgp');
      if (pgpMessages.length > 0) {
        tried.push('pgp');
        const got = await pgpUnwrap(pgpMessages, pgp);
        if (got) return got;
      }
      throw new OcikitError('E_DECRYPT', `${what}: none of the --decryption-key keys opens its layer key (wrapped with ${[...new Set(tried)].join(', ') || 'no scheme ocikit knows'})`);
    },
  };
}
