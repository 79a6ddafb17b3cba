/**
 * The one byte form every signature has inside ocikit, on disk in `dir:` images and in lookaside
 * storage: containers/image's signature "blob" (internal/signature in containers/image).
 *
 * - A simple-signing (GPG) signature is stored as the OpenPGP message itself, so old `dir:` images
 *   and lookaside files stay readable by every tool. It starts with an OpenPGP packet tag byte.
 * - Any other format starts with a zero byte, the format name and a newline, then the format's own
 *   bytes: `\0sigstore-json\n{"mimeType":…,"payload":"<base64>","annotations":{…}}`.
 *
 * ImageSource.getSignatures and ImageDestination.putSignatures carry these bytes unchanged.
 */
import { OcikitError } from '../errors.js';

/** The media type of a sigstore (cosign) signature layer. */
export const SIGSTORE_SIGNATURE_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** The layer annotation that holds the base64 signature of the payload. */
export const SIGSTORE_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';

const SIGSTORE_FORMAT = 'sigstore-json';
const SIMPLE_FORMAT = 'simple-signing';

/** A parsed signature blob. Everything in it is UNTRUSTED until a verifier says otherwise. */
export type SignatureBlob = { format: 'simple-signing'; /** the OpenPGP message */ message: Buffer } | { format: 'sigstore'; mediaType: string; payload: Buffer; annotations: Record<string, string> };

// OpenPGP packet tags a signed message can start with (old and new packet formats): compressed
// data (8), one-pass signature (4), signature (2). Anything else is not a simple-signing message.
const OPENPGP_FIRST_BYTES = new Set([0xa0, 0xa1, 0xa2, 0xa3, 0xc8, 0x90, 0x91, 0x92, 0x93, 0xc4, 0x88, 0x89, 0x8a, 0x8b, 0xc2]);

/** Parse the stored bytes of a signature; E_SIGNATURE for an empty or unknown format. */
export function parseSignatureBlob(blob: Buffer, what = 'signature'): SignatureBlob {
  if (blob.length === 0) throw new OcikitError('E_SIGNATURE', `${what}: empty signature`);
  const first = blob[0]!;
  if (OPENPGP_FIRST_BYTES.has(first)) return { format: 'simple-signing', message: blob };
  if (first !== 0) throw new OcikitError('E_SIGNATURE', `${what}: unrecognised signature format (first byte 0x${first.toString(16).padStart(2, '0')})`);
  const nl = blob.indexOf(0x0a, 1);
  if (nl < 0) throw new OcikitError('E_SIGNATURE', `${what}: invalid signature format, no newline after the format name`);
  const name = blob.subarray(1, nl).toString('latin1');
  if (!/^[\x20-\x7e]*$/.test(name)) throw new OcikitError('E_SIGNATURE', `${what}: invalid signature format name`);
  const chunk = blob.subarray(nl + 1);
  if (name === SIMPLE_FORMAT) return { format: 'simple-signing', message: Buffer.from(chunk) };
  if (name !== SIGSTORE_FORMAT) throw new OcikitError('E_SIGNATURE', `${what}: unrecognised signature format ${JSON.stringify(name.slice(0, 40))}`);
  let v: unknown;
  try {
    v = JSON.parse(chunk.toString('utf8'));
  } catch (err) {
    throw new OcikitError('E_SIGNATURE', `${what}: sigstore signature is not valid JSON`, { cause: err });
  }
  const o = v as { mimeType?: unknown; payload?: unknown; annotations?: unknown };
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new OcikitError('E_SIGNATURE', `${what}: sigstore signature is not a JSON object`);
  const annotations: Record<string, string> = {};
  if (o.annotations !== undefined && o.annotations !== null) {
    if (typeof o.annotations !== 'object' || Array.isArray(o.annotations)) throw new OcikitError('E_SIGNATURE', `${what}: sigstore annotations are not an object`);
    for (const [k, val] of Object.entries(o.annotations as Record<string, unknown>)) {
      if (typeof val !== 'string') throw new OcikitError('E_SIGNATURE', `${what}: sigstore annotation ${JSON.stringify(k)} is not a string`);
      annotations[k] = val;
    }
  }
  return {
    format: 'sigstore',
    mediaType: typeof o.mimeType === 'string' ? o.mimeType : '',
    payload: typeof o.payload === 'string' ? Buffer.from(o.payload, 'base64') : Buffer.alloc(0),
    annotations,
  };
}

/** The stored bytes of a signature (the inverse of parseSignatureBlob). */
export function signatureBlobBytes(sig: SignatureBlob): Buffer {
  if (sig.format === 'simple-signing') return sig.message;
  // Field order as containers/image writes it; the payload is base64 as Go encodes []byte.
  const json = JSON.stringify({ mimeType: sig.mediaType, payload: sig.payload.toString('base64'), annotations: sig.annotations });
  return Buffer.concat([Buffer.from([0]), Buffer.from(`${SIGSTORE_FORMAT}\n`), Buffer.from(json)]);
}
