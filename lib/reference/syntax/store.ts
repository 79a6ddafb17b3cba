/**
 * The syntax of a `store:` image name (ocikit's own transport, not in containers-transports(5)):
 * `REPO[:TAG|@DIGEST]`, with distribution's grammar for the repository and the tag. What the names
 * mean (which store refs answer to them) is lib/transports/store/names.ts.
 *
 * parseStoreName's errors are E_BAD_INPUT (store names also arrive from files: a bundle's index.json,
 * the store's own refs); as the syntax of an image name (`storeSyntax`), they are E_USAGE like every other.
 */
import { OcikitError } from '../../errors.js';
import { parseDigest, type Digest } from '../../digest/index.js';
import { usage, type TransportSyntax } from './common.js';

/** A repository path component, as distribution's grammar (lowercase letters and digits, single separators). */
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const REPOSITORY_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
/** Longest repository name (distribution's limit). */
export const MAX_REPOSITORY_LENGTH = 255;

/** An image name the store answers to: a repository and a tag or a digest (exactly one). */
export interface StoreName {
  repository: string;
  tag?: string;
  digest?: Digest;
}

/** True for a valid repository name ("docker.io/library/busybox", "team/app"): distribution's grammar, at most 255 characters. */
export function isRepositoryName(s: string): boolean {
  return s.length > 0 && s.length <= MAX_REPOSITORY_LENGTH && REPOSITORY_RE.test(s);
}

/** True for a valid tag: 1 to 128 of [A-Za-z0-9_.-], not starting with "." or "-". */
export function isTagName(s: string): boolean {
  return TAG_RE.test(s);
}

/**
 * Parse `REPO[:TAG|@DIGEST]` (no defaults but `:latest` when neither is given). Throws E_BAD_INPUT
 * naming `what` for an invalid repository, tag or digest.
 */
export function parseStoreName(s: string, what = 'image name'): StoreName {
  const at = s.indexOf('@');
  if (at >= 0) {
    const repository = s.slice(0, at);
    checkRepository(repository, s, what);
    return { repository, digest: parseDigest(s.slice(at + 1), `${what} ${JSON.stringify(s.slice(0, 300))}`) };
  }
  const slash = s.lastIndexOf('/');
  const colon = s.lastIndexOf(':');
  const repository = colon > slash ? s.slice(0, colon) : s;
  const tag = colon > slash ? s.slice(colon + 1) : 'latest';
  checkRepository(repository, s, what);
  if (!isTagName(tag))
    throw new OcikitError('E_BAD_INPUT', `${what} ${JSON.stringify(s.slice(0, 300))}: invalid tag ${JSON.stringify(tag.slice(0, 200))} (1 to 128 of A-Z a-z 0-9 _ . -, not starting with . or -)`);
  return { repository, tag };
}

function checkRepository(repository: string, s: string, what: string): void {
  if (!isRepositoryName(repository)) {
    throw new OcikitError('E_BAD_INPUT', `${what} ${JSON.stringify(s.slice(0, 300))}: invalid repository name`, {
      hint: 'a repository is lowercase components of letters and digits joined by . _ __ or -, separated by /, at most 255 characters; a registry port is written HOST_PORT',
    });
  }
}

/** `REPO:TAG` or `REPO@DIGEST`. */
export function formatStoreName(n: StoreName): string {
  return n.digest !== undefined ? `${n.repository}@${n.digest}` : `${n.repository}:${n.tag ?? 'latest'}`;
}

export const storeSyntax: TransportSyntax<StoreName> = {
  parse(rest: string): StoreName {
    try {
      return parseStoreName(rest);
    } catch (err) {
      throw usage(`store:${rest}`, (err as Error).message, { cause: err });
    }
  },
  format: formatStoreName,
};
