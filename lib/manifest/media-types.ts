/**
 * Media types of manifests, indexes, configs and layers, and the small facts derived from them
 * (is it an index? how is this layer compressed? which layer type does format X use for gzip?).
 *
 * Media types are compared as exact strings: manifests carry them verbatim, and a registry that
 * serves a manifest with `; charset=utf-8` is handled by `normalizeMediaType` at the boundary.
 */
import { OcikitError } from '../errors.js';

// === manifests and indexes

/** OCI image manifest. */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** OCI image index (multi-platform). */
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** Docker image manifest, schema 2 ("v2s2"). */
export const DOCKER_V2S2_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
/** Docker manifest list (multi-platform), schema 2. */
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** Docker schema 1 manifest, unsigned. RECOGNISED ONLY: parsing or converting one is E_UNSUPPORTED. */
export const DOCKER_V2S1_MANIFEST = 'application/vnd.docker.distribution.manifest.v1+json';
/** Docker schema 1 manifest, JWS-signed. RECOGNISED ONLY: parsing or converting one is E_UNSUPPORTED. */
export const DOCKER_V2S1_SIGNED_MANIFEST = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

// === configs

/** OCI image config. */
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** Docker image config (same JSON shape as the OCI one, plus a few Docker-only fields). */
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';

// === OCI layers

export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_TAR_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER_TAR_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
/** Non-distributable layers are deprecated by the OCI spec but still appear (Windows base layers). */
export const OCI_LAYER_NONDIST_TAR = 'application/vnd.oci.image.layer.nondistributable.v1.tar';
export const OCI_LAYER_NONDIST_TAR_GZIP = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
export const OCI_LAYER_NONDIST_TAR_ZSTD = 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd';

// === Docker layers

/** The Docker layer type: a gzip-compressed tar. */
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
/**
 * An uncompressed Docker layer. Not in the Docker spec, but written by containers/image and accepted
 * by registries and daemons, so we read and write it.
 */
export const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
/** A foreign (non-distributable) Docker layer, gzip-compressed; fetched from its `urls`. */
export const DOCKER_FOREIGN_LAYER_GZIP = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
/** A foreign Docker layer, uncompressed. */
export const DOCKER_FOREIGN_LAYER_TAR = 'application/vnd.docker.image.rootfs.foreign.diff.tar';

/**
 * The compression formats ocikit reads and writes, in one list: every other module (workers, the
 * store's variant cache, the CLI's --dest-compress-format) takes its names from here.
 */
export const COMPRESSION_FORMATS = ['gzip', 'zstd'] as const;
/** A compression format: gzip or zstd. */
export type CompressionFormat = (typeof COMPRESSION_FORMATS)[number];
/** How a layer's bytes are stored: compressed with a format, or as a plain tar ('none'). */
export type LayerCompression = CompressionFormat | 'none';

/** True for a name in COMPRESSION_FORMATS. */
export function isCompressionFormat(s: unknown): s is CompressionFormat {
  return typeof s === 'string' && (COMPRESSION_FORMATS as readonly string[]).includes(s);
}
/**
 * What --dest-compress-format names: a compression format, or zstd:chunked, zstd written so that
 * containers-storage can pull a layer in parts (workers/zstd-chunked.ts). To a reader it is zstd:
 * its media type is zstd's and any zstd decompressor reads it.
 */
export const COMPRESSION_ALGORITHMS = ['gzip', 'zstd', 'zstd:chunked'] as const;
/** A compression algorithm: gzip, zstd or zstd:chunked. */
export type CompressionAlgorithm = (typeof COMPRESSION_ALGORITHMS)[number];

/** True for a name in COMPRESSION_ALGORITHMS. */
export function isCompressionAlgorithm(s: unknown): s is CompressionAlgorithm {
  return typeof s === 'string' && (COMPRESSION_ALGORITHMS as readonly string[]).includes(s);
}

/** The format an algorithm's output is read with (and the media type names): zstd for zstd:chunked. */
export function baseFormat(a: CompressionAlgorithm): CompressionFormat {
  return a === 'zstd:chunked' ? 'zstd' : a;
}

/** The two manifest families: OCI and Docker schema 2. */
export type ManifestFamily = 'oci' | 'docker';

interface LayerFacts {
  family: ManifestFamily;
  compression: LayerCompression;
  nondistributable: boolean;
}

