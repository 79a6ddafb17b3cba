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
 * RegistryServer serves an open store over the OCI distribution API (what `ocikit serve` runs).
 * examples/ in the repository has small programs using each of these.
 */
import { BlobStore, defaultStoreDir } from './store/index.js';

export { copyImage, writeDigestFile, DEFAULT_BLOB_JOBS } from './copy/index.js';
export type { BlobPhase, CopyOptions, CopyPolicy, CopyResult, LayerDecryption, LayerEncryption, ManifestSigner, MultiArch, ProgressEvent, ReferrerOptions } from './copy/index.js';
export { COMPRESSION_FORMATS } from './manifest/index.js';
export type {
  CompressionFormat,
  Descriptor,
  DockerManifest,
  HistoryEntry,
  ImageConfig,
  ImageRuntimeConfig,
  ManifestFormat,
  OciManifest,
  ParsedDockerManifest,
  ParsedImageManifest,
  ParsedOciManifest,
  Platform,
  PlatformOverrides,
} from './manifest/index.js';
export { PolicyContext, loadPolicy, parsePolicy, signManifestGpg, signManifestSigstore, generateSigstoreKeyPair, loadSigstorePrivateKey, signatureBlobBytes } from './signature/index.js';
export type { IdentityMatch, ImageToCheck, KeySource, Policy, PolicyImageRef, Requirement, SignatureBlob, SignatureSource, SigstoreKeyPair, SimpleSignOptions } from './signature/index.js';
export { parseImageName, transportNames } from './transports/index.js';
export type {
  ImageReference,
  ImageTransport,
  ImageSource,
  ImageSourceProperties,
  ImageDestination,
  ImageDestinationProperties,
  SystemContext,
  TransportOptions,
  RegistryContext,
  DaemonContext,
  WriteOptions,
  OciContext,
  TransportEvents,
  BlobInfo,
  BlobInput,
  BlobLedger,
  BlobLocation,
  BlobPayload,
  BlobReservation,
  DesiredCompression,
  ManifestBlob,
  ReuseOptions,
} from './transports/types.js';
export { openImage, inspectOutput, ociConfigView, referrersOf, type InspectOutput, type OpenedImage, type ReferrerEntry } from './image/index.js';
export { WorkerPool, type PoolOptions } from './pool/index.js';
export type { RegistryOptions } from './registry/index.js';
export { AccessPolicy, Htpasswd, RegistryServer, parseMirrorSpec, type Action, type MirrorSpec, type Principal, type ServeOptions } from './serve/index.js';
export { BlobStore, LazyStore, defaultStoreDir, verify, gc, du, ls, type StoreHandle } from './store/index.js';
export type { BlobInfoCache, Variant, DiskUsage, GcResult, Lease, LinkMethod, PutExpectation, PutInput, RefEntry, RefListing, StagedBlob, StoredBlob, VerifyResult } from './store/index.js';
export { ERROR_CODES, OcikitError, isOcikitError, exitCodeFor, type ErrorCode, type OcikitErrorOptions } from './errors.js';
export type { Digest } from './digest/index.js';

/** Open the blob store at `dir` (default: $OCIKIT_STORE, else $XDG_DATA_HOME/ocikit). */
export function openStore(dir: string = defaultStoreDir()): BlobStore {
  return BlobStore.open(dir);
}
