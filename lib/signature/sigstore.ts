/**
 * Sigstore signatures made with a key pair (no Fulcio, no Rekor): cosign's key formats, signing, and
 * verification, as containers/image and skopeo do them.
 *
 * - Private key: PEM "ENCRYPTED COSIGN PRIVATE KEY" (also read: "ENCRYPTED SIGSTORE PRIVATE KEY")
 *   around JSON {kdf: scrypt N,r,p + salt, cipher: nacl/secretbox + nonce, ciphertext}; the plaintext
 *   is the PKCS#8 DER of the key (go-securesystemslib's "encrypted" format). New keys are ECDSA P-256.
 * - Public key: PEM "PUBLIC KEY" (PKIX).
 * - Signature: over the payload bytes (payload.ts, type "cosign container image signature"), SHA-256,
 *   ECDSA in ASN.1 DER (RSA: PKCS#1 v1.5; Ed25519: pure), base64 in the layer annotation
 *   dev.cosignproject.cosign/signature.
 *
 * Crypto comes from node:crypto (EC keys, scrypt, sign/verify) and tweetnacl (secretbox, which node
 * lacks); nothing here implements a primitive.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, scrypt as scryptCb, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { OcikitError } from '../errors.js';
import { nacl } from '../lazy.js';
import { digestBytes } from '../digest/index.js';
import { SIGSTORE_SIGNATURE_ANNOTATION, SIGSTORE_SIGNATURE_MEDIA_TYPE, type SignatureBlob } from './blob.js';
import { SIGSTORE_PAYLOAD_TYPE, encodePayload, parsePayload, type SignedClaim } from './payload.js';

const PEM_TYPE_WRITTEN = 'ENCRYPTED COSIGN PRIVATE KEY';
const PEM_TYPES_READ = [PEM_TYPE_WRITTEN, 'ENCRYPTED SIGSTORE PRIVATE KEY'];

/**
 * scrypt parameters go-securesystemslib accepts; new keys use the first ("legacy", N=2^15), the one
 * every cosign and containers/image version reads (skopeo 1.9 included).
 */
const SCRYPT_PARAMS = [
  { N: 32768, r: 8, p: 1 },
  { N: 65536, r: 8, p: 1 },
  { N: 131072, r: 8, p: 1 },
];

function scrypt(pass: Buffer, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; node's default cap (32 MiB) is below what N=2^15, r=8 needs.
  const maxmem = 128 * N * r * 2;
  return new Promise((resolve, reject) => scryptCb(pass, salt, 32, { N, r, p, maxmem }, (err, key) => (err ? reject(err) : resolve(key))));
}

function pemEncode(type: string, der: Buffer): string {
  const b64 = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${type}-----\n${b64}\n-----END ${type}-----\n`;
}

function pemDecode(text: string, what: string): { type: string; der: Buffer } {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) throw new OcikitError('E_BAD_INPUT', `${what}: not a PEM file`);
  const body = m[2]!
    .split(/\r?\n/)
    .filter((l) => l && !l.includes(':'))
    .join('');
  if (!/^[A-Za-z0-9+/=]*$/.test(body)) throw new OcikitError('E_BAD_INPUT', `${what}: the PEM body is not base64`);
  return { type: m[1]!, der: Buffer.from(body, 'base64') };
}

/** A new key pair: the encrypted private key and the public key, both PEM text. */
export interface SigstoreKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

/** Make an ECDSA P-256 key pair, the private key encrypted with `passphrase` (cosign's format). */
export async function generateSigstoreKeyPair(passphrase: Buffer): Promise<SigstoreKeyPair> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const { N, r, p } = SCRYPT_PARAMS[0]!;
  const key = await scrypt(passphrase, salt, N, r, p);
  const ciphertext = Buffer.from(nacl().secretbox(new Uint8Array(pkcs8), new Uint8Array(nonce), new Uint8Array(key)));
  // Field order as Go marshals go-securesystemslib's structs.
  const json = JSON.stringify({
    kdf: { name: 'scrypt', params: { N, r, p }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: ciphertext.toString('base64'),
  });
  return {
    privateKeyPem: pemEncode(PEM_TYPE_WRITTEN, Buffer.from(json)),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Decrypt a cosign private key file. E_SIGNATURE for a wrong passphrase, E_BAD_INPUT for a malformed file. */
export async function loadSigstorePrivateKey(pem: string, passphrase: Buffer, what = 'sigstore private key'): Promise<KeyObject> {
  const { type, der } = pemDecode(pem, what);
  if (!PEM_TYPES_READ.includes(type)) throw new OcikitError('E_BAD_INPUT', `${what}: unsupported PEM type ${JSON.stringify(type)}, expected ${PEM_TYPE_WRITTEN}`);
  // The shape read, every leaf unknown until checked below; null for a file holding JSON null.
  let enc: { kdf?: { name?: unknown; params?: { N?: unknown; r?: unknown; p?: unknown }; salt?: unknown }; cipher?: { name?: unknown; nonce?: unknown }; ciphertext?: unknown } | null;
  try {
    enc = JSON.parse(der.toString('utf8')) as typeof enc;
  } catch (err) {
    throw new OcikitError('E_BAD_INPUT', `${what}: the encrypted key is not JSON`, { cause: err });
  }
  if (enc?.kdf?.name !== 'scrypt') throw new OcikitError('E_BAD_INPUT', `${what}: unknown key derivation ${JSON.stringify(enc?.kdf?.name)}`);
  if (enc.cipher?.name !== 'nacl/secretbox') throw new OcikitError('E_BAD_INPUT', `${what}: unknown cipher ${JSON.stringify(enc.cipher?.name)}`);
  const params = enc.kdf.params ?? {};
  const known = SCRYPT_PARAMS.find((s) => s.N === params.N && s.r === params.r && s.p === params.p);
  if (!known) throw new OcikitError('E_BAD_INPUT', `${what}: unsupported scrypt parameters`);
  if (typeof enc.kdf.salt !== 'string' || typeof enc.cipher.nonce !== 'string' || typeof enc.ciphertext !== 'string') {
    throw new OcikitError('E_BAD_INPUT', `${what}: salt, nonce or ciphertext missing`);
  }
  const nonce = Buffer.from(enc.cipher.nonce, 'base64');
  if (nonce.length !== 24) throw new OcikitError('E_BAD_INPUT', `${what}: the nonce is not 24 bytes`);
  const key = await scrypt(passphrase, Buffer.from(enc.kdf.salt, 'base64'), known.N, known.r, known.p);
  const plain = nacl().secretbox.open(new Uint8Array(Buffer.from(enc.ciphertext, 'base64')), new Uint8Array(nonce), new Uint8Array(key));
  if (!plain) throw new OcikitError('E_SIGNATURE', `${what}: decryption failed (wrong passphrase?)`);
  try {
    return createPrivateKey({ key: Buffer.from(plain), format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new OcikitError('E_BAD_INPUT', `${what}: the decrypted key is not a PKCS#8 private key`, { cause: err });
  }
}

