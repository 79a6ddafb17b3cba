/**
 * Docker image references ("busybox", "quay.io/org/app:1.2", "localhost:5000/x@sha256:…"), parsed and
 * normalised the way distribution/reference does it, so a name means here what it means to docker,
 * podman and skopeo.
 *
 * The grammar (distribution/reference, reference.go):
 *
 *   reference      := name [ ":" tag ] [ "@" digest ]
 *   name           := [ domain "/" ] remote-name
 *   domain         := host [ ":" port ]
 *   host           := domain-name | "[" IPv6 "]"
 *   domain-name    := domain-comp ( "." domain-comp )*        domain-comp := /[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]/
 *   remote-name    := path-comp ( "/" path-comp )*
 *   path-comp      := /[a-z0-9]+/ ( separator /[a-z0-9]+/ )*  separator := /[._]|__|[-]+/
 *   tag            := /[\w][\w.-]{0,127}/
 *
 * Pure string work: no I/O, no network. Imports only lib/errors and lib/digest.
 */
import { OcikitError, quoteUntrusted } from '../errors.js';
import { parseDigest, type Digest } from '../digest/index.js';

/** The registry a name without a domain refers to. */
export const DEFAULT_DOMAIN = 'docker.io';
/** The tag `withDefaultTag` adds. */
export const DEFAULT_TAG = 'latest';
/** Docker Hub's namespace for official images: "busybox" is "docker.io/library/busybox". */
export const OFFICIAL_REPO_PREFIX = 'library/';
/** Longest allowed name (domain + "/" + path), as containers/image checks it. */
export const NAME_TOTAL_LENGTH_MAX = 255;

const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';

/**
 * A parsed, normalised docker reference. Plain frozen data; `toString()` (not enumerable, so
 * `assert.deepStrictEqual` and `JSON.stringify` see only the data) gives the full form
 * `domain/path[:tag][@digest]`.
 *
 * A reference MAY carry both a tag and a digest (`name:tag@digest`); transports that cannot use
 * both (docker://, docker-daemon:) refuse such values themselves.
 */
export interface DockerReference {
  /** "docker.io", "quay.io", "localhost:5000", "[::1]:5000". Empty only for the rare names whose first component is not a valid domain (see parseDockerReference). */
  readonly domain: string;
  /** The repository path inside the registry: "library/busybox". */
  readonly path: string;
  /** `domain/path` (or just `path` when domain is empty). */
  readonly name: string;
  readonly tag?: string;
  readonly digest?: Digest;
  toString(): string;
}

// === The grammar, as regular expressions. Every repetition is separated by a mandatory literal,
// so none of these can backtrack catastrophically; inputs are length-capped anyway.
const ALPHANUMERIC = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const DOMAIN_NAME_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_NAME_COMPONENT}(?:\\.${DOMAIN_NAME_COMPONENT})*`;
// IPv6 in brackets only; zone identifiers ("%eth0") and IPv4-mapped forms are deliberately excluded, as upstream.
const IPV6_ADDRESS = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_AND_PORT = `(?:${DOMAIN_NAME}|${IPV6_ADDRESS})(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const NAME = `(?:${DOMAIN_AND_PORT}/)?${REMOTE_NAME}`;

const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const ANCHORED_NAME_RE = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${REMOTE_NAME})$`);
const ANCHORED_TAG_RE = new RegExp(`^${TAG}$`);
const ANCHORED_DOMAIN_RE = new RegExp(`^${DOMAIN_AND_PORT}$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

// No valid reference is longer than this (255 name + ":" + 128 tag + "@" + sha512 digest); the cap
// keeps hostile multi-megabyte strings away from the regular expressions.
const MAX_INPUT_LENGTH = 1024;

/** Quote user input for a message, shortened so a hostile string cannot flood a terminal. Internal to lib/reference (not re-exported). */
export function quote(s: string): string {
  return quoteUntrusted(s, 300);
}

function bad(s: string, why: string): OcikitError {
  return new OcikitError('E_BAD_INPUT', `invalid docker reference ${quote(s)}: ${why}`);
}

function referenceToString(this: DockerReference): string {
  let s = this.name;
  if (this.tag !== undefined) s += `:${this.tag}`;
  if (this.digest !== undefined) s += `@${this.digest}`;
  return s;
}

