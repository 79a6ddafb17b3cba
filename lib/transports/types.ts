/**
 * The contracts between the copy pipeline and the transports. The pipeline sees only these
 * interfaces and their declared properties; it never branches on a transport's name.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../digest/index.js';
import type { CompressionFormat, Descriptor, PlatformOverrides } from '../manifest/index.js';
import type { RegistryOptions } from '../registry/index.js';
import type { WorkerPool } from '../pool/index.js';
import type { StoreHandle } from '../store/index.js';

/** What the pipeline knows of a blob: from a manifest descriptor, or learned by the store. */
export interface BlobInfo {
  digest: Digest;
  /** Size in bytes; -1 when unknown. */
  size: number;
  mediaType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
}

/**
 * Where blobs can be found, in the terms of the store's location cache (BlobInfoCache.locations):
 * a transport's name and a scope within it ("registry.example/org/repo" for docker).
 */
export interface BlobLocation {
  transport: string;
  scope: string;
}

/**
 * What a caller tells the transports besides the store, one section per concern. A transport reads
 * the sections it has a use for and hands a section on whole (the registry section goes to the
 * registry client as it is), so an option is added in one place, not copied field by field. The
 * copy pipeline takes one per side (CopyOptions.sourceCtx, destCtx) and adds its store.
 */
export interface TransportOptions {
  /** Which image of an index is this system's (--override-os / --override-arch / --override-variant). */
  platform?: PlatformOverrides;
  /** docker://: how to reach, trust and sign in to a registry. */
  registry?: RegistryContext;
  /** docker-daemon:: which Docker Engine, and how to trust it. */
  daemon?: DaemonContext;
  /** How a destination writes, and what a source may do early for the copy. */
  write?: WriteOptions;
  /** oci:: where a layout keeps its blobs, and what a layout destination accepts. */
  oci?: OciContext;
  /** What the caller hears while the operation runs, and how it stops it. */
  events?: TransportEvents;
}

/**
 * The registry section: lib/registry's RegistryOptions as they are (credentials, --tls-verify,
 * --cert-dir, auth file, retries, timeout, User-Agent prefix, flag prefix for hints, and
 * `registriesConf`, the registries.conf to read instead of the default files, --registries-conf),
 * which the docker transport hands to the registry client whole with `events.signal` and
 * `events.debug`; and what only the docker transport itself reads.
 */
export interface RegistryContext extends Omit<RegistryOptions, 'signal' | 'debug'> {
  /** Upload blobs in chunks of this many bytes (PATCH) instead of one PUT (--dest-chunk-size). */
  uploadChunkSize?: number;
  /** The registries.d directory that says where signatures live (--registries.d); default as containers-registries.d(5). */
  registriesDir?: string;
}

/** The daemon section: which Docker Engine (docker-daemon:), and for a tcp:// one its TLS. */
export interface DaemonContext {
  /** unix:///PATH or tcp://HOST:PORT (--daemon-host); default $DOCKER_HOST, else the local socket. */
  host?: string;
  /** CA and client certificate of a tcp:// daemon (--cert-dir): turns TLS on, verified. */
  certDir?: string;
  /** false: do not verify a tcp:// daemon's certificate (--tls-verify=false). */
  tlsVerify?: boolean;
}

/** The oci section: the options of oci: layouts (skopeo's --src-/--dest-shared-blob-dir, --dest-oci-accept-uncompressed-layers). */
export interface OciContext {
  /**
   * Keep blobs (layers, configs, manifests) in this directory, as `<alg>/<hex>`, instead of the
   * layout's blobs/ (containers/image's OCISharedBlobDirPath); index.json stays in the layout.
   */
  sharedBlobDir?: string;
  /** A destination keeps uncompressed layers uncompressed instead of compressing them. */
  acceptUncompressedLayers?: boolean;
}

