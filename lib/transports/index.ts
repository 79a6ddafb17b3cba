/**
 * The transport registry, with every transport registered. Import parseImageName from here.
 *
 * IMPLEMENTATIONS is the one table of which implementation serves each transport name. It must have
 * exactly one entry per TransportName (lib/reference's table of syntaxes): a transport added there
 * and not here, or a key that is not a transport, fails to compile.
 */
import type { TransportName } from '../reference/index.js';
import { containersStorageTransport } from './containers-storage/transport.js';
import { dirTransport } from './dir/transport.js';
import { dockerArchiveTransport } from './docker-archive/transport.js';
import { dockerDaemonTransport } from './docker-daemon/transport.js';
import { dockerTransport } from './docker/transport.js';
import { ociArchiveTransport } from './oci-archive/transport.js';
import { ociTransport } from './oci/transport.js';
import { registerTransport } from './registry.js';
import { storeTransport } from './store/transport.js';
import type { ImageTransport } from './types.js';

const IMPLEMENTATIONS = {
  dir: dirTransport,
  oci: ociTransport,
  'oci-archive': ociArchiveTransport,
  'docker-archive': dockerArchiveTransport,
  docker: dockerTransport,
  'docker-daemon': dockerDaemonTransport,
  'containers-storage': containersStorageTransport,
  store: storeTransport,
} satisfies Record<TransportName, ImageTransport>;

// registerTransport checks each name against lib/reference's list (and refuses a second registration).
for (const t of Object.values(IMPLEMENTATIONS)) registerTransport(t);

export { parseImageName, getTransport, transportNames, registerTransport } from './registry.js';
export type * from './types.js';
