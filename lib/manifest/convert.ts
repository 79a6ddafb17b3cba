/**
 * Pure conversions between OCI and Docker schema 2 manifests and indexes, and rebuilding a
 * manifest with new layers. No blob is read or written here: a conversion only rewrites
 * descriptors, so a caller that needs different layer bytes (zstd -> gzip for v2s2) MUST produce
 * them first and pass the new descriptors to `updateLayers`.
 *
 * Every manifest written here is encoded by ./encode.ts (Go json.Marshal byte format), so the
 * same conversion always yields the same digest, and the same digest skopeo would produce.
 */
import type { Digest } from '../digest/index.js';
import { OcikitError } from '../errors.js';
import { encodeDockerList, encodeDockerManifest, encodeOciIndex, encodeOciManifest } from './encode.js';
import {
  DOCKER_CONFIG,
  DOCKER_LIST,
  DOCKER_V2S2_MANIFEST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
  isImageConfigMediaType,
  isNondistributableLayer,
  layerCompression,
  layerMediaTypeFor,
  type ManifestFamily,
} from './media-types.js';
import { validateDescriptor } from './parse.js';
import type {
  Descriptor,
  DockerList,
  DockerManifest,
  Encoded,
  ManifestFormat,
  OciIndex,
  OciManifest,
  ParsedDockerList,
  ParsedDockerManifest,
  ParsedImageManifest,
  ParsedIndex,
  ParsedManifest,
  ParsedOciIndex,
  ParsedOciManifest,
  Platform,
} from './types.js';
/** What a child manifest of an index became after the copier converted or re-encoded it. */
export interface ChildUpdate {
  mediaType: string;
  digest: Digest;
  size: number;
}

// === value builders: each returns a clean value (empty optional fields left out, keys in wire
// order) so that `value` always equals JSON.parse(bytes).

function nonEmpty<T>(a: T[] | undefined): T[] | undefined {
  return a !== undefined && a.length > 0 ? [...a] : undefined;
}

function nonEmptyMap(m: Record<string, string> | undefined): Record<string, string> | undefined {
  return m !== undefined && Object.keys(m).length > 0 ? { ...m } : undefined;
}

