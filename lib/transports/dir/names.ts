/** File names inside a dir: image, as containers/image's directory transport uses them. */
import { algorithmOf, hexOf, type Digest } from '../../digest/index.js';

/** The version file's content (directory transport version 1.1). */
export const DIR_VERSION = 'Directory Transport Version: 1.1\n';

/** The version file's prefix; what follows it is the version. */
export const DIR_VERSION_PREFIX = 'Directory Transport Version: ';

/**
 * The versions ocikit reads, as containers/image writes them: 1.0 (sha256 blobs only) and 1.1
 * (blobs of other algorithms named "alg-hex"). Names here and in containers/image agree on both.
 */
export const DIR_VERSIONS_READ: readonly string[] = ['1.0', '1.1'];

/** sha256 blobs are named by their hex; other algorithms by "alg-hex". */
export function blobFileName(d: Digest): string {
  return algorithmOf(d) === 'sha256' ? hexOf(d) : `${algorithmOf(d)}-${hexOf(d)}`;
}

/** manifest.json for the top level; "<hex>.manifest.json" for an instance of an index. */
export function manifestFileName(instance?: Digest): string {
  return instance === undefined ? 'manifest.json' : `${blobFileName(instance)}.manifest.json`;
}

export function signatureFileName(n: number, instance?: Digest): string {
  return instance === undefined ? `signature-${n}` : `${blobFileName(instance)}.signature-${n}`;
}