/** The write section: how a destination writes, and what a source may do early for the copy. */
export interface WriteOptions {
  /**
   * For the file destinations that keep layers as they come or compress them (dir:, oci:,
   * oci-archive:): compress (--dest-compress) or decompress (--dest-decompress) every layer.
   */
  destCompression?: 'compress' | 'decompress';
  /** Tags to add to docker-archive destinations (--additional-tag). */
  additionalTags?: string[];
  /**
   * --no-sync: skip the fsyncs that make a committed destination (and the store) survive a power
   * loss. Faster; after a crash, what was written may be empty or partial files.
   */
  noSync?: boolean;
  /**
   * Set by the copy pipeline on the SOURCE's context, from the destination's declared wish and the
   * user's flags (plan.ts plainLayerPlan), when this copy will compress every uncompressed layer as
   * `format` at `level` (`exact`: the user named the level, and no other will do). It says early
   * what the copy will do anyway, for a source that reads its layers in one pass when it opens (an
   * engine's export) and so can do it as they arrive instead of writing the plain bytes down first.
   * A source MAY ignore it; one that uses it MUST do one of:
   * - compress a plain layer with `pool` (ocikit's own blob job, which hashes the plain bytes and
   *   the result as it writes it), put the result in the store and record it as that variant
   *   (store.cache.recordVariant(plainDigest, format, level, compressedDigest)) under the plain
   *   digest the job computed; its manifest keeps naming the plain layer. The pipeline then finds
   *   the variant as it finds any cached result; a layer whose bytes were not what the manifest
   *   says has no variant under that digest and is fetched and verified as usual. getBlob MUST
   *   still serve the plain layer (decompressing the variant when it kept nothing else);
   * - or have its layers exported already compressed (by the engine itself) and describe them so:
   *   its manifest then names those blobs, every digest the digest of the bytes getBlob serves,
   *   with the config's diff IDs unchanged — a truthful manifest of a compressed image.
   */
  compressLayers?: { format: CompressionFormat; level: number; exact: boolean; pool: WorkerPool };
  /**
   * What the copies of one operation (every image of a sync) learn together about the blobs their
   * destinations hold (blob-ledger.ts makes one). A destination given none keeps its own.
   */
  blobLedger?: BlobLedger;
}

/** The events section: what the caller hears while the operation runs, and how it stops it. */
export interface TransportEvents {
  /** Cancels the operation (the CLI's --command-timeout aborts it). */
  signal?: AbortSignal;
  /**
   * Called with byte counts as a source reads what it must read before any blob is asked for (an
   * archive from a pipe or compressed, read once into the store at open), so progress moves then too.
   */
  onRead?: (bytes: number) => void;
  /**
   * Status lines from a daemon or helper program a transport drives ("Loaded image: x:1" from
   * docker load), one line each, for the CLI to print on stderr with the progress. Optional;
   * never an error (errors are thrown).
   */
  onStatus?: (line: string) => void;
  /**
   * --debug: one line for each registry request (method, URL, status, time, retry) and each
   * decision a transport or the copy makes (a blob reused, mounted, compressed; a mirror chosen).
   * Never called with a credential in the line.
   */
  debug?: (line: string) => void;
}

/**
 * Everything a transport operation is given: the caller's options and the blob store.
 */
export interface SystemContext extends TransportOptions {
  /**
   * The blob store, ALWAYS: a handle that opens it on first use (lib/store/handle.ts). A transport
   * that needs the store (an archive spooled from a pipe, an engine's export, store:) calls
   * `store.get()`; one that does not never opens it, so a command that needs no store creates no
   * directory and loads no SQLite. The holder never closes it: its owner does.
   */
  store: StoreHandle;
}

/**
 * Which blobs a destination scope (a registry repository) is known to hold, shared by the copies of
 * one operation, so that a blob many images share is checked, mounted or uploaded once per scope.
 * A destination asks `claim` before it asks the registry:
 * - undefined: nobody asked yet; the caller now OWNS the question and MUST `settle` it: present
 *   when it found or wrote the blob, absent when it gave up. At the latest when it closes, and
 *   never while waiting on another claim (that is what keeps claims free of deadlocks);
 * - a promise: another destination found out or is finding out; true: the blob is there; false: it
 *   gave up, and the caller claims again.
 * ADVISORY like every cache: it lives for one operation, and a registry that loses a blob meanwhile
 * fails the manifest's PUT.
 */
export interface BlobLedger {
  claim(scope: string, digest: Digest): Promise<boolean> | undefined;
  settle(scope: string, digest: Digest, present: boolean): void;
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
  /**
   * The digest of the top-level manifest this reference names, found cheaply (one HEAD for a
   * registry; index.json or manifest.json on disk), or undefined when there is no such image (or,
   * on disk, when a blob it needs is missing). For transports that can; sync uses it to skip images
   * already at the destination. ADVISORY: a source's answer is not verified here; copies verify.
   */
  manifestDigest?(ctx: SystemContext): Promise<Digest | undefined>;
  /** List tags/names, for transports that have them (list-tags). */
  listTags?(ctx: SystemContext): Promise<string[]>;
}

