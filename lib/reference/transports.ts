/**
 * The image-name syntax of every transport, as containers-transports(5) and containers/image define
 * it, so that an image name typed for skopeo means the same thing to ocikit.
 *
 * These are pure parsers of strings: nothing here touches the filesystem, a daemon or a store. Each
 * `parse*Reference(rest)` takes the part after "TRANSPORT:" and returns a plain object; each
 * `format*Reference(value)` is its inverse and gives the canonical within-transport string, so that
 * `parse(format(parse(s)))` deep-equals `parse(s)` (the `withinTransport` round trip of DESIGN.md).
 *
 * Syntax errors are E_USAGE (the user typed the name) and quote the whole image name.
 */
import { resolve as resolvePath, isAbsolute } from 'node:path';
import { OcikitError } from '../errors.js';
import { parseDigest, type Digest } from '../digest/index.js';
import { familiarName, familiarString, isImageId, isNameOnly, parseDockerReference, quote, withDefaultTag, type DockerReference } from './docker.js';
import { formatStoreName, parseStoreName, type StoreName } from './store.js';

/** Every transport ocikit knows, in the order help texts list them. */
export const KNOWN_TRANSPORTS = ['dir', 'oci', 'oci-archive', 'docker-archive', 'docker', 'docker-daemon', 'containers-storage', 'store'] as const;

export type TransportName = (typeof KNOWN_TRANSPORTS)[number];

/** Other names accepted for a transport. containers-transports(5): "registry:" is "docker:", and parses as docker. */
export const TRANSPORT_ALIASES: Readonly<Record<string, TransportName>> = Object.freeze({ registry: 'docker' });

/** True when `name` is one of KNOWN_TRANSPORTS (aliases are not). */
export function isKnownTransport(name: string): name is TransportName {
  return (KNOWN_TRANSPORTS as readonly string[]).includes(name);
}

function usage(image: string, why: string, options: { cause?: unknown; hint?: string } = {}): OcikitError {
  return new OcikitError('E_USAGE', `invalid image name ${quote(image)}: ${why}`, options);
}

/** Parse a docker reference inside an image name, turning its E_BAD_INPUT into this name's E_USAGE. */
function dockerRefIn(image: string, s: string, hint?: string): DockerReference {
  try {
    return parseDockerReference(s);
  } catch (err) {
    throw usage(image, (err as Error).message, hint === undefined ? { cause: err } : { cause: err, hint });
  }
}

// ---------------------------------------------------------------------------------------------
// TRANSPORT:REFERENCE

/** An image name split at its transport. */
export interface SplitImageName {
  transport: TransportName;
  /** Everything after the first ":", untouched: "//busybox" for "docker://busybox". */
  rest: string;
}

/**
 * Split "TRANSPORT:REFERENCE" at the FIRST colon. "docker://x" is transport "docker", rest "//x".
 * An alias ("registry") comes back as its transport ("docker").
 *
 * Throws E_USAGE, quoting the input and listing the transports, when there is no colon or the
 * transport is not known.
 */
export function splitImageName(s: string): SplitImageName {
  const known = `transports: ${KNOWN_TRANSPORTS.join(', ')}`;
  const colon = typeof s === 'string' ? s.indexOf(':') : -1;
  if (colon <= 0) {
    throw new OcikitError('E_USAGE', `invalid image name ${quote(String(s))}: expected TRANSPORT:REFERENCE (${known})`, {
      hint: 'for a registry image write docker://NAME, e.g. docker://busybox:latest',
    });
  }
  const name = s.slice(0, colon);
  const transport = isKnownTransport(name) ? name : TRANSPORT_ALIASES[name];
  if (transport === undefined) {
    throw new OcikitError('E_USAGE', `invalid image name ${quote(s)}: unknown transport ${quote(name)}; expected TRANSPORT:REFERENCE (${known})`);
  }
  return { transport, rest: s.slice(colon + 1) };
}

// ---------------------------------------------------------------------------------------------
// dir:PATH

