/**
 * The transport registry, with every transport registered. Import parseImageName from here.
 */
import { registerTransport } from './registry.js';
import { pendingTransport } from './pending.js';
import './dir/transport.js';
import './oci/transport.js';
import './oci-archive/transport.js';
import './docker-archive/transport.js';
import './docker/transport.js';
import './store/transport.js';

// Parsed, not yet readable or writable: each answers E_UNSUPPORTED until its folder lands.
for (const name of ['docker-daemon', 'containers-storage'] as const) {
  registerTransport(pendingTransport(name));
}

export { parseImageName, getTransport, transportNames, registerTransport } from './registry.js';
export type * from './types.js';
