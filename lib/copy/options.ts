/**
 * What a copy is asked to do and what it reports: the options of copyImage and the hooks the
 * signature code plugs into, and its result. Types only, in a file of their own so that every
 * stage of the pipeline (copy.ts, single.ts, referrers.ts) can name them without importing the
 * module that calls it.
 */
import type { Digest } from '../digest/index.js';
import type { CompressionFormat, ManifestFormat, Platform } from '../manifest/index.js';
import type { WorkerPool } from '../pool/index.js';
import type { StoreHandle } from '../store/index.js';
import type { ImageSource, TransportOptions } from '../transports/types.js';
import type { ProgressEvent } from './progress.js';

export type MultiArch = 'system' | 'all' | 'index-only';

export interface CopyOptions {
  /**
   * The blob store every copy goes through: a LazyStore (opened only when the copy needs it) or an
   * open BlobStore. Both sides' transports are handed this one.
   */
  store: StoreHandle;
  /** What the source side's transport is told (credentials, overrides); the copy adds `store`. */
  sourceCtx?: TransportOptions;
  /** What the destination side's transport is told; the copy adds `store`. */
  destCtx?: TransportOptions;
  /** --format: force the manifest format at the destination. */
  format?: ManifestFormat;
  /** -a / --multi-arch: what to copy from an index. Default 'system'. */
  multiArch?: MultiArch;
  /** --platform (repeatable): copy this subset of an index, as an index. */
  platforms?: Platform[];
  /** --preserve-digests: fail rather than change the manifest digest. */
  preserveDigests?: boolean;
  /** --remove-signatures. */
  removeSignatures?: boolean;
  /** --dest-compress-format / --dest-compress-level, used where layers are (re)compressed. */
  compressFormat?: CompressionFormat;
  compressLevel?: number;
  /** How many blobs at once, at most (further bounded by the transports' properties). Default 6. */
  jobs?: number;
  /**
   * The worker pool for the blob jobs. Without one, copyImage starts a pool (its threads start
   * only when a job needs them) and closes it at the end.
   */
  pool?: WorkerPool;
  onProgress?: (ev: ProgressEvent) => void;
  /**
   * === SIGNATURE HOOKS (lib/signature; see CopyPolicy and ManifestSigner). The trust policy that
   * must accept the source before any blob moves, and the signer of the manifest written at the top.
   */
  policy?: CopyPolicy;
  sign?: ManifestSigner;
  /**
   * --referrers: also carry the OCI 1.1 referrers (signatures, attestations, SBOMs: manifests whose
   * `subject` is an image this copy writes), recursively, as they are (lib/copy/referrers.ts).
   * `true`, or options (which artifact types). Beyond skopeo (containers/skopeo#1994).
   */
  referrers?: boolean | ReferrerOptions;
}

/**
 * The trust-policy hook (lib/signature's PolicyContext implements it). copyImage calls check() once,
 * after stage 1 read the top manifest and BEFORE any blob or manifest reaches the destination, with
 * every single image the copy will take: the top manifest itself, or each chosen instance of an index
 * (the index itself when none is: --multi-arch index-only). check() reads signatures through
 * source.getSignatures(instance) and throws (E_POLICY) to refuse.
 */
export interface CopyPolicy {
  check(source: ImageSource, images: Array<{ digest: Digest; instance?: Digest }>): Promise<void>;
}

/**
 * The signing hook (--sign-by, --sign-by-sigstore-private-key): given the bytes of the top-level
 * manifest exactly as written (an index, or the single image), returns new signature blobs. They are
 * written with the carried ones through dest.putSignatures(all, undefined) BEFORE putManifest/commit.
 */
export type ManifestSigner = (manifest: Buffer) => Promise<Buffer[]>;

export interface CopyResult {
  /** Digest of the manifest written at the destination (the index, for a multi-image copy). */
  manifestDigest: Digest;
  mediaType: string;
  /** Digest of the top-level manifest read from the source (an index, when the copy chose an instance of it). */
  sourceDigest: Digest;
  /**
   * Bytes read from the source: by the blob copies, or at open (an archive spooled from a pipe, an
   * engine's export, whose members the copies then take from the store), whichever is more.
   */
  bytesRead: number;
  /** Bytes handed to the destination. */
  bytesWritten: number;
  blobsReused: number;
  blobsCopied: number;
  seconds: number;
  /** With `referrers`: every referrer copied (its digest, the manifest it refers to, its artifact type). */
  referrers?: Array<{ digest: Digest; subject: Digest; artifactType?: string }>;
}

/** What to carry (CopyOptions.referrers). */
export interface ReferrerOptions {
  /**
   * Only referrers of these artifact types (the referrers-list `artifactType`) of the images
   * themselves; the referrers of a referrer taken (a signature of an SBOM) all come along.
   */
  artifactTypes?: string[];
}
