/**
 * The contracts between the copy pipeline and the transports. The pipeline sees only these
 * interfaces and their declared properties; it never branches on a transport's name.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../digest/index.js';
import type { BlobStore } from '../store/index.js';

/** What the pipeline knows of a blob: from a manifest descriptor, or learned by the store. */
export interface BlobInfo {
  digest: Digest;
  /** Size in bytes; -1 when unknown. */
  size: number;
  mediaType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
}

/** Shared options for every transport operation (credentials, overrides, the store, cancellation). */
export interface SystemContext {
  /** The blob store every copy goes through. */
  store?: BlobStore;
  /**
   * For callers that open the store only on demand (inspect --raw): a transport that needs a
   * store and has no `store` opens it through this. The caller closes it.
   */
  openStore?: () => BlobStore;
  /** Platform overrides (--override-os / --override-arch / --override-variant). */
  overrideOS?: string;
  overrideArch?: string;
  overrideVariant?: string;
  /** For dir: destinations: compress (--dest-compress) or decompress (--dest-decompress) layers. */
  dirForceCompress?: boolean;
  dirForceDecompress?: boolean;
  /** Registry / daemon options, for the transports that use them. */
  tlsVerify?: boolean;
  certDir?: string;
  authFile?: string;
  credentials?: { username: string; password: string };
  registryToken?: string;
  noCreds?: boolean;
  daemonHost?: string;
  /** Tags to add to docker-archive destinations (--additional-tag). */
  additionalTags?: string[];
  retryTimes?: number;
  retryDelayMs?: number;
  /** docker://: upload blobs in chunks of this many bytes (PATCH) instead of one PUT. */
  uploadChunkSize?: number;
  /** docker://: how long a registry may take to start an answer, or let a body stall, before the request fails (ms). */
  registryTimeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Status lines from a daemon or helper program a transport drives ("Loaded image: x:1" from
   * docker load), one line each, for the CLI to print on stderr with the progress. Optional;
   * never an error (errors are thrown).
   */
  onStatus?: (line: string) => void;
}

/** A transport: a name and a parser of its reference syntax. Registered once in lib/transports. */
export interface ImageTransport {
  readonly name: string;
  /** Parse the part after "name:"; throws E_USAGE / E_BAD_INPUT on bad syntax. */
  parseReference(withinTransport: string): ImageReference;
}

/** A parsed reference to an image (or a place an image can be written) in one transport. */
export interface ImageReference {
  readonly transport: ImageTransport;
  /** The canonical within-transport string; `transport.parseReference(ref.withinTransport)` round-trips. */
  readonly withinTransport: string;
  /** The docker reference (name:tag) this image is known by, when the transport has one. */
  readonly dockerReference?: string;
  /** A stable string for logs, messages and store ref names: "oci:/abs/path:tag". */
  toString(): string;
  newSource(ctx: SystemContext): Promise<ImageSource>;
  newDestination(ctx: SystemContext): Promise<ImageDestination>;
  /** Delete the image, for transports that can. */
  delete?(ctx: SystemContext): Promise<void>;
  /** Remove only this reference's tag and keep the image, for transports that can (delete --untag). */
  untag?(ctx: SystemContext): Promise<void>;
  /** List tags/names, for transports that have them (list-tags). */
  listTags?(ctx: SystemContext): Promise<string[]>;
}

/** The raw bytes of a manifest and the media type its holder declared (may be '' when unknown). */
export interface ManifestBlob {
  bytes: Buffer;
  mediaType: string;
}

/** How a source hands over a blob: a file path (linkable, hashable by workers) or a stream. */
export type BlobPayload =
  | { kind: 'path'; path: string; size: number }
  | { kind: 'stream'; stream: Readable; size: number };

export interface ImageSourceProperties {
  /** How many getBlob calls may run at once. 1 means strictly one at a time. */
  concurrentGetBlob: number;
}

/**
 * Reads one image (or one index and its instances).
 *
 * WARNING: sources are untrusted. The pipeline verifies every byte taken from a source against the
 * expected digest and size; a source MAY verify too but MUST NOT be relied on to.
 */
export interface ImageSource {
  readonly reference: ImageReference;
  readonly properties: ImageSourceProperties;
  /**
   * The top-level manifest (instance undefined) or the instance with that digest.
   * Manifests larger than MAX_MANIFEST_SIZE MUST be refused with E_MANIFEST_TOO_BIG without reading them whole.
   */
  getManifest(instance?: Digest): Promise<ManifestBlob>;
  /** A blob by digest. Missing blob: E_NOT_FOUND. A path payload MUST stay unchanged until close(). */
  getBlob(info: BlobInfo): Promise<BlobPayload>;
  /** Signatures stored with the image (dir: signature-N files), if any. */
  getSignatures?(instance?: Digest): Promise<Buffer[]>;
  close(): Promise<void>;
}

export type DesiredCompression = 'preserve' | 'compress' | 'decompress';

export interface ImageDestinationProperties {
  /** Manifest media types this destination accepts, best first. */
  supportedManifestTypes: string[];
  /** Whether the destination wants layers compressed, decompressed, or as they come. */
  desiredCompression: DesiredCompression;
  /** How many putBlob calls may run at once. */
  concurrentPutBlob: number;
  /** Whether the destination can hold an index/list with several instances. */
  supportsIndex: boolean;
  /** Whether layers with foreign (non-distributable) media types may be written as they are. */
  acceptsForeignLayers: boolean;
}

/** What putBlob is given: a path (ideally the store's file, so it can be linked) or a stream. */
export type BlobInput = { kind: 'path'; path: string } | { kind: 'stream'; stream: Readable };

/**
 * Writes one image (or an index and its instances).
 *
 * Contract: nothing is visible at the destination before commit(). close() without commit()
 * MUST leave the destination as it was before newDestination().
 */
export interface ImageDestination {
  readonly reference: ImageReference;
  readonly properties: ImageDestinationProperties;
  /**
   * Whether the destination already has this blob; if so, returns its info (possibly with the
   * size filled in). MUST NOT throw for "absent": return undefined.
   */
  tryReusingBlob(info: BlobInfo): Promise<BlobInfo | undefined>;
  /**
   * Store a blob. `info.digest` and `info.size` are verified by the caller when the input is a store path.
   * putBlob MUST fail and discard any data stored so far if the input errors or does not match info.
   */
  putBlob(input: BlobInput, info: BlobInfo): Promise<BlobInfo>;
  /** Store a manifest: the top-level one (instance undefined) or an index instance. */
  putManifest(manifest: ManifestBlob, instance?: Digest): Promise<void>;
  putSignatures?(signatures: Buffer[], instance?: Digest): Promise<void>;
  /** Make everything written visible, atomically where the transport allows. */
  commit(): Promise<void>;
  /** Release resources; without a prior commit(), discard everything written. */
  close(): Promise<void>;
}
