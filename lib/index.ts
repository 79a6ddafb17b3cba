/**
 * ocikit's public API: copy and inspect images between transports, through the blob store.
 *
 * ```ts
 * import { copyImage, parseImageName, LazyStore } from 'ocikit';
 * const store = new LazyStore(); // $OCIKIT_STORE, else $XDG_DATA_HOME/ocikit; opened only if the copy needs it
 * try {
 *   await copyImage(parseImageName('oci:/tmp/x:latest'), parseImageName('docker://registry.example/app:1'), {
 *     store,
 *     destCtx: { registry: { credentials: { username: 'me', password: 'secret' } } },
 *   });
 * } finally {
 *   store.close();
 * }
 * ```
 *
 * What a transport is told comes in sections (TransportOptions: platform, registry, daemon, write,
 * events); the store is a handle (StoreHandle): a LazyStore, or an open BlobStore (openStore()).
 */
import { BlobStore, defaultStoreDir } from './store/index.js';

export { copyImage, writeDigestFile } from './copy/index.js';
export type { CopyOptions, CopyPolicy, CopyResult, ManifestSigner, MultiArch, ProgressEvent, ReferrerOptions } from './copy/index.js';
export type { CompressionFormat } from './manifest/index.js';
export { PolicyContext, loadPolicy, parsePolicy, signManifestGpg, signManifestSigstore, generateSigstoreKeyPair, loadSigstorePrivateKey, signatureBlobBytes } from './signature/index.js';
export { parseImageName, transportNames } from './transports/index.js';
export type { ImageReference, ImageSource, ImageDestination, SystemContext, TransportOptions, RegistryContext, DaemonContext, WriteOptions, TransportEvents, BlobInfo } from './transports/types.js';
export { openImage, inspectOutput, ociConfigView, referrersOf, type ReferrerEntry } from './image/index.js';
export { BlobStore, LazyStore, defaultStoreDir, verify, gc, du, ls, type StoreHandle } from './store/index.js';
export { OcikitError, isOcikitError, exitCodeFor, type ErrorCode } from './errors.js';
export type { Digest } from './digest/index.js';

/** Open the blob store at `dir` (default: $OCIKIT_STORE, else $XDG_DATA_HOME/ocikit). */
export function openStore(dir: string = defaultStoreDir()): BlobStore {
  return BlobStore.open(dir);
}
