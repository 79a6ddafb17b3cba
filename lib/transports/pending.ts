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
      // A DockerReference sits in `ref` (docker, docker-daemon, containers-storage) or `name` (docker-archive);
      // oci-archive's `ref` is an OCI ref name, not a docker reference.
      const candidate = 'name' in parsed ? parsed.name : 'ref' in parsed ? parsed.ref : undefined;
      const dockerRef = typeof candidate === 'object' && candidate ? String(candidate) : undefined;
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