function nonEmptyString(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

/** Assign only the defined entries, so absent fields stay absent rather than `undefined`. */
function clean<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

function platformValue(p: Platform, family: ManifestFamily): Platform {
  return clean<Platform>({
    architecture: p.architecture,
    os: p.os,
    'os.version': nonEmptyString(p['os.version']),
    'os.features': nonEmpty(p['os.features']),
    variant: nonEmptyString(p.variant),
    // OCI dropped `features`; containers/image drops it too when converting a list to an index.
    features: family === 'docker' ? nonEmpty(p.features) : undefined,
  });
}

function ociDescriptor(d: Descriptor): Descriptor {
  return clean<Descriptor>({
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    urls: nonEmpty(d.urls),
    annotations: nonEmptyMap(d.annotations),
    data: nonEmptyString(d.data),
    platform: d.platform === undefined ? undefined : platformValue(d.platform, 'oci'),
    artifactType: nonEmptyString(d.artifactType),
  });
}

function dockerDescriptor(d: Descriptor): Descriptor {
  return clean<Descriptor>({ mediaType: d.mediaType, size: d.size, digest: d.digest, urls: nonEmpty(d.urls) });
}

function asBuffer(bytes: Uint8Array): Buffer {
  // A view, not a copy: "untouched" means the very bytes whose digest the caller already knows.
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function ociManifestResult(value: OciManifest): Encoded<ParsedOciManifest> {
  return { kind: 'oci-manifest', mediaType: OCI_MANIFEST, value, bytes: encodeOciManifest(value) };
}

function dockerManifestResult(value: DockerManifest): Encoded<ParsedDockerManifest> {
  return { kind: 'docker-v2s2', mediaType: DOCKER_V2S2_MANIFEST, value, bytes: encodeDockerManifest(value) };
}

function ociManifestValue(config: Descriptor, layers: Descriptor[], extra: { artifactType?: string; subject?: Descriptor; annotations?: Record<string, string> } = {}): OciManifest {
  return clean<OciManifest>({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: nonEmptyString(extra.artifactType),
    config: ociDescriptor(config),
    layers: layers.map(ociDescriptor),
    subject: extra.subject === undefined ? undefined : ociDescriptor(extra.subject),
    annotations: nonEmptyMap(extra.annotations),
  });
}

function dockerManifestValue(config: Descriptor, layers: Descriptor[]): DockerManifest {
  return { schemaVersion: 2, mediaType: DOCKER_V2S2_MANIFEST, config: dockerDescriptor(config), layers: layers.map(dockerDescriptor) };
}

// === layer media type mapping

function familyName(family: ManifestFamily): string {
  return family === 'oci' ? 'OCI' : 'Docker v2s2';
}

/** The same layer (same bytes, same compression, same distributability) in the other family's media type. */
function convertLayer(l: Descriptor, i: number, family: ManifestFamily): Descriptor {
  const compression = layerCompression(l.mediaType);
  if (compression === undefined) {
    throw new OcikitError('E_UNSUPPORTED', `manifest layer ${i}: cannot convert layer media type ${l.mediaType} to ${familyName(family)}`);
  }
  let mediaType: string;
  try {
    mediaType = layerMediaTypeFor(family, compression, { nondistributable: isNondistributableLayer(l.mediaType) });
  } catch (err) {
    const e = err as OcikitError;
    throw new OcikitError(e.code, `manifest layer ${i}: ${e.message}`, { cause: err, hint: e.hint });
  }
  // Digest and size MUST stay: the bytes are the same. urls stay: foreign layers are fetched from them.
  return { ...l, mediaType };
}

function requireDockerLayers(layers: Descriptor[]): void {
  layers.forEach((l, i) => {
    const compression = layerCompression(l.mediaType);
    // A Docker layer type maps to itself; anything else (OCI types, zstd, unknown) has no place in v2s2.
    const isDocker = compression !== undefined && compression !== 'zstd' && layerMediaTypeFor('docker', compression, { nondistributable: isNondistributableLayer(l.mediaType) }) === l.mediaType;
    if (!isDocker) {
      throw new OcikitError('E_UNSUPPORTED', `manifest layer ${i}: layer media type ${l.mediaType} cannot appear in a Docker v2s2 manifest`);
    }
  });
}

// === manifests

function ociToDocker(m: OciManifest): DockerManifest {
  // Refuse rather than drop what would change the meaning of the manifest: an artifact is not an
  // image, and a referrer without its subject is a different object. Annotations are only metadata.
  if (m.artifactType !== undefined && m.artifactType !== '') {
    throw new OcikitError('E_UNSUPPORTED', `cannot convert an OCI artifact (artifactType ${m.artifactType}) to Docker v2s2`);
  }
  if (m.subject !== undefined) {
    throw new OcikitError('E_UNSUPPORTED', 'cannot convert an OCI manifest with a subject to Docker v2s2: the link to its subject would be lost');
  }
  if (!isImageConfigMediaType(m.config.mediaType)) {
    throw new OcikitError('E_UNSUPPORTED', `cannot convert an OCI artifact (config media type ${m.config.mediaType}) to Docker v2s2`);
  }
  const config: Descriptor = { ...m.config, mediaType: DOCKER_CONFIG };
  return dockerManifestValue(
    config,
    m.layers.map((l, i) => convertLayer(l, i, 'docker')),
  );
}

function dockerToOci(m: DockerManifest): OciManifest {
  if (!isImageConfigMediaType(m.config.mediaType)) {
    throw new OcikitError('E_UNSUPPORTED', `cannot convert a Docker v2s2 manifest with config media type ${m.config.mediaType} to OCI`);
  }
  // The config blob is NOT rewritten: the Docker config JSON is a valid OCI config, so only the
  // descriptor's media type changes and the config digest stays.
  const config: Descriptor = { mediaType: OCI_CONFIG, digest: m.config.digest, size: m.config.size, urls: m.config.urls };
  // Docker descriptors have no annotations; drop anything a hand-written source may carry.
  const layers = m.layers.map((l, i) => {
    const c = convertLayer(l, i, 'oci');
    return { mediaType: c.mediaType, digest: c.digest, size: c.size, urls: c.urls };
  });
  return ociManifestValue(config, layers);
}

/**
 * Convert an image manifest to `target` format ('oci' or 'v2s2'), without touching any blob.
 *
 * - Converting to the format it already has returns the input bytes UNTOUCHED (same digest).
 * - Layer and config digests and sizes NEVER change; only media types do: Docker `diff.tar.gzip`
 *   <-> OCI `tar+gzip`, Docker `diff.tar` <-> OCI `tar`, Docker foreign <-> OCI nondistributable
 *   (urls kept). The config keeps its digest; its media type becomes the target's config type.
 * - To v2s2: manifest and layer annotations are DROPPED (v2s2 has none). E_UNSUPPORTED for a zstd
 *   layer (the caller MUST decompress or recompress it and call `updateLayers` first), for an
 *   unknown layer type, and for OCI artifacts (artifactType, a non-image config) and manifests with
 *   a `subject`, which v2s2 cannot express.
 *
 * The result's bytes use the Go json.Marshal format described in encode.ts.
 */
export function convertManifest(parsed: ParsedImageManifest, target: 'oci'): Encoded<ParsedOciManifest>;
export function convertManifest(parsed: ParsedImageManifest, target: 'v2s2'): Encoded<ParsedDockerManifest>;
export function convertManifest(parsed: ParsedImageManifest, target: ManifestFormat): Encoded<ParsedImageManifest>;
export function convertManifest(parsed: ParsedImageManifest, target: ManifestFormat): Encoded<ParsedImageManifest> {
  const kind = (parsed as ParsedManifest).kind;
  if (kind !== 'oci-manifest' && kind !== 'docker-v2s2') {
    throw new OcikitError('E_INTERNAL', `convertManifest was given a ${kind}; use convertIndex`);
  }
  if (target === 'oci') {
    if (parsed.kind === 'oci-manifest') return { ...parsed, bytes: asBuffer(parsed.bytes) };
    return ociManifestResult(dockerToOci(parsed.value));
  }
  if (target === 'v2s2') {
    if (parsed.kind === 'docker-v2s2') return { ...parsed, bytes: asBuffer(parsed.bytes) };
    return dockerManifestResult(ociToDocker(parsed.value));
  }
  throw new OcikitError('E_INTERNAL', `unknown manifest format ${String(target)}`);
}

/**
 * The same manifest, in the same format, with its layers replaced by `newLayers` (used when the
 * copier recompresses or decompresses layers). Everything else (config, annotations, subject,
 * artifactType) is kept.
 *
 * `newLayers` MUST have one entry per existing layer, in order (the config's diff_ids still describe
 * them); a different count is E_INTERNAL. For a v2s2 manifest each new media type MUST be a Docker
 * layer type (E_UNSUPPORTED otherwise, e.g. zstd); Docker layers carry no annotations.
 */
export function updateLayers(parsed: ParsedOciManifest, newLayers: Descriptor[]): Encoded<ParsedOciManifest>;
export function updateLayers(parsed: ParsedDockerManifest, newLayers: Descriptor[]): Encoded<ParsedDockerManifest>;
export function updateLayers(parsed: ParsedImageManifest, newLayers: Descriptor[]): Encoded<ParsedImageManifest>;
export function updateLayers(parsed: ParsedImageManifest, newLayers: Descriptor[]): Encoded<ParsedImageManifest> {
  const old = parsed.value.layers;
  if (newLayers.length !== old.length) {
    throw new OcikitError('E_INTERNAL', `updateLayers: layer count changed from ${old.length} to ${newLayers.length}`);
  }
  newLayers.forEach((l, i) => validateDescriptor(l, `new manifest layer ${i}`));
  if (parsed.kind === 'docker-v2s2') {
    requireDockerLayers(newLayers);
    return dockerManifestResult(dockerManifestValue(parsed.value.config, newLayers));
  }
  const m = parsed.value;
  return ociManifestResult(ociManifestValue(m.config, newLayers, m));
}

/**
 * A new image manifest of `format` from a config descriptor and layer descriptors, taken as given
 * (media types included). E_BAD_INPUT for malformed descriptors; for 'v2s2', E_UNSUPPORTED when
 * `annotations` is non-empty or a layer media type is not a Docker layer type.
 */
export function buildManifest(format: 'oci', config: Descriptor, layers: Descriptor[], annotations?: Record<string, string>): Encoded<ParsedOciManifest>;
export function buildManifest(format: 'v2s2', config: Descriptor, layers: Descriptor[], annotations?: Record<string, string>): Encoded<ParsedDockerManifest>;
export function buildManifest(format: ManifestFormat, config: Descriptor, layers: Descriptor[], annotations?: Record<string, string>): Encoded<ParsedImageManifest>;
export function buildManifest(format: ManifestFormat, config: Descriptor, layers: Descriptor[], annotations?: Record<string, string>): Encoded<ParsedImageManifest> {
  validateDescriptor(config, 'manifest config');
  layers.forEach((l, i) => validateDescriptor(l, `manifest layer ${i}`));
  if (format === 'oci') return ociManifestResult(ociManifestValue(config, layers, annotations === undefined ? {} : { annotations }));
  if (format !== 'v2s2') throw new OcikitError('E_INTERNAL', `unknown manifest format ${String(format)}`);
  if (annotations !== undefined && Object.keys(annotations).length > 0) {
    throw new OcikitError('E_UNSUPPORTED', 'Docker v2s2 manifests cannot carry annotations');
  }
  requireDockerLayers(layers);
  return dockerManifestResult(dockerManifestValue(config, layers));
}

// === indexes

/**
 * Convert an index to `target`: 'oci' (OCI index) or 'v2s2' (Docker manifest list).
 *
 * `children` maps an entry's CURRENT digest to what that child became (children are usually
 * converted before their index, which changes their digests); entries not in the map are kept.
 * Platforms are kept (Docker's `features` is dropped going to OCI, as containers/image does).
 *
 * - Same format and no entry changed: the input bytes are returned UNTOUCHED.
 * - To a Docker list: index and entry annotations are DROPPED. E_UNSUPPORTED when an entry has no
 *   platform (a list entry MUST have one), when an entry's (updated) media type is not Docker v2s2
 *   (a list cannot reference OCI manifests or nested indexes: convert the child first), and for an
 *   index with artifactType or subject.
 */
export function convertIndex(parsed: ParsedIndex, target: 'oci', children?: ReadonlyMap<string, ChildUpdate>): Encoded<ParsedOciIndex>;
export function convertIndex(parsed: ParsedIndex, target: 'v2s2', children?: ReadonlyMap<string, ChildUpdate>): Encoded<ParsedDockerList>;
export function convertIndex(parsed: ParsedIndex, target: ManifestFormat, children?: ReadonlyMap<string, ChildUpdate>): Encoded<ParsedIndex>;
export function convertIndex(parsed: ParsedIndex, target: ManifestFormat, children: ReadonlyMap<string, ChildUpdate> = new Map()): Encoded<ParsedIndex> {
  const kind = (parsed as ParsedManifest).kind;
  if (kind !== 'oci-index' && kind !== 'docker-list') {
    throw new OcikitError('E_INTERNAL', `convertIndex was given a ${kind}; use convertManifest`);
  }
  if (target !== 'oci' && target !== 'v2s2') throw new OcikitError('E_INTERNAL', `unknown manifest format ${String(target)}`);

  let changed = false;
  const entries: Descriptor[] = parsed.value.manifests.map((e, i) => {
    const u = children.get(e.digest);
    if (u === undefined || (u.digest === e.digest && u.size === e.size && u.mediaType === e.mediaType)) return e;
    validateDescriptor({ ...u }, `index entry ${i} update`);
    changed = true;
    // Embedded `data` described the old child; it would be wrong for the new one.
    const next: Descriptor = { ...e, mediaType: u.mediaType, digest: u.digest, size: u.size };
    delete next.data;
    return next;
  });

  const sameFormat = (target === 'oci') === (parsed.kind === 'oci-index');
  if (sameFormat && !changed) return { ...parsed, bytes: asBuffer(parsed.bytes) };

  if (target === 'oci') {
    const src = parsed.kind === 'oci-index' ? parsed.value : undefined;
    const value = clean<OciIndex>({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      artifactType: nonEmptyString(src?.artifactType),
      manifests: entries.map(ociDescriptor),
      subject: src?.subject === undefined ? undefined : ociDescriptor(src.subject),
      annotations: nonEmptyMap(src?.annotations),
    });
    return { kind: 'oci-index', mediaType: OCI_INDEX, value, bytes: encodeOciIndex(value) };
  }

  if (parsed.kind === 'oci-index') {
    const v = parsed.value;
    if (v.artifactType !== undefined && v.artifactType !== '') {
      throw new OcikitError('E_UNSUPPORTED', `cannot convert an OCI index with artifactType ${v.artifactType} to a Docker manifest list`);
    }
    if (v.subject !== undefined) {
      throw new OcikitError('E_UNSUPPORTED', 'cannot convert an OCI index with a subject to a Docker manifest list: the link to its subject would be lost');
    }
  }
  const manifests = entries.map((e, i) => {
    if (e.platform === undefined) {
      // containers/image fills in the host's platform here; inventing a platform would mislabel the image.
      throw new OcikitError('E_UNSUPPORTED', `index entry ${i} (${e.digest}) has no platform; a Docker manifest list entry needs one`);
    }
    if (e.mediaType !== DOCKER_V2S2_MANIFEST) {
      throw new OcikitError('E_UNSUPPORTED', `index entry ${i}: a Docker manifest list cannot reference ${e.mediaType}`, {
        hint: 'convert the child manifests to v2s2 first and pass their new digests to convertIndex',
      });
    }
    return { ...dockerDescriptor(e), platform: platformValue(e.platform, 'docker') };
  });
  const value: DockerList = { schemaVersion: 2, mediaType: DOCKER_LIST, manifests };
  return { kind: 'docker-list', mediaType: DOCKER_LIST, value, bytes: encodeDockerList(value) };
}
