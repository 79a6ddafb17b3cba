/**
 * The one place transports are registered and image names are parsed. Every transport folder's
 * transport.ts calls registerTransport() once at import time; lib/transports/index.ts imports them all.
 */
import { OcikitError } from '../errors.js';
import type { ImageReference, ImageTransport } from './types.js';

const transports = new Map<string, ImageTransport>();

/** Register a transport; registering a name twice is a bug. */
export function registerTransport(t: ImageTransport): void {
  if (transports.has(t.name)) throw new OcikitError('E_INTERNAL', `transport ${t.name} registered twice`);
  transports.set(t.name, t);
}

export function getTransport(name: string): ImageTransport | undefined {
  return transports.get(name);
}

export function transportNames(): string[] {
  return [...transports.keys()].sort();
}

/**
 * Parse "TRANSPORT:REFERENCE" (containers-transports(5)) into an ImageReference.
 * E_USAGE when the transport is unknown or the name has no transport.
 */
export function parseImageName(name: string): ImageReference {
  const colon = name.indexOf(':');
  if (colon <= 0) {
    throw new OcikitError('E_USAGE', `invalid image name ${JSON.stringify(name)}: expected TRANSPORT:REFERENCE (transports: ${transportNames().join(', ')})`);
  }
  const tname = name.slice(0, colon);
  const t = transports.get(tname);
  if (!t) {
    throw new OcikitError('E_USAGE', `invalid image name ${JSON.stringify(name)}: unknown transport "${tname}" (transports: ${transportNames().join(', ')})`);
  }
  return t.parseReference(name.slice(colon + 1));
}
