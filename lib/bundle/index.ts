/** Incremental bundles: OCI image layouts in a tar, without the blobs the receiver has. See README.md. */
export { applyBundle, type ApplyOptions, type ApplyResult } from './apply.js';
export { bundleName, createBundle, REF_NAME, type BundleImage, type BundleResult, type CreateBundleOptions } from './create.js';
export { INVENTORY_VERSION, makeInventory, readInventory, type Inventory } from './inventory.js';
