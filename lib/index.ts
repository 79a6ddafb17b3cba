/**
 * ocikit's public API: copy and inspect images between transports, through the blob store.
 *
 * ```ts
 * import { copyImage, parseImageName, openStore } from 'ocikit';
 * const store = openStore();
 * await copyImage(parseImageName('oci:/tmp/x:latest'), parseImageName('dir:/tmp/y'), { store, format: 'v2s2' });
 * store.close();
 * ```
 */
import { BlobStore, defaultStoreDir } from './store/index.js';

export { copyImage, writeDigestFile } from './copy/index.js';
export type { CopyOptions, CopyPolicy, CopyResult, ManifestSigner, MultiArch, ProgressEvent, ReferrerOptions } from './copy/index.js';
export type { CompressionFormat } from './manifest/index.js';
export { PolicyContext, loadPolicy, parsePolicy, signManifestGpg, signManifestSigstore, generateSigstoreKeyPair, loadSigstorePrivateKey, signatureBlobBytes } from './signature/index.js';
export { parseImageName, transportNames } from './transports/index.js';
export type { ImageReference, ImageSource, ImageDestination, SystemContext, BlobInfo } from './transports/types.js';
export { openImage, inspectOutput, ociConfigView, referrersOf, type ReferrerEntry } from './image/index.js';
export { BlobStore, LazyStore, defaultStoreDir, verify, gc, du, ls, type StoreHandle } from './store/index.js';
export { OcikitError, isOcikitError, exitCodeFor, type ErrorCode } from './errors.js';
export type { Digest } from './digest/index.js';

/** Open the blob store at `dir` (default: $OCIKIT_STORE, else $XDG_DATA_HOME/ocikit). */
export function openStore(dir: string = defaultStoreDir()): BlobStore {
  return BlobStore.open(dir);
}