/** `dir:PATH`. The path is kept as typed (relative, "~" and all); see absolutePath. */
export interface DirReference {
  path: string;
}

/** Parse the part after "dir:". Any non-empty string is a path (colons included). Throws E_USAGE when empty. */
export function parseDirReference(rest: string): DirReference {
  if (rest === '') throw usage(`dir:${rest}`, 'the path is empty');
  return { path: rest };
}

/** Inverse of parseDirReference. */
export function formatDirReference(r: DirReference): string {
  if (r.path === '') throw usage('dir:', 'the path is empty');
  return r.path;
}

/**
 * `p` made absolute against `cwd`, normalised ("a/../b" → "b"). Transports call this when they open
 * the path; the parsers keep the literal text so messages show what the user typed.
 * `cwd` MUST be absolute (pass process.cwd()); a relative one is a bug and throws E_INTERNAL.
 */
export function absolutePath(p: string, cwd: string): string {
  if (!isAbsolute(cwd)) throw new OcikitError('E_INTERNAL', `absolutePath: cwd ${quote(cwd)} is not absolute`);
  return resolvePath(cwd, p);
}

// ---------------------------------------------------------------------------------------------
// oci:PATH[:REF|:@N] and oci-archive:PATH[:REF|:@N]

/**
 * `oci:PATH[:REF|:@N]` and `oci-archive:PATH[:REF|:@N]`. At most one of `ref` and `index` is set;
 * neither means "the only image in the layout".
 */
export interface OciReference {
  path: string;
  /** The `org.opencontainers.image.ref.name` annotation to select or write. */
  ref?: string;
  /** Zero-based position in index.json's manifests; for sources only. */
  index?: number;
}

export type OciArchiveReference = OciReference;

// image-spec annotations.md, org.opencontainers.image.ref.name, as containers/image checks it.
const OCI_REF_COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const OCI_REF_RE = new RegExp(`^${OCI_REF_COMPONENT}(?:/${OCI_REF_COMPONENT})*$`);

/** True when `s` is a valid OCI `org.opencontainers.image.ref.name` ("latest", "v1.0", "example.com/app:1"). */
export function isValidOciRefName(s: string): boolean {
  return OCI_REF_RE.test(s);
}

/** "@N" → N; throws E_USAGE unless N is a non-negative decimal integer. */
function parseSourceIndex(image: string, s: string): number {
  const digits = s.slice(1);
  if (/^-[0-9]+$/.test(digits)) throw usage(image, `source index ${s} must not be negative`);
  const n = Number(digits);
  if (!/^[0-9]+$/.test(digits) || !Number.isSafeInteger(n)) {
    throw usage(image, `source index ${quote(s)} is not a non-negative integer`);
  }
  return n;
}

/**
 * On Linux containers/image splits at the FIRST colon: the path cannot contain ":", everything after it
 * is the reference. (Windows drive letters are not handled; ocikit targets POSIX systems.)
 */
function parseOciLike(transport: 'oci' | 'oci-archive', rest: string): OciReference {
  const image = `${transport}:${rest}`;
  const colon = rest.indexOf(':');
  const path = colon === -1 ? rest : rest.slice(0, colon);
  const tail = colon === -1 ? '' : rest.slice(colon + 1);
  if (path === '') throw usage(image, 'the path is empty');
  if (tail === '') return { path };
  if (tail.startsWith('@')) return { path, index: parseSourceIndex(image, tail) };
  if (!isValidOciRefName(tail)) {
    throw usage(image, `${quote(tail)} is not a valid OCI reference name`, {
      hint: 'a reference name is components of letters and digits joined by one of - . _ : @ + or --, separated by /',
    });
  }
  return { path, ref: tail };
}

