/**
 * `docker://NAME[:TAG|@DIGEST]`: an image in a registry. (The docker reference grammar itself, which
 * several transports use, is ../docker.ts.)
 */
import { familiarString, withDefaultTag, type DockerReference } from '../docker.js';
import { dockerRefIn, usage, type TransportSyntax } from './common.js';

/** `docker://NAME[:TAG|@DIGEST]`: an image in a registry. */
export interface DockerTransportReference {
  /** Tagged or digested, never both, never neither ("latest" filled in). */
  ref: DockerReference;
}

/**
 * Parse the part after "docker:", which MUST start with "//". The name gets Docker Hub defaults and
 * tag "latest" when it has neither tag nor digest. Throws E_USAGE without "//", for an invalid name,
 * or for a name with both a tag and a digest (the registry API cannot ask for both; containers/image
 * refuses it too).
 */
export function parseDockerTransportReference(rest: string): DockerTransportReference {
  const image = `docker:${rest}`;
  if (!rest.startsWith('//')) {
    throw usage(image, 'a docker: reference must start with //', { hint: `write docker://${rest}` });
  }
  const ref = withDefaultTag(dockerRefIn(image, rest.slice(2)));
  if (ref.tag !== undefined && ref.digest !== undefined) {
    throw usage(image, 'docker references with both a tag and a digest are not supported', { hint: 'keep only the digest' });
  }
  return { ref };
}

/** Inverse of parseDockerTransportReference: "//" + the familiar form ("//busybox:latest"). */
export function formatDockerTransportReference(r: DockerTransportReference): string {
  if (r.ref.tag !== undefined && r.ref.digest !== undefined) {
    throw usage(`docker://${r.ref.toString()}`, 'docker references with both a tag and a digest are not supported');
  }
  return `//${familiarString(withDefaultTag(r.ref))}`;
}

export const dockerSyntax: TransportSyntax<DockerTransportReference> = { parse: parseDockerTransportReference, format: formatDockerTransportReference };
