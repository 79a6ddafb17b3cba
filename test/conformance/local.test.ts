/** The conformance suite against the local directory transports. */
import { conformanceSuite } from './suite.js';

conformanceSuite('dir', { imageName: (d) => `dir:${d}`, formats: ['oci', 'v2s2'], supportsIndex: true });
conformanceSuite('oci', { imageName: (d) => `oci:${d}:latest`, formats: ['oci'], supportsIndex: true });
