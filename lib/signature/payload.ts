/**
 * The signed payload of both signature kinds (containers-signature(5)): a JSON object claiming
 * "this manifest digest is the image called this docker reference".
 *
 *   {"critical":{"identity":{"docker-reference":R},"image":{"docker-manifest-digest":D},"type":T},
 *    "optional":{"creator":…,"timestamp":…}}
 *
 * T is "atomic container signature" for simple signing (GPG) and "cosign container image signature"
 * for sigstore. Parsing is as strict as containers/image's: exactly these keys in `critical`,
 * `image` and `identity`; `optional` may hold anything (and may be null in sigstore payloads).
 */
import { OcikitError } from '../errors.js';
import { parseDigest, type Digest } from '../digest/index.js';

export const SIMPLE_SIGNING_TYPE = 'atomic container signature';
export const SIGSTORE_PAYLOAD_TYPE = 'cosign container image signature';

/** What a verified payload claims. */
export interface SignedClaim {
  manifestDigest: Digest;
  dockerReference: string;
  creator?: string;
  timestamp?: number;
}

/** The creator string ocikit writes into payloads. */
export const CREATOR = 'ocikit 0.1.0';

/**
 * The payload bytes for `claim`, keys sorted as Go's encoding/json writes a map, so a payload
 * from ocikit is byte-for-byte what containers/image would write for the same values.
 */
export function encodePayload(type: string, manifestDigest: Digest, dockerReference: string, now = new Date()): Buffer {
  if (!dockerReference) throw new OcikitError('E_INTERNAL', 'signing: empty docker reference');
  const v = {
    critical: {
      identity: { 'docker-reference': dockerReference },
      image: { 'docker-manifest-digest': manifestDigest },
      type,
    },
    optional: { creator: CREATOR, timestamp: Math.floor(now.getTime() / 1000) },
  };
  // Go escapes <, > and & in JSON strings; a docker reference cannot contain them, a creator could.
  return Buffer.from(JSON.stringify(v).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`));
}

function exactObject(v: unknown, keys: string[], what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new OcikitError('E_SIGNATURE', `${what} is not a JSON object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new OcikitError('E_SIGNATURE', `${what} has an unexpected field ${JSON.stringify(k)}`);
  for (const k of keys) if (!(k in o)) throw new OcikitError('E_SIGNATURE', `${what} lacks the field ${JSON.stringify(k)}`);
  return o;
}

/**
 * Parse a payload strictly, requiring critical.type === `type`. WARNING: the result is only as
 * trustworthy as the signature check done on the bytes before; callers verify first.
 */
export function parsePayload(bytes: Buffer, type: string, what = 'signature payload'): SignedClaim {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new OcikitError('E_SIGNATURE', `${what} is not valid JSON`, { cause: err });
  }
  const top = exactObject(v, ['critical', 'optional'], what);
  const crit = exactObject(top.critical, ['type', 'image', 'identity'], `${what}: critical`);
  if (crit.type !== type) throw new OcikitError('E_SIGNATURE', `${what}: unrecognised signature type ${JSON.stringify(crit.type)}`);
  const image = exactObject(crit.image, ['docker-manifest-digest'], `${what}: critical.image`);
  const identity = exactObject(crit.identity, ['docker-reference'], `${what}: critical.identity`);
  if (typeof identity['docker-reference'] !== 'string') throw new OcikitError('E_SIGNATURE', `${what}: docker-reference is not a string`);
  let manifestDigest: Digest;
  try {
    manifestDigest = parseDigest(image['docker-manifest-digest'], `${what}: docker-manifest-digest`);
  } catch (err) {
    throw new OcikitError('E_SIGNATURE', (err as Error).message, { cause: err });
  }
  const claim: SignedClaim = { manifestDigest, dockerReference: identity['docker-reference'] };
  const opt = top.optional;
  if (opt !== null) {
    if (typeof opt !== 'object' || Array.isArray(opt)) throw new OcikitError('E_SIGNATURE', `${what}: optional is not a JSON object`);
    const o = opt as Record<string, unknown>;
    if (o.creator !== undefined) {
      if (typeof o.creator !== 'string') throw new OcikitError('E_SIGNATURE', `${what}: optional.creator is not a string`);
      claim.creator = o.creator;
    }
    if (o.timestamp !== undefined) {
      if (typeof o.timestamp !== 'number' || !Number.isInteger(o.timestamp)) throw new OcikitError('E_SIGNATURE', `${what}: optional.timestamp is not an integer`);
      claim.timestamp = o.timestamp;
    }
  } else if (type === SIMPLE_SIGNING_TYPE) {
    throw new OcikitError('E_SIGNATURE', `${what}: optional is not a JSON object`);
  }
  return claim;
}
