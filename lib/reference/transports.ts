/**
 * The one table of transports: each name ocikit knows and the syntax of what follows it
 * ("TRANSPORT:REFERENCE", containers-transports(5)). Everything else about the list is derived from
 * this table — the names (KNOWN_TRANSPORTS, TransportName), the parsed-name union
 * (TransportReference) and the dispatch of parseWithinTransport / formatWithinTransport — so adding a
 * transport is one row here and one file in syntax/, and nothing can be forgotten: a name without a
 * syntax cannot be written, and lib/transports' table of implementations is checked against
 * TransportName by the compiler.
 *
 * Pure string work, like every syntax: nothing here touches the filesystem, a daemon or a store.
 * Syntax errors are E_USAGE and quote the whole image name.
 */
import { resolve as resolvePath, isAbsolute } from 'node:path';
import { OcikitError } from '../errors.js';
import { quote } from './docker.js';
import type { TransportSyntax } from './syntax/common.js';
import { containersStorageSyntax } from './syntax/containers-storage.js';
import { dirSyntax } from './syntax/dir.js';
import { dockerArchiveSyntax } from './syntax/docker-archive.js';
import { dockerDaemonSyntax } from './syntax/docker-daemon.js';
import { dockerSyntax } from './syntax/docker.js';
import { ociArchiveSyntax } from './syntax/oci-archive.js';
import { ociSyntax } from './syntax/oci.js';
import { storeSyntax } from './syntax/store.js';

/** Every transport and its syntax, in the order help texts list them. */
const SYNTAXES = {
  dir: dirSyntax,
  oci: ociSyntax,
  'oci-archive': ociArchiveSyntax,
  'docker-archive': dockerArchiveSyntax,
  docker: dockerSyntax,
  'docker-daemon': dockerDaemonSyntax,
  'containers-storage': containersStorageSyntax,
  store: storeSyntax,
} as const satisfies Readonly<Record<string, TransportSyntax<unknown>>>;

/** A transport ocikit knows: a key of the table. */
export type TransportName = keyof typeof SYNTAXES;

/** What `TRANSPORT:…` parses to, for one transport. */
type ParsedBy<K extends TransportName> = ReturnType<(typeof SYNTAXES)[K]['parse']>;

/** A parsed image name of any transport, discriminated by `transport`. */
export type TransportReference = { [K in TransportName]: { transport: K } & ParsedBy<K> }[TransportName];

/** Every transport ocikit knows, in the order help texts list them (the table's order). */
export const KNOWN_TRANSPORTS: readonly TransportName[] = Object.freeze(Object.keys(SYNTAXES) as TransportName[]);

/** Other names accepted for a transport. containers-transports(5): "registry:" is "docker:", and parses as docker. */
export const TRANSPORT_ALIASES: Readonly<Record<string, TransportName>> = Object.freeze({ registry: 'docker' });

/** True when `name` is one of KNOWN_TRANSPORTS (aliases are not). */
export function isKnownTransport(name: string): name is TransportName {
  return KNOWN_TRANSPORTS.includes(name as TransportName);
}

/** The syntax of a known transport; E_INTERNAL for anything else (a caller passed an unchecked name). */
function syntaxOf(transport: TransportName, caller: string): TransportSyntax<unknown> {
  if (!isKnownTransport(transport)) throw new OcikitError('E_INTERNAL', `${caller}: unknown transport ${quote(String(transport))}`);
  return SYNTAXES[transport];
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
  // An own property only: "constructor:x" must not find Object's constructor as an alias.
  const transport = isKnownTransport(name) ? name : Object.hasOwn(TRANSPORT_ALIASES, name) ? TRANSPORT_ALIASES[name] : undefined;
  if (transport === undefined) {
    throw new OcikitError('E_USAGE', `invalid image name ${quote(s)}: unknown transport ${quote(name)}; expected TRANSPORT:REFERENCE (${known})`);
  }
  return { transport, rest: s.slice(colon + 1) };
}

/** Parse the part after "TRANSPORT:" with that transport's syntax. Throws E_USAGE as the parser does. */
export function parseWithinTransport(transport: TransportName, rest: string): TransportReference {
  const parsed = syntaxOf(transport, 'parseWithinTransport').parse(rest) as object;
  return { transport, ...parsed } as TransportReference;
}

/** The canonical within-transport string of `r` (what follows "TRANSPORT:"). */
export function formatWithinTransport(r: TransportReference): string {
  return syntaxOf(r.transport, 'formatWithinTransport').format(r);
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

// ---------------------------------------------------------------------------------------------
// Paths

/**
 * `p` made absolute against `cwd`, normalised ("a/../b" → "b"). Transports call this when they open
 * the path; the parsers keep the literal text so messages show what the user typed.
 * `cwd` MUST be absolute (pass process.cwd()); a relative one is a bug and throws E_INTERNAL.
 */
export function absolutePath(p: string, cwd: string): string {
  if (!isAbsolute(cwd)) throw new OcikitError('E_INTERNAL', `absolutePath: cwd ${quote(cwd)} is not absolute`);
  return resolvePath(cwd, p);
}
