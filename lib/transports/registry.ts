/**
 * The one place transport implementations are registered and image names are parsed.
 *
 * The list of transports ocikit knows, and their aliases ("registry:" for "docker:"), is declared
 * once, in lib/reference's table of syntaxes (KNOWN_TRANSPORTS, TRANSPORT_ALIASES); splitImageName
 * reads it. This map only says which implementation serves each of those names, so the parser and
 * the lookup cannot disagree: a name the parser accepts always finds its transport here, and a
 * transport can only be registered under a name the parser knows. lib/transports/index.ts registers
 * every transport from its table of implementations, which the compiler checks against
 * TransportName (one entry per name, no other).
 */
import { OcikitError } from '../errors.js';
import { KNOWN_TRANSPORTS, TRANSPORT_ALIASES, isKnownTransport, splitImageName, type TransportName } from '../reference/index.js';
import type { ImageReference, ImageTransport } from './types.js';

const transports = new Map<TransportName, ImageTransport>();

/** Register a transport. Registering a name twice, or one lib/reference does not list, is a bug (E_INTERNAL). */
export function registerTransport(t: ImageTransport): void {
  if (!isKnownTransport(t.name)) {
    throw new OcikitError('E_INTERNAL', `transport ${t.name} is not in KNOWN_TRANSPORTS (lib/reference/transports.ts): add it there first`);
  }
  if (transports.has(t.name)) throw new OcikitError('E_INTERNAL', `transport ${t.name} registered twice`);
  transports.set(t.name, t);
}

/** The transport registered under `name` or under the transport an alias names ("registry" → docker). */
export function getTransport(name: string): ImageTransport | undefined {
  const canonical = isKnownTransport(name) ? name : Object.hasOwn(TRANSPORT_ALIASES, name) ? TRANSPORT_ALIASES[name] : undefined;
  return canonical === undefined ? undefined : transports.get(canonical);
}

/** The registered transports' names, in the order of KNOWN_TRANSPORTS (help texts list them so). */
export function transportNames(): string[] {
  return KNOWN_TRANSPORTS.filter((n) => transports.has(n));
}

/**
 * Parse "TRANSPORT:REFERENCE" (containers-transports(5)) into an ImageReference; aliases are
 * accepted. E_USAGE when the name has no transport or an unknown one (splitImageName's message).
 */
export function parseImageName(name: string): ImageReference {
  const { transport, rest } = splitImageName(name);
  const t = transports.get(transport);
  // Only when lib/transports/registry.ts is imported without lib/transports/index.ts.
  if (!t) throw new OcikitError('E_INTERNAL', `transport ${transport} is known but not registered (import lib/transports/index.js)`);
  return t.parseReference(rest);
}