function formatOciLike(transport: 'oci' | 'oci-archive', r: OciReference): string {
  const image = `${transport}:${r.path}`;
  if (r.path === '') throw usage(image, 'the path is empty');
  if (r.path.includes(':')) throw usage(image, `the path contains a colon, which ${transport}: cannot express`);
  if (r.ref !== undefined && r.index !== undefined) throw usage(image, 'a reference name and a source index cannot both be given');
  if (r.ref !== undefined && r.ref !== '') {
    if (!isValidOciRefName(r.ref)) throw usage(`${image}:${r.ref}`, `${quote(r.ref)} is not a valid OCI reference name`);
    return `${r.path}:${r.ref}`;
  }
  if (r.index !== undefined) {
    if (!Number.isSafeInteger(r.index) || r.index < 0) throw usage(image, `source index ${r.index} is not a non-negative integer`);
    return `${r.path}:@${r.index}`;
  }
  return r.path;
}

/**
 * Parse the part after "oci:": `PATH`, `PATH:REF` or `PATH:@N`, split at the first colon.
 * An empty REF ("PATH:") is the same as none. Throws E_USAGE for an empty path, an invalid REF or a
 * bad index.
 */
export function parseOciReference(rest: string): OciReference {
  return parseOciLike('oci', rest);
}

/** Inverse of parseOciReference. */
export function formatOciReference(r: OciReference): string {
  return formatOciLike('oci', r);
}

/** Parse the part after "oci-archive:"; same rules as parseOciReference. */
export function parseOciArchiveReference(rest: string): OciArchiveReference {
  return parseOciLike('oci-archive', rest);
}

/** Inverse of parseOciArchiveReference. */
export function formatOciArchiveReference(r: OciArchiveReference): string {
  return formatOciLike('oci-archive', r);
}

// ---------------------------------------------------------------------------------------------
// docker-archive:PATH[:NAME[:TAG]|:@N]

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

// ---------------------------------------------------------------------------------------------
// docker://NAME[:TAG|@DIGEST]

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

// ---------------------------------------------------------------------------------------------
// docker-daemon:NAME:TAG | docker-daemon:NAME@DIGEST | docker-daemon:sha256:ID

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

// ---------------------------------------------------------------------------------------------
// containers-storage:[[DRIVER@]ROOT[+RUNROOT][:OPTIONS]]{ID|NAME[@ID]}

/**
 * `containers-storage:[[DRIVER@]ROOT[+RUNROOT][:OPTIONS]]REF` (the outer brackets are literal).
 * Store fields are absent when not written (the store's defaults apply). At least one of `ref`
 * and `id` is set.
 */
export interface StorageReference {
  driver?: string;
  root?: string;
  runRoot?: string;
  /** Driver options, split at ",". */
  options?: string[];
  /** Tagged ("latest" filled in) and/or digested; both are allowed here. */
  ref?: DockerReference;
  /**
   * An image ID: 64 hex characters, or (after "@") a prefix of at least 3.
   * WARNING: a prefix is not resolved here; the transport MUST resolve it against the store and fail
   * unless exactly one image matches.
   */
  id?: string;
}

const SHORT_ID_RE = /^[a-f0-9]{3,64}$/;

type StoreSpec = Pick<StorageReference, 'driver' | 'root' | 'runRoot' | 'options'>;

const specKey = (s: StoreSpec): string => JSON.stringify([s.driver, s.root, s.runRoot, s.options]);

/** The inside of "[...]": DRIVER@ cut at the first "@", :OPTIONS at the first ":", +RUNROOT at the first "+". */
function parseStoreSpec(image: string, spec: string): StoreSpec {
  const out: StoreSpec = {};
  if (spec === '') throw usage(image, 'the store specifier "[]" is empty');
  const at = spec.indexOf('@');
  if (at !== -1) {
    const driver = spec.slice(0, at);
    spec = spec.slice(at + 1);
    if (driver === '') throw usage(image, 'the store specifier has an empty driver before "@"');
    if (spec === '') throw usage(image, 'the store specifier has nothing after "DRIVER@"');
    out.driver = driver;
  }
  const colon = spec.indexOf(':');
  if (colon !== -1) {
    out.options = spec.slice(colon + 1).split(',');
    spec = spec.slice(0, colon);
  }
  const plus = spec.indexOf('+');
  const root = plus === -1 ? spec : spec.slice(0, plus);
  const runRoot = plus === -1 ? '' : spec.slice(plus + 1);
  // containers/image treats an empty root or run root as "not given", and requires absolute paths otherwise.
  if (root !== '') {
    if (!root.startsWith('/')) throw usage(image, `the store root ${quote(root)} is not an absolute path`);
    out.root = root;
  }
  if (runRoot !== '') {
    if (!runRoot.startsWith('/')) throw usage(image, `the store run root ${quote(runRoot)} is not an absolute path`);
    out.runRoot = runRoot;
  }
  return out;
}