/** The raw bytes of a manifest and the media type its holder declared (may be '' when unknown). */
export interface ManifestBlob {
  bytes: Buffer;
  mediaType: string;
}

/**
 * How a source hands over a blob: a file (the whole file, or `size` bytes from `offset` when the
 * blob is a member of an uncompressed archive), which workers read and hash themselves and the
 * store may link; or a stream, for bytes that exist only as they arrive.
 */
export type BlobPayload =
  | {
      kind: 'path';
      path: string;
      size: number;
      /** The blob starts here in the file (an archive member); absent: the whole file is the blob. */
      offset?: number;
      /** An open descriptor for `path`, valid until the source is closed: read through it, not the path (the path may be replaced). */
      fd?: number;
    }
  | { kind: 'stream'; stream: Readable; size: number };

export interface ImageSourceProperties {
  /** How many getBlob calls may run at once. 1 means strictly one at a time. */
  concurrentGetBlob: number;
  /**
   * Where the blobs' bytes come from, as progress events tell it (ProgressEvent 'blob-done' `how`):
   * 'fetched' when another program or host sends them (a registry, a Docker daemon, podman), 'read'
   * when they are files on this machine (a layout, a directory, an archive, the store).
   */
  blobsAre: 'fetched' | 'read';
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
  /**
   * Optional: where this source's blobs live, as the store's location cache names places. The
   * pipeline hands it to the destination's tryReusingBlob as a candidate for blobs it copies as they
   * are, so a destination that can take a blob from there without moving its bytes (a registry
   * mounting from another repository of itself) does. ADVISORY, as every location is: the
   * destination decides whether it can use it, and a registry links only a blob it holds under
   * that digest.
   */
  readonly blobLocation?: BlobLocation;
  /**
   * Optional: the pipeline verified a blob this source served (its digest and size matched). A
   * source may record what that proves (a registry: where the blob lives) — only here, never
   * earlier: what was merely sent is not yet known to be what was asked for.
   */
  onVerified?(info: BlobInfo): void;
  /** Signatures stored with the image (dir: signature-N files), if any. */
  getSignatures?(instance?: Digest): Promise<Buffer[]>;
  /**
   * Optional, for transports that can hold OCI 1.1 referrers: the referrers-list entries of the
   * manifests whose `subject` is `subject` (media type, digest, size, artifactType, annotations).
   * `artifactTypes` is a wish a source MAY ignore (a registry that does not filter): the caller
   * filters again. WARNING: the list is untrusted like everything else a source says; the pipeline
   * reads each referrer through getManifest(digest), verifies it, and checks that its `subject`
   * really is `subject`.
   */
  listReferrers?(subject: Digest, artifactTypes?: string[]): Promise<Descriptor[]>;
  close(): Promise<void>;
}

export type DesiredCompression = 'preserve' | 'compress' | 'decompress';

export interface ImageDestinationProperties {
  /** Manifest media types this destination accepts, best first. */
  supportedManifestTypes: string[];
  /**
   * Manifest types it can also hold but never chooses for a conversion: they are written only when
   * asked for (--format) or kept as they come (--preserve-digests). An OCI layout may hold a Docker
   * v2s2 manifest, and skopeo writes one there in those two cases.
   */
  alsoHolds?: string[];
  /** Whether the destination wants layers compressed, decompressed, or as they come. */
  desiredCompression: DesiredCompression;
  /** How many putBlob calls may run at once. */
  concurrentPutBlob: number;
  /** Whether the destination can hold an index/list with several instances. */
  supportsIndex: boolean;
  /** Whether layers with foreign (non-distributable) media types may be written as they are. */
  acceptsForeignLayers: boolean;
  /**
   * Whether putBlob reads every byte of a path input anyway (an upload) and checks it against
   * `BlobInput.verify` in that same pass. The pipeline then hands it a source file that nobody has
   * hashed yet, instead of hashing it first and reading it twice.
   */
  verifiesWhileWriting: boolean;
}

/**
 * Room made in a destination for one blob, for a worker to write in the same pass that reads and
 * verifies it (an archive member: `size` bytes at `offset` of `path`, its header already written).
 */
export interface BlobReservation {
  readonly path: string;
  readonly offset: number;
  readonly size: number;
  /** The bytes are in place and verified: the blob now belongs to the destination (still invisible until commit). */
  done(): Promise<void>;
  /** Writing failed: the reserved room MUST NOT become part of what commit() makes visible. */
  abandon(): Promise<void>;
}

