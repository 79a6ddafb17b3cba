/**
 * `docker-daemon:NAME:TAG`, `docker-daemon:NAME@DIGEST`, `docker-daemon:sha256:ID`: an image in a
 * Docker engine.
 */
import { parseDigest, type Digest } from '../../digest/index.js';
import { familiarName, familiarString, isImageId, isNameOnly, quote, type DockerReference } from '../docker.js';
import { dockerRefIn, usage, type TransportSyntax } from './common.js';

/** `docker-daemon:NAME[:TAG|@DIGEST]` or `docker-daemon:sha256:ID`. Exactly one of `ref` and `id` is set. */
export interface DockerDaemonReference {
  /** Tagged or digested, never both, never neither. */
  ref?: DockerReference;
  /** The image ID (config digest) as `docker inspect` prints it; always sha256. */
  id?: Digest;
}

const DAEMON_DIGEST_RE = /^(sha256|sha384|sha512):([a-f0-9]+)$/;
const DAEMON_DIGEST_HEX: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/**
 * Parse the part after "docker-daemon:" (containers/image docker/daemon):
 * - `sha256:<64 hex>` is an image ID; another algorithm's digest is refused;
 * - anything else is a docker reference, which MUST have a tag or a digest (the daemon reads a bare
 *   name as every tag of the repository) and MUST NOT have both; no "latest" is filled in;
 * - a bare 64-hex ID is refused (it is ambiguous with a repository name), as is the repository
 *   name "sha256", reserved for IDs.
 * Throws E_USAGE, quoting the image name.
 */
export function parseDockerDaemonReference(rest: string): DockerDaemonReference {
  const image = `docker-daemon:${rest}`;
  // "algo:hex" is also valid as "name:tag"; like containers/image, read it as a digest only when the
  // algorithm is a real one and the length is right.
  const dm = DAEMON_DIGEST_RE.exec(rest);
  if (dm && dm[2]!.length === DAEMON_DIGEST_HEX[dm[1]!]) {
    if (dm[1] !== 'sha256') throw usage(image, 'only sha256 image IDs are accepted');
    return { id: parseDigest(rest, 'image ID') };
  }
  const ref = dockerRefIn(image, rest, isImageId(rest) ? `write an image ID as sha256:${rest}` : undefined);
  if (familiarName(ref) === 'sha256') {
    throw usage(image, 'the repository name "sha256" is reserved for image IDs (sha256:<64 hex characters>)');
  }
  if (isNameOnly(ref)) {
    throw usage(image, `reference ${quote(familiarString(ref))} has neither a tag nor a digest`, {
      hint: `add a tag, e.g. docker-daemon:${familiarString(ref)}:latest`,
    });
  }
  if (ref.tag !== undefined && ref.digest !== undefined) {
    throw usage(image, 'references with both a tag and a digest are not supported');
  }
  return { ref };
}

/** Inverse of parseDockerDaemonReference: the ID, or the familiar form ("busybox:latest"). */
export function formatDockerDaemonReference(r: DockerDaemonReference): string {
  if ((r.id === undefined) === (r.ref === undefined)) {
    throw usage('docker-daemon:', 'exactly one of an image ID and a reference must be given');
  }
  if (r.id !== undefined) {
    const id = parseDigest(r.id, 'image ID');
    if (!id.startsWith('sha256:')) throw usage(`docker-daemon:${id}`, 'only sha256 image IDs are accepted');
    return id;
  }
  const ref = r.ref!;
  if (isNameOnly(ref)) throw usage(`docker-daemon:${familiarString(ref)}`, 'a reference needs a tag or a digest');
  if (ref.tag !== undefined && ref.digest !== undefined) {
    throw usage(`docker-daemon:${familiarString(ref)}`, 'references with both a tag and a digest are not supported');
  }
  return familiarString(ref);
}

export const dockerDaemonSyntax: TransportSyntax<DockerDaemonReference> = { parse: parseDockerDaemonReference, format: formatDockerDaemonReference };
