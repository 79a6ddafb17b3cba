/** The content-addressed blob store, its SQLite index and the blob-info cache. See README.md. */
export { BlobStore, type Lease, type StoreHandle, type PutExpectation, type PutInput, type RefEntry, type StagedBlob, type StoredBlob } from './blob-store.js';
export { BlobInfoCache, type Variant } from './info-cache.js';
export { INDEX_FILE } from './index-db.js';
export { linkOrCopy, type LinkMethod } from './link.js';
export { defaultStoreDir } from './location.js';
export { du, gc, ls, manifestChildren, reachableBlobs, verify, type DiskUsage, type GcResult, type RefListing, type VerifyResult } from './maintenance.js';
export { LazyStore, LeasedStore } from './handle.js';
