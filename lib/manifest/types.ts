/**
 * The JSON shapes of OCI and Docker schema 2 manifests, indexes, lists and image configs, as they
 * appear on the wire. Field names are the JSON names, so a parsed value can be used directly.
 */
import type { Digest } from '../digest/index.js';
import type { DOCKER_LIST, DOCKER_V2S2_MANIFEST, OCI_INDEX, OCI_MANIFEST } from './media-types.js';

/** The platform an image runs on. Names are Go's GOOS/GOARCH values (`linux`, `amd64`, `arm64`). */
export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  /** CPU features; Docker lists only (reserved and dropped by OCI). */
  features?: string[];
}

/**
 * A content descriptor: what a manifest says about a blob or a child manifest. The union of the
 * OCI and Docker fields; Docker descriptors only use mediaType, size, digest, urls (and platform in lists).
 */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  /** Size in bytes; a non-negative safe integer. */
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** OCI: the content itself, base64-encoded (small blobs only). */
  data?: string;
  /** On index and list entries only. */
  platform?: Platform;
  /** OCI 1.1: the artifact type of the referenced manifest. */
  artifactType?: string;
}

/** An OCI image manifest. */
export interface OciManifest {
  schemaVersion: 2;
  mediaType?: typeof OCI_MANIFEST;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  /** OCI 1.1: the manifest this one refers to (signatures, SBOMs). */
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** A Docker image manifest, schema 2. */
export interface DockerManifest {
  schemaVersion: 2;
  mediaType: typeof DOCKER_V2S2_MANIFEST;
  config: Descriptor;
  layers: Descriptor[];
}

/** An OCI image index. */
export interface OciIndex {
  schemaVersion: 2;
  mediaType?: typeof OCI_INDEX;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** A Docker manifest list. Every entry carries a platform. */
export interface DockerList {
  schemaVersion: 2;
  mediaType: typeof DOCKER_LIST;
  manifests: Array<Descriptor & { platform: Platform }>;
}

/** The runtime part of an image config (Docker's `container.Config` subset that OCI kept, plus Docker extras). */
export interface ImageRuntimeConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  /** Docker only. */
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  /** Docker only. */
  OnBuild?: string[] | null;
  /** Docker only. */
  Shell?: string[];
  [key: string]: unknown;
}

/** One build step in an image config's history. `empty_layer` steps produced no layer. */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/**
 * An image config (OCI `application/vnd.oci.image.config.v1+json` or Docker
 * `application/vnd.docker.container.image.v1+json`; the shapes are compatible).
 * `rootfs.diff_ids[i]` is the digest of layer i UNCOMPRESSED.
 */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  created?: string;
  author?: string;
  config?: ImageRuntimeConfig;
  /** `type` is 'layers' in every image spec version so far. */
  rootfs?: { type: string; diff_ids: Digest[] };
  history?: HistoryEntry[];
  /** Docker only. */
  docker_version?: string;
  /** Docker only. */
  container?: string;
  /** Docker only. */
  container_config?: ImageRuntimeConfig;
  /** Docker only. */
  comment?: string;
  [key: string]: unknown;
}

/** A parsed OCI image manifest, with the exact bytes it came from. */
export interface ParsedOciManifest {
  kind: 'oci-manifest';
  mediaType: typeof OCI_MANIFEST;
  value: OciManifest;
  bytes: Uint8Array;
}

/** A parsed Docker v2s2 manifest, with the exact bytes it came from. */
export interface ParsedDockerManifest {
  kind: 'docker-v2s2';
  mediaType: typeof DOCKER_V2S2_MANIFEST;
  value: DockerManifest;
  bytes: Uint8Array;
}

/** A parsed OCI index, with the exact bytes it came from. */
export interface ParsedOciIndex {
  kind: 'oci-index';
  mediaType: typeof OCI_INDEX;
  value: OciIndex;
  bytes: Uint8Array;
}

/** A parsed Docker manifest list, with the exact bytes it came from. */
export interface ParsedDockerList {
  kind: 'docker-list';
  mediaType: typeof DOCKER_LIST;
  value: DockerList;
  bytes: Uint8Array;
}

/** A single-image manifest (OCI or Docker v2s2). */
export type ParsedImageManifest = ParsedOciManifest | ParsedDockerManifest;
/** A multi-platform index (OCI index or Docker list). */
export type ParsedIndex = ParsedOciIndex | ParsedDockerList;
/** Anything `parseManifest` returns; switch on `kind`. */
export type ParsedManifest = ParsedImageManifest | ParsedIndex;

/** The conversion targets: OCI, or Docker schema 2 (v2s2 manifest / manifest list). */
export type ManifestFormat = 'oci' | 'v2s2';

/** A manifest produced by this library (converted, rebuilt): bytes are a Buffer of the canonical encoding. */
export type Encoded<T extends ParsedManifest> = T & { bytes: Buffer };
