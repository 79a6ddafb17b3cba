/**
 * The tests' one sha256 helper. It hashes with node:crypto directly, not through lib/digest: the
 * digests the tests expect must not come from the code they check.
 */
import { createHash } from 'node:crypto';
import type { Digest } from '../lib/digest/index.js';

/** "sha256:<hex>" of the bytes (a string is hashed as UTF-8). */
export function sha(b: Uint8Array | string): Digest {
  return `sha256:${shaHex(b)}`;
}

/** The hex alone: a blob's file name in a layout or a store. */
export function shaHex(b: Uint8Array | string): string {
  return createHash('sha256').update(b).digest('hex');
}
