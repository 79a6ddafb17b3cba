/**
 * The transport registry, with every transport registered. Import parseImageName from here.
 */
import './dir/transport.js';
import './oci/transport.js';
import './oci-archive/transport.js';
import './docker-archive/transport.js';
import './docker/transport.js';
import './docker-daemon/transport.js';
import './containers-storage/transport.js';
import './store/transport.js';

export { parseImageName, getTransport, transportNames, registerTransport } from './registry.js';
export type * from './types.js';
