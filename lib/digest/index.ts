/**
 * Digests: parsing, validation, hashing of buffers/files/streams, and a verifying stream.
 *
 * Only sha256 is produced; sha512 is parsed and verified because the OCI spec allows it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { OcikitError, quoteUntrusted } from '../errors.js';

/** A validated digest string, "algorithm:hex". */
export type Digest = string & { readonly __digest?: never };

const HEX_LEN: Record<string, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-f0-9]+)$/;

/** Parse and validate a digest; throws E_BAD_INPUT naming `what` when it is malformed or of an unknown algorithm. */
export function parseDigest(s: unknown, what = 'digest'): Digest {
  if (typeof s !== 'string') throw new OcikitError('E_BAD_INPUT', `${what}: expected a digest string, got ${typeof s}`);
  const m = DIGEST_RE.exec(s);
  if (!m) throw new OcikitError('E_BAD_INPUT', `${what}: malformed digest ${quoteUntrusted(s, 100)}`);
  const want = HEX_LEN[m[1]!];
  if (want === undefined) throw new OcikitError('E_UNSUPPORTED', `${what}: unsupported digest algorithm ${quoteUntrusted(m[1], 40)}`);
  if (m[2]!.length !== want) throw new OcikitError('E_BAD_INPUT', `${what}: ${m[1]} digest must have ${want} hex characters: ${quoteUntrusted(s, 140)}`);
  return s;
}

export function isDigest(s: unknown): s is Digest {
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

export function algorithmOf(d: Digest): string {
  return d.slice(0, d.indexOf(':'));
}

export function hexOf(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

/** A short form for messages: "sha256:0123456789ab". */
export function shortDigest(d: string): string {
  return d.length > 19 ? d.slice(0, 19) : d;
}

export function digestBytes(data: Uint8Array | string, algorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/** Hash a file with 1 MiB reads (the chunk size at which node:crypto is fastest here). */
export async function digestFile(path: string, algorithm = 'sha256'): Promise<{ digest: Digest; size: number }> {
  const h = createHash(algorithm);
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `${algorithm}:${h.digest('hex')}` as Digest, size };
}

export interface VerifyExpectation {
  digest?: Digest;
  /** Expected size in bytes; -1 or undefined when unknown. */
  size?: number;
  /** Describes the content in error messages: "blob sha256:ab12 from oci:/x". */
  what: string;
}

/**
 * A pass-through stream that hashes what flows through it and, at the end, fails with
 * E_DIGEST_MISMATCH or E_SIZE_MISMATCH when the content differs from what was expected.
 * It also fails early, as soon as more bytes than the expected size arrive.
 * After 'finish', `digest` and `size` hold what was actually seen.
 */
export class VerifyingStream extends Transform {
  private readonly hash;
  private readonly expect: VerifyExpectation;
  size = 0;
  digest: Digest | undefined;

  /** `highWaterMark`: what each side buffers (a stage of many streams at once may want less). */
  constructor(expect: VerifyExpectation, highWaterMark = 1 << 20) {
    super({ highWaterMark });
    this.expect = expect;
    const algorithm = expect.digest ? algorithmOf(expect.digest) : 'sha256';
    this.hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    const want = this.expect.size;
    if (want !== undefined && want >= 0 && this.size > want) {
      cb(new OcikitError('E_SIZE_MISMATCH', `${this.expect.what}: more than the expected ${want} bytes`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const algorithm = this.expect.digest ? algorithmOf(this.expect.digest) : 'sha256';
    this.digest = `${algorithm}:${this.hash.digest('hex')}` as Digest;
    const want = this.expect.size;
    if (want !== undefined && want >= 0 && this.size !== want) {
      cb(new OcikitError('E_SIZE_MISMATCH', `${this.expect.what}: got ${this.size} bytes, expected ${want} (truncated?)`));
      return;
    }
    if (this.expect.digest && this.digest !== this.expect.digest) {
      cb(new OcikitError('E_DIGEST_MISMATCH', `${this.expect.what}: content has digest ${this.digest}, expected ${this.expect.digest}`));
      return;
    }
    cb();
  }
}

/** Check bytes in memory against an expectation, with the same errors as VerifyingStream. */
export function verifyBytes(data: Uint8Array, expect: VerifyExpectation): Digest {
  const want = expect.size;
  if (want !== undefined && want >= 0 && data.length !== want) {
    throw new OcikitError('E_SIZE_MISMATCH', `${expect.what}: got ${data.length} bytes, expected ${want}`);
  }
  const got = digestBytes(data, expect.digest ? algorithmOf(expect.digest) : 'sha256');
  if (expect.digest && got !== expect.digest) {
    throw new OcikitError('E_DIGEST_MISMATCH', `${expect.what}: content has digest ${got}, expected ${expect.digest}`);
  }
  return got;
}