/** What the pipeline tells tryReusingBlob besides the blob. */
export interface ReuseOptions {
  /** The source's ImageSource.blobLocation, given only for a blob copied as it is (same digest). */
  sourceLocation?: BlobLocation;
}

/**
 * What putBlob is given: a path (normally the store's verified file, so it can be linked) or a
 * stream. A path with `verify` is NOT yet verified: the destination MUST check the bytes it reads
 * against it and fail (keeping nothing) when they differ; only destinations that declare
 * `verifiesWhileWriting` are given one. A stream with `checkedByCaller`: the pipeline checks these
 * very bytes itself, in the same pass (a relay keeps them in the store through a verifying job),
 * and fails the copy before commit() when they differ; the destination need not hash them again,
 * but MUST still fail when the stream errors or ends at another size than `info.size`.
 */
export type BlobInput = { kind: 'path'; path: string; verify?: { digest: Digest; size: number } } | { kind: 'stream'; stream: Readable; checkedByCaller?: boolean };

/**
 * Writes one image (or an index and its instances).
 *
 * Contract: nothing is visible at the destination before commit(). close() without commit()
 * MUST leave the destination as it was before newDestination(). A destination never fails with
 * E_NOT_FOUND (exit code 2 means "image not found", which only a source can be): every
 * transport's newDestination goes through guardDestination (write-errors.ts), which makes it so.
 */
export interface ImageDestination {
  readonly reference: ImageReference;
  readonly properties: ImageDestinationProperties;
  /**
   * Whether the destination already has this blob, or can get it without its bytes passing
   * through the pipeline (a registry mounting it from another repository of itself: the source's
   * location in `opts`, or one the store's location cache names); if so, returns its info
   * (possibly with the size filled in). MUST NOT throw for "absent": return undefined.
   */
  tryReusingBlob(info: BlobInfo, opts?: ReuseOptions): Promise<BlobInfo | undefined>;
  /**
   * Store a blob. `info.digest` and `info.size` are verified by the caller when the input is a store path.
   * putBlob MUST fail and discard any data stored so far if the input errors or does not match info.
   */
  putBlob(input: BlobInput, info: BlobInfo): Promise<BlobInfo>;
  /**
   * Optional: reserve room for a blob of known size (info.size >= 0) for the pipeline's workers to
   * write into directly; undefined when the destination already has the blob. A destination that
   * offers this gets every blob it can this way, and putBlob for the rest.
   */
  reserveBlob?(info: BlobInfo): Promise<BlobReservation | undefined>;
  /**
   * Optional: whether the destination already shows `digest` as the top-level manifest where
   * commit() would put it (a registry: its tag answers a HEAD with that digest). When it does, the
   * pipeline copies no blob and writes no instance manifest: a destination showing a manifest holds
   * what it names (a registry refuses a manifest whose blobs it lacks). It still calls
   * putSignatures, putManifest and commit(), and a destination that answered true for that digest
   * MAY then skip writing the manifest again. Errors other than cancellation SHOULD answer false
   * (a normal copy follows and meets them).
   */
  hasManifest?(digest: Digest): Promise<boolean>;
  /** Store a manifest: the top-level one (instance undefined) or an index instance. */
  putManifest(manifest: ManifestBlob, instance?: Digest): Promise<void>;
  putSignatures?(signatures: Buffer[], instance?: Digest): Promise<void>;
  /**
   * Optional, for transports that can hold OCI 1.1 referrers: store `manifest` (digest `digest`),
   * whose `subject` is `subject` — a manifest this destination is writing (the top-level one, an
   * instance) or another referrer. Its blobs, and for an index its child manifests
   * (putManifest(child, childDigest)), were put before. Like everything else it becomes visible
   * only at commit(), and commit() MUST make a subject visible before any referrer of it, so that no
   * referrer ever names a manifest the destination lacks, even when commit() fails half-way. How a
   * referrer is found is the destination's business (a registry: its referrers API, else the
   * distribution-spec's fallback tag; an OCI layout: an index.json entry).
   */
  putReferrer?(manifest: ManifestBlob, digest: Digest, subject: Digest): Promise<void>;
  /** Make everything written visible, atomically where the transport allows. */
  commit(): Promise<void>;
  /** Release resources; without a prior commit(), discard everything written. */
  close(): Promise<void>;
}