// One table answers every layer question, so the helpers below cannot disagree with each other.
const LAYERS: ReadonlyMap<string, LayerFacts> = new Map<string, LayerFacts>([
  [OCI_LAYER_TAR, { family: 'oci', compression: 'none', nondistributable: false }],
  [OCI_LAYER_TAR_GZIP, { family: 'oci', compression: 'gzip', nondistributable: false }],
  [OCI_LAYER_TAR_ZSTD, { family: 'oci', compression: 'zstd', nondistributable: false }],
  [OCI_LAYER_NONDIST_TAR, { family: 'oci', compression: 'none', nondistributable: true }],
  [OCI_LAYER_NONDIST_TAR_GZIP, { family: 'oci', compression: 'gzip', nondistributable: true }],
  [OCI_LAYER_NONDIST_TAR_ZSTD, { family: 'oci', compression: 'zstd', nondistributable: true }],
  [DOCKER_LAYER_TAR, { family: 'docker', compression: 'none', nondistributable: false }],
  [DOCKER_LAYER_GZIP, { family: 'docker', compression: 'gzip', nondistributable: false }],
  [DOCKER_FOREIGN_LAYER_TAR, { family: 'docker', compression: 'none', nondistributable: true }],
  [DOCKER_FOREIGN_LAYER_GZIP, { family: 'docker', compression: 'gzip', nondistributable: true }],
]);

/**
 * The compression of a layer with this media type, or `undefined` when the media type is not a layer
 * type we know (an artifact blob, an encrypted layer, a typo). Callers MUST treat `undefined` as
 * "do not touch these bytes", never as "uncompressed".
 */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  return LAYERS.get(mediaType)?.compression;
}

/** True when `mediaType` is a known layer type. */
export function isKnownLayerMediaType(mediaType: string): boolean {
  return LAYERS.has(mediaType);
}

/**
 * True for non-distributable layers (OCI `nondistributable` and Docker `foreign`): registries
 * usually do not hold them, they are fetched from the descriptor's `urls`.
 */
export function isNondistributableLayer(mediaType: string): boolean {
  return LAYERS.get(mediaType)?.nondistributable === true;
}

/**
 * The layer media type that manifest family `family` uses for `compression`.
 *
 * Throws E_UNSUPPORTED for Docker + zstd: Docker schema 2 has no zstd layer type, so a caller that
 * wants a v2s2 manifest MUST decompress (or recompress with gzip) first.
 */
export function layerMediaTypeFor(family: ManifestFamily, compression: LayerCompression, options: { nondistributable?: boolean } = {}): string {
  const nondist = options.nondistributable === true;
  for (const [mediaType, facts] of LAYERS) {
    if (facts.family === family && facts.compression === compression && facts.nondistributable === nondist) return mediaType;
  }
  // Only docker+zstd reaches here: the table has every other combination.
  throw new OcikitError('E_UNSUPPORTED', `Docker schema 2 has no media type for ${nondist ? 'foreign ' : ''}${compression}-compressed layers`, {
    hint: 'decompress zstd layers (or recompress them with gzip) before writing a Docker v2s2 manifest',
  });
}

/** True for the multi-platform types: OCI index and Docker manifest list. */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_LIST;
}

/**
 * True for the single-image manifest types this library parses and converts: OCI manifest and
 * Docker v2s2. Docker schema 1 is NOT included (see `isSchema1MediaType`).
 */
export function isManifestMediaType(mediaType: string): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_V2S2_MANIFEST;
}

/** True for the Docker schema 1 types, which are recognised so that we can refuse them clearly. */
export function isSchema1MediaType(mediaType: string): boolean {
  return mediaType === DOCKER_V2S1_MANIFEST || mediaType === DOCKER_V2S1_SIGNED_MANIFEST;
}

/** True for the image config types (OCI and Docker). Other config types mean an artifact, not an image. */
export function isImageConfigMediaType(mediaType: string): boolean {
  return mediaType === OCI_CONFIG || mediaType === DOCKER_CONFIG;
}

/**
 * Normalise a media type from a Content-Type header or a file: parameters (`; charset=utf-8`) and
 * surrounding space removed, lower-cased. Generic types that say nothing about the manifest
 * (`application/json`, `text/plain`, `application/octet-stream`, empty) become `undefined`, so the
 * caller falls back to the manifest's own `mediaType` field or its shape.
 */
export function normalizeMediaType(mediaType: string | undefined): string | undefined {
  if (mediaType === undefined) return undefined;
  const semi = mediaType.indexOf(';');
  const bare = (semi === -1 ? mediaType : mediaType.slice(0, semi)).trim().toLowerCase();
  if (bare === '' || bare === 'application/json' || bare === 'text/plain' || bare === 'application/octet-stream') return undefined;
  return bare;
}
