/**
 * `docker-archive:PATH[:NAME[:TAG]|:@N]`: a `docker save` tar file.
 */
import { withDefaultTag, type DockerReference } from '../docker.js';
import { dockerRefIn, parseSourceIndex, usage, type TransportSyntax } from './common.js';

/** `docker-archive:PATH[:NAME[:TAG]|:@N]`. At most one of `name` and `index` is set. */
export interface DockerArchiveReference {
  path: string;
  /** Always tagged ("latest" filled in), never with a digest. */
  name?: DockerReference;
  /** Zero-based position in the archive's manifest.json; for sources only. */
  index?: number;
}

/**
 * Parse the part after "docker-archive:", split at the first colon (containers/image docker/archive):
 * `PATH` (the only image), `PATH:@N` (the N-th image) or `PATH:NAME[:TAG]` (tag defaults to latest).
 * Throws E_USAGE for an empty path, an empty or invalid NAME, a NAME with a digest, or a bad index.
 */
export function parseDockerArchiveReference(rest: string): DockerArchiveReference {
  const image = `docker-archive:${rest}`;
  const colon = rest.indexOf(':');
  const path = colon === -1 ? rest : rest.slice(0, colon);
  if (path === '') throw usage(image, 'the path is empty');
  if (colon === -1) return { path };
  const tail = rest.slice(colon + 1);
  if (tail.startsWith('@')) return { path, index: parseSourceIndex(image, tail) };
  const name = withDefaultTag(dockerRefIn(image, tail));
  if (name.digest !== undefined) {
    throw usage(image, 'docker-archive does not support digest references', { hint: 'name the image by tag: PATH:NAME:TAG' });
  }
  return { path, name };
}

/** Inverse of parseDockerArchiveReference; the name is written in full ("docker.io/library/x:latest"), as containers/image does. */
export function formatDockerArchiveReference(r: DockerArchiveReference): string {
  const image = `docker-archive:${r.path}`;
  if (r.path === '') throw usage(image, 'the path is empty');
  if (r.path.includes(':')) throw usage(image, 'the path contains a colon, which docker-archive: cannot express');
  if (r.name !== undefined && r.index !== undefined) throw usage(image, 'a name and a source index cannot both be given');
  if (r.name !== undefined) {
    if (r.name.digest !== undefined) throw usage(image, 'docker-archive does not support digest references');
    return `${r.path}:${withDefaultTag(r.name).toString()}`;
  }
  if (r.index !== undefined) {
    if (!Number.isSafeInteger(r.index) || r.index < 0) throw usage(image, `source index ${r.index} is not a non-negative integer`);
    return `${r.path}:@${r.index}`;
  }
  return r.path;
}

export const dockerArchiveSyntax: TransportSyntax<DockerArchiveReference> = { parse: parseDockerArchiveReference, format: formatDockerArchiveReference };