/** Parse a PEM public key (what keyPath/keyData of a sigstoreSigned requirement hold). */
export function loadSigstorePublicKey(pem: Buffer | string, what = 'sigstore public key'): KeyObject {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  const { type } = pemDecode(text, what);
  if (type !== 'PUBLIC KEY') throw new OcikitError('E_BAD_INPUT', `${what}: expected a PEM PUBLIC KEY, got ${JSON.stringify(type)}`);
  try {
    return createPublicKey({ key: text, format: 'pem' });
  } catch (err) {
    throw new OcikitError('E_BAD_INPUT', `${what}: not a usable public key`, { cause: err });
  }
}

/** The hash node:crypto is told for this key type (Ed25519 signs the message itself). */
function hashFor(key: KeyObject): string | null {
  return key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
}

/** Sign `manifest` as `dockerReference`: a sigstore signature blob ready for putSignatures. */
export function signManifestSigstore(manifest: Buffer, dockerReference: string, key: KeyObject): SignatureBlob {
  const t = key.asymmetricKeyType;
  if (t !== 'ec' && t !== 'rsa' && t !== 'ed25519') throw new OcikitError('E_UNSUPPORTED', `sigstore signing: unsupported key type ${t}`);
  const payload = encodePayload(SIGSTORE_PAYLOAD_TYPE, digestBytes(manifest), dockerReference);
  const sig = cryptoSign(hashFor(key), payload, key);
  return { format: 'sigstore', mediaType: SIGSTORE_SIGNATURE_MEDIA_TYPE, payload, annotations: { [SIGSTORE_SIGNATURE_ANNOTATION]: sig.toString('base64') } };
}

/**
 * Verify a sigstore signature with any of `keys`; returns the payload's claims (the caller compares
 * them with the image). E_SIGNATURE when the annotation is missing or no key verifies it.
 */
export function verifySigstoreSignature(sig: Extract<SignatureBlob, { format: 'sigstore' }>, keys: KeyObject[], what = 'sigstore signature'): SignedClaim {
  const b64 = sig.annotations[SIGSTORE_SIGNATURE_ANNOTATION];
  if (b64 === undefined) throw new OcikitError('E_SIGNATURE', `${what}: missing ${SIGSTORE_SIGNATURE_ANNOTATION} annotation`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new OcikitError('E_SIGNATURE', `${what}: the signature is not base64`);
  const raw = Buffer.from(b64, 'base64');
  if (keys.length === 0) throw new OcikitError('E_SIGNATURE', `${what}: no public keys to verify with`);
  const ok = keys.some((k) => {
    try {
      return cryptoVerify(hashFor(k), sig.payload, k, raw);
    } catch {
      // A signature that does not even parse for this key type is a failed verification, not an error.
      return false;
    }
  });
  if (!ok) throw new OcikitError('E_SIGNATURE', `${what}: cryptographic signature verification failed`);
  return parsePayload(sig.payload, SIGSTORE_PAYLOAD_TYPE, `${what}: payload`);
}