/**
 * Parse the part after "containers-storage:" following containers/image storage_transport.go:
 * 1. an optional store spec "[...]" up to the first "]": DRIVER@ cut at the first "@" (neither side
 *    may then be empty), :OPTIONS cut at the first ":", +RUNROOT cut at the first "+"; ROOT and
 *    RUNROOT, when given, MUST be absolute;
 * 2. a trailing "@ID" is peeled off unless it looks like a digest (contains ":");
 * 3. the rest, if any, is a docker reference (Hub defaults, "latest" when it has no tag or digest);
 *    a bare 64-hex string is an ID.
 * Unlike containers/image, a bare ID prefix ("abc123" without "@") is read as a name: telling the two
 * apart needs the store. Write "@abc123".
 * Throws E_USAGE for an empty reference, a malformed store spec, a relative root, or a bad name or ID.
 */
export function parseStorageReference(rest: string): StorageReference {
  const image = `containers-storage:${rest}`;
  let out: StorageReference = {};
  let ref = rest;
  // === 1. store spec
  if (ref.startsWith('[')) {
    const close = ref.indexOf(']');
    if (close < 1) throw usage(image, 'the store specifier "[..." does not end with "]"');
    out = parseStoreSpec(image, ref.slice(1, close));
    ref = ref.slice(close + 1);
  }
  if (ref === '') throw usage(image, 'no image name or ID was given');
  // === 2. trailing @ID (a digest, which contains ":", stays with the name)
  const lastAt = ref.lastIndexOf('@');
  if (lastAt !== -1) {
    const possibleId = ref.slice(lastAt + 1);
    if (possibleId === '') throw usage(image, 'empty digest or image ID after "@"');
    if (!possibleId.includes(':')) {
      if (!SHORT_ID_RE.test(possibleId)) {
        throw usage(image, `${quote(possibleId)} does not look like an image ID (hex, at least 3 characters) or a digest`);
      }
      out.id = possibleId;
      ref = ref.slice(0, lastAt);
    }
  } else if (isImageId(ref)) {
    // A full ID alone; it cannot be a name (distribution/reference refuses 64-hex names).
    out.id = ref;
    ref = '';
  }
  // === 3. the name
  if (ref !== '') out.ref = withDefaultTag(dockerRefIn(image, ref));
  if (out.ref === undefined && out.id === undefined) throw usage(image, 'no image name or ID was given');
  return out;
}

/**
 * Inverse of parseStorageReference: "[DRIVER@ROOT+RUNROOT:OPTS]NAME@ID" with only the parts present
 * (containers/image always writes the store's full spec; ours leaves unwritten defaults unwritten).
 * Throws E_USAGE when a store field holds a character the syntax cannot express.
 */
