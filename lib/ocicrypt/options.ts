/**
 * ocicrypt's layer metadata (containers/ocicrypt), as JSON: what the key wrappers carry for each
 * recipient (the private options: the layer's symmetric key and nonce) and what every reader may
 * see (the public options: the cipher and the HMAC of the encrypted bytes, in the `pubopts`
 * annotation). Pure: the cipher itself runs in the blob job (workers/crypt.ts), with node:crypto.
 *
 * The cipher is ocicrypt's only one: AES-256-CTR over the layer's bytes, then HMAC-SHA256 (keyed
 * with the same 256-bit key) over the ciphertext, checked before a decryption is accepted.
 */
import { randomBytes } from 'node:crypto';
import { OcikitError } from '../errors.js';

/** ocicrypt's name for its cipher. */
export const LAYER_CIPHER = 'AES_256_CTR_HMAC_SHA256';
/** The suffix an encrypted layer's media type gets. */
export const ENCRYPTED_SUFFIX = '+encrypted';

/** The annotations ocicrypt writes: one per key-wrapping scheme, and the public options. */
export const ANNOTATIONS = {
  jwe: 'org.opencontainers.image.enc.keys.jwe',
  pkcs7: 'org.opencontainers.image.enc.keys.pkcs7',
  pgp: 'org.opencontainers.image.enc.keys.pgp',
  pubopts: 'org.opencontainers.image.enc.pubopts',
} as const;

/** The key-wrapping schemes (skopeo's --encryption-key prefixes). */
export type WrapScheme = 'jwe' | 'pkcs7' | 'pgp';
export const WRAP_SCHEMES: readonly WrapScheme[] = ['jwe', 'pkcs7', 'pgp'];

/** A layer's symmetric key and CTR nonce (both random per layer). */
export interface LayerKey {
  key: Buffer;
  nonce: Buffer;
}

/** A fresh key for one layer. */
export function newLayerKey(): LayerKey {
  return { key: randomBytes(32), nonce: randomBytes(16) };
}

/** True for an encrypted layer's media type. */
export function isEncryptedMediaType(mediaType: string): boolean {
  return mediaType.endsWith(ENCRYPTED_SUFFIX);
}

/**
 * The private options, as ocicrypt's Go JSON writes them (byte slices in base64): wrapped for each
 * recipient. `digest` is the digest of the bytes that were encrypted.
 */
export function encodePrivateOptions(k: LayerKey, digest: string): Buffer {
  return Buffer.from(JSON.stringify({ symkey: k.key.toString('base64'), digest, cipheroptions: { nonce: k.nonce.toString('base64') } }));
}

/** The public options annotation's value (base64 of the JSON) for a layer whose ciphertext has this HMAC. */
export function encodePublicOptions(hmac: Buffer): string {
  return Buffer.from(JSON.stringify({ cipher: LAYER_CIPHER, hmac: hmac.toString('base64'), cipheroptions: {} })).toString('base64');
}

const b64 = (v: unknown, what: string, len?: number): Buffer => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new OcikitError('E_BAD_INPUT', `${what} is not base64`);
  const b = Buffer.from(v, 'base64');
  if (len !== undefined && b.length !== len) throw new OcikitError('E_BAD_INPUT', `${what} has ${b.length} bytes, not ${len}`);
  return b;
};

/** The key and nonce from unwrapped private options (untrusted JSON: checked field by field). */
export function parsePrivateOptions(data: Buffer, what: string): LayerKey {
  let v: { symkey?: unknown; cipheroptions?: { nonce?: unknown } };
  try {
    v = JSON.parse(data.toString('utf8')) as typeof v;
  } catch {
    throw new OcikitError('E_BAD_INPUT', `${what}: the unwrapped layer key is not JSON`);
  }
  return { key: b64(v.symkey, `${what}: the layer key`, 32), nonce: b64(v.cipheroptions?.nonce, `${what}: the layer nonce`, 16) };
}

/** The HMAC the ciphertext must have, from the `pubopts` annotation; the cipher must be ocicrypt's. */
export function parsePublicOptions(annotations: Readonly<Record<string, string>>, what: string): Buffer {
  const raw = annotations[ANNOTATIONS.pubopts];
  if (raw === undefined) throw new OcikitError('E_BAD_INPUT', `${what}: encrypted, but without the ${ANNOTATIONS.pubopts} annotation`);
  let v: { cipher?: unknown; hmac?: unknown };
  try {
    v = JSON.parse(b64(raw, `${what}: ${ANNOTATIONS.pubopts}`).toString('utf8')) as typeof v;
  } catch (err) {
    if (err instanceof OcikitError) throw err;
    throw new OcikitError('E_BAD_INPUT', `${what}: ${ANNOTATIONS.pubopts} is not JSON`);
  }
  if (v.cipher !== LAYER_CIPHER) throw new OcikitError('E_UNSUPPORTED', `${what}: encrypted with ${JSON.stringify(v.cipher)}; ocikit knows ${LAYER_CIPHER}`);
  return b64(v.hmac, `${what}: the layer HMAC`, 32);
}

/** The wrapped keys of one scheme in a layer's annotations (comma-separated base64). */
export function wrappedKeys(annotations: Readonly<Record<string, string>>, scheme: WrapScheme): Buffer[] {
  const raw = annotations[ANNOTATIONS[scheme]];
  if (!raw) return [];
  return raw.split(',').map((p, i) => b64(p, `${ANNOTATIONS[scheme]} entry ${i}`));
}
