/**
 * Transports whose syntax ocikit parses but whose reading and writing is not built yet. They answer
 * every operation with E_UNSUPPORTED ('transport "X" is not supported yet'), never a crash.
 */
import { OcikitError } from '../errors.js';
import { formatWithinTransport, parseWithinTransport, type TransportName, type TransportReference } from '../reference/index.js';
import type { ImageDestination, ImageReference, ImageSource, ImageTransport } from './types.js';

function unsupported(name: string): OcikitError {
  return new OcikitError('E_UNSUPPORTED', `transport "${name}" is not supported yet`);
}

/** A transport that validates its reference syntax and refuses to read or write. */
export function pendingTransport(name: TransportName): ImageTransport {
  const transport: ImageTransport = {
    name,
    parseReference(within: string): ImageReference {
      const parsed: TransportReference = parseWithinTransport(name, within);
      const canonical = formatWithinTransport(parsed);
      const dockerRef = 'ref' in parsed && parsed.ref ? String(parsed.ref) : 'name' in parsed && parsed.name ? String(parsed.name) : undefined;
      return {
        transport,
        withinTransport: canonical,
        ...(dockerRef ? { dockerReference: dockerRef } : {}),
        toString: () => `${name}:${canonical}`,
        newSource: async (): Promise<ImageSource> => {
          throw unsupported(name);
        },
        newDestination: async (): Promise<ImageDestination> => {
          throw unsupported(name);
        },
      };
    },
  };
  return transport;
}