export function formatStorageReference(r: StorageReference): string {
  let spec = '';
  const given: StoreSpec = {};
  if (r.driver !== undefined) given.driver = r.driver;
  if (r.root !== undefined) given.root = r.root;
  if (r.runRoot !== undefined) given.runRoot = r.runRoot;
  if (r.options !== undefined) given.options = [...r.options];
  if (Object.keys(given).length > 0) {
    const inner = `${r.driver !== undefined ? `${r.driver}@` : ''}${r.root ?? ''}${r.runRoot !== undefined ? `+${r.runRoot}` : ''}${r.options !== undefined ? `:${r.options.join(',')}` : ''}`;
    spec = `[${inner}]`;
    // The separators are first-occurrence cuts, so a field holding "@", ":", "+", "," or "]" may not
    // come back as itself: parse what we wrote and insist on getting the same fields.
    const image = `containers-storage:${spec}`;
    const back = inner.includes(']') ? undefined : parseStoreSpec(image, inner);
    if (back === undefined || specKey(back) !== specKey(given)) {
      throw usage(image, 'the store specifier holds a character the syntax cannot express ("@", ":", "+", "," or "]" in the wrong place)');
    }
  }
  if (r.ref === undefined && r.id === undefined) throw usage(`containers-storage:${spec}`, 'no image name or ID was given');
  if (r.id !== undefined && !SHORT_ID_RE.test(r.id)) throw usage(`containers-storage:${spec}@${r.id}`, 'the image ID is not 3 to 64 hex characters');
  let s = spec;
  if (r.ref !== undefined) s += withDefaultTag(r.ref).toString();
  if (r.id !== undefined) s += `@${r.id}`;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Any transport

/** A parsed image name of any transport, discriminated by `transport`. */
export type TransportReference =
  | ({ transport: 'dir' } & DirReference)
  | ({ transport: 'oci' } & OciReference)
  | ({ transport: 'oci-archive' } & OciArchiveReference)
  | ({ transport: 'docker-archive' } & DockerArchiveReference)
  | ({ transport: 'docker' } & DockerTransportReference)
  | ({ transport: 'docker-daemon' } & DockerDaemonReference)
  | ({ transport: 'containers-storage' } & StorageReference)
  | ({ transport: 'store' } & StoreName);

/** Parse the part after "TRANSPORT:" with that transport's syntax. Throws E_USAGE as the parser does. */
export function parseWithinTransport(transport: TransportName, rest: string): TransportReference {
  switch (transport) {
    case 'dir':
      return { transport, ...parseDirReference(rest) };
    case 'oci':
      return { transport, ...parseOciReference(rest) };
    case 'oci-archive':
      return { transport, ...parseOciArchiveReference(rest) };
    case 'docker-archive':
      return { transport, ...parseDockerArchiveReference(rest) };
    case 'docker':
      return { transport, ...parseDockerTransportReference(rest) };
    case 'docker-daemon':
      return { transport, ...parseDockerDaemonReference(rest) };
    case 'containers-storage':
      return { transport, ...parseStorageReference(rest) };
    case 'store':
      try {
        return { transport, ...parseStoreName(rest) };
      } catch (err) {
        throw usage(`store:${rest}`, (err as Error).message, { cause: err });
      }
    default:
      throw new OcikitError('E_INTERNAL', `parseWithinTransport: unknown transport ${quote(String(transport))}`);
  }
}

/** The canonical within-transport string of `r` (what follows "TRANSPORT:"). */
export function formatWithinTransport(r: TransportReference): string {
  switch (r.transport) {
    case 'dir':
      return formatDirReference(r);
    case 'oci':
      return formatOciReference(r);
    case 'oci-archive':
      return formatOciArchiveReference(r);
    case 'docker-archive':
      return formatDockerArchiveReference(r);
    case 'docker':
      return formatDockerTransportReference(r);
    case 'docker-daemon':
      return formatDockerDaemonReference(r);
    case 'containers-storage':
      return formatStorageReference(r);
    case 'store':
      return formatStoreName(r);
    default:
      throw new OcikitError('E_INTERNAL', `formatWithinTransport: unknown transport ${quote(String((r as { transport: unknown }).transport))}`);
  }
}

/**
 * Parse a whole image name ("oci:/x:latest", "docker://busybox") into its syntax. Pure: it does not
 * build a source or destination (lib/transports' parseImageName does). Throws E_USAGE.
 */
export function parseImageNameSyntax(s: string): TransportReference {
  const { transport, rest } = splitImageName(s);
  return parseWithinTransport(transport, rest);
}

/** "TRANSPORT:" + formatWithinTransport(r): the canonical image name. */
export function formatImageName(r: TransportReference): string {
  return `${r.transport}:${formatWithinTransport(r)}`;
}
