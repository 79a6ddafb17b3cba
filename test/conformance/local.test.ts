/** The conformance suite against the local transports: directories, layouts and the blob store. */
import { basename } from 'node:path';
import { STORE_REF_PREFIX, parseStoreName, storeRefName } from '../../lib/transports/store/names.js';
import { conformanceSuite } from './suite.js';

conformanceSuite('dir', { imageName: (d) => `dir:${d}`, formats: ['oci', 'v2s2'], supportsIndex: true });
conformanceSuite('oci', { imageName: (d) => `oci:${d}:latest`, formats: ['oci'], supportsIndex: true });
// The store transport writes into the store the suite copies through: an image is there when its name is a ref.
conformanceSuite('store', {
  imageName: (d) => `store:conformance/${basename(d)}:latest`,
  formats: ['oci', 'v2s2'],
  supportsIndex: true,
  exists: (name, _target, store) => store.getRef(storeRefName(parseStoreName(name.slice(STORE_REF_PREFIX.length)))) !== undefined,
});