/** Build a DockerReference from parts that are already valid. Internal: callers go through the parsers. */
function makeReference(domain: string, path: string, tag: string | undefined, digest: Digest | undefined): DockerReference {
  // Absent tag/digest are absent keys, not `undefined` values, so deepStrictEqual against a literal works.
  const ref: { domain: string; path: string; name: string; tag?: string; digest?: Digest } = { domain, path, name: domain === '' ? path : `${domain}/${path}` };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  Object.defineProperty(ref, 'toString', { value: referenceToString, enumerable: false });
  return Object.freeze(ref);
}

/**
 * Split a familiar name into domain and remainder and apply Docker Hub's defaults, exactly as
 * distribution/reference's splitDockerDomain:
 * - a single component ("busybox", and also "localhost" or "example.com" alone) is docker.io/library/NAME;
 * - the first component is a domain when it is "localhost", contains "." or ":", or has an uppercase letter
 *   (uppercase is never valid in a path, so such a component can only mean a host);
 * - "index.docker.io" is "docker.io";
 * - on docker.io, a one-component path gets "library/".
 */
function splitDockerDomain(s: string): { domain: string; remainder: string } {
  const slash = s.indexOf('/');
  if (slash === -1) return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + s };
  const maybeDomain = s.slice(0, slash);
  const maybeRemainder = s.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (maybeDomain === 'localhost') {
    [domain, remainder] = [maybeDomain, maybeRemainder];
  } else if (maybeDomain === LEGACY_DEFAULT_DOMAIN) {
    [domain, remainder] = [DEFAULT_DOMAIN, maybeRemainder];
  } else if (maybeDomain.includes('.') || maybeDomain.includes(':')) {
    [domain, remainder] = [maybeDomain, maybeRemainder];
  } else if (maybeDomain.toLowerCase() !== maybeDomain) {
    [domain, remainder] = [maybeDomain, maybeRemainder];
  } else {
    [domain, remainder] = [DEFAULT_DOMAIN, s];
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * Parse a docker reference as docker, podman and skopeo understand it, filling in Docker Hub's
 * defaults: "busybox" → docker.io/library/busybox, "user/x:1" → docker.io/user/x:1,
 * "index.docker.io/x" → docker.io/library/x. No tag is added: see withDefaultTag.
 *
 * Accepts `name`, `name:tag`, `name@digest` and `name:tag@digest`. The digest MUST be one
 * lib/digest accepts (sha256 or sha512, lowercase hex of the right length).
 *
 * Throws E_BAD_INPUT, quoting the input, when: the input is empty; it is a bare 64-hex string (an
 * image ID, not a name); the repository path has an uppercase letter ("repository name must be
 * lowercase"); it does not match the grammar; the name is longer than 255 characters; or the digest
 * is invalid.
 *
 * WARNING: a first component that contains "." but is not a valid host (e.g. "a_b.com/x") is, as
 * upstream, read as part of the path with an empty domain.
 */
export function parseDockerReference(s: string): DockerReference {
  if (typeof s !== 'string') throw new OcikitError('E_BAD_INPUT', `invalid docker reference: expected a string, got ${typeof s}`);
  if (s === '') throw bad(s, 'repository name must have at least one component');
  if (s.length > MAX_INPUT_LENGTH) throw bad(s, `reference is longer than ${MAX_INPUT_LENGTH} characters`);
  if (IDENTIFIER_RE.test(s)) {
    throw bad(s, 'a 64-character hexadecimal string is an image ID, not a repository name');
  }
  const { domain, remainder } = splitDockerDomain(s);
  // Upstream checks the repository part (up to the first ":") for case before parsing, so that
  // "Busybox" gets the helpful message rather than "invalid reference format".
  const colon = remainder.indexOf(':');
  const remote = colon === -1 ? remainder : remainder.slice(0, colon);
  if (remote.toLowerCase() !== remote) throw bad(s, 'repository name must be lowercase');
  return parseFull(s, `${domain}/${remainder}`);
}

/** distribution/reference's Parse of an already-normalised string; `original` is what the user typed, for messages. */
function parseFull(original: string, full: string): DockerReference {
  const m = REFERENCE_RE.exec(full);
  if (!m) {
    const lower = full.toLowerCase();
    if (lower !== full && REFERENCE_RE.test(lower)) throw bad(original, 'repository name must be lowercase');
    throw bad(original, 'invalid reference format');
  }
  const name = m[1]!;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw bad(original, `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const nm = ANCHORED_NAME_RE.exec(name);
  const domain = nm ? (nm[1] ?? '') : '';
  const path = nm ? nm[2]! : name;
  let digest: Digest | undefined;
  if (m[3] !== undefined) {
    try {
      digest = parseDigest(m[3], 'digest');
    } catch (err) {
      throw new OcikitError('E_BAD_INPUT', `invalid docker reference ${quote(original)}: ${(err as Error).message}`, { cause: err });
    }
  }
  return makeReference(domain, path, m[2], digest);
}

/** True when the reference has neither a tag nor a digest (the daemon reads such a name as "every tag"). */
export function isNameOnly(ref: DockerReference): boolean {
  return ref.tag === undefined && ref.digest === undefined;
}

/**
 * The reference with tag "latest" when it has neither tag nor digest; otherwise the reference itself.
 * This is what `docker://busybox` means.
 */
export function withDefaultTag(ref: DockerReference): DockerReference {
  return isNameOnly(ref) ? makeReference(ref.domain, ref.path, DEFAULT_TAG, undefined) : ref;
}

/** The reference with `tag` set (any digest kept). Throws E_BAD_INPUT when the tag is not `[\w][\w.-]{0,127}`. */
export function withTag(ref: DockerReference, tag: string): DockerReference {
  if (typeof tag !== 'string' || !ANCHORED_TAG_RE.test(tag)) {
    throw new OcikitError('E_BAD_INPUT', `invalid tag ${quote(String(tag))} for ${ref.name}: a tag is 1 to 128 of [A-Za-z0-9_.-] and does not start with "." or "-"`);
  }
  return makeReference(ref.domain, ref.path, tag, ref.digest);
}

/** The reference with `digest` set (any tag kept). Throws E_BAD_INPUT (or E_UNSUPPORTED for an unknown algorithm) from parseDigest. */
export function withDigest(ref: DockerReference, digest: string): DockerReference {
  return makeReference(ref.domain, ref.path, ref.tag, parseDigest(digest, `digest for ${ref.name}`));
}

/** The repository alone, without tag or digest. */
export function trimNamed(ref: DockerReference): DockerReference {
  return makeReference(ref.domain, ref.path, undefined, undefined);
}

/**
 * The name as docker prints it: "busybox", "user/x", "quay.io/org/x" (docker.io and a sole library/
 * dropped). Unlike upstream's FamiliarName, it keeps whatever prefix is needed for the result to parse
 * back to the same name: "docker.io/foo.com/x" and "docker.io/localhost/x" keep "docker.io/" (else the
 * first component would read as a host), "library/<64 hex>" keeps "library/" (else it reads as an ID).
 */
export function familiarName(ref: DockerReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return ref.name;
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    // "library/a/b" keeps its prefix: dropping it would make it read as the user "a".
    if (!rest.includes('/') && !IDENTIFIER_RE.test(rest)) return rest;
  }
  const slash = ref.path.indexOf('/');
  const first = slash === -1 ? ref.path : ref.path.slice(0, slash);
  if (first.includes('.') || first === 'localhost') return ref.name;
  return ref.path;
}

/**
 * The reference as docker prints it: "busybox:latest", "user/x:1", "quay.io/x@sha256:…".
 * parseDockerReference(familiarString(r)) gives back r.
 */
export function familiarString(ref: DockerReference): string {
  let s = familiarName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/**
 * Whether a name as typed names its registry: its first component is one ("localhost", or it holds
 * "." or ":", or an uppercase letter), by distribution/reference's rule. "busybox" and "user/app"
 * do not: they are short names, which docker, podman and skopeo complete to docker.io.
 */
export function namesRegistry(typed: string): boolean {
  const slash = typed.indexOf('/');
  if (slash === -1) return false;
  const first = typed.slice(0, slash);
  return first === 'localhost' || first.includes('.') || first.includes(':') || first.toLowerCase() !== first;
}

/** True when `s` is a registry host, with an optional port ("quay.io", "localhost:5000", "[::1]:5000"). */
export function isRegistryDomain(s: string): boolean {
  return ANCHORED_DOMAIN_RE.test(s);
}

/** True when `s` is a full image ID: exactly 64 lowercase hex characters, no algorithm prefix. */
export function isImageId(s: string): boolean {
  return IDENTIFIER_RE.test(s);
}
