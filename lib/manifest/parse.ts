/**
 * Parsing and validating manifests, indexes, lists and image configs from untrusted bytes.
 *
 * Everything here assumes hostile input: sizes are capped before JSON parsing, every descriptor is
 * checked (digest syntax, size, media type), and a document whose declared type disagrees with its
 * content or whose shape fits two types is refused, so that a registry cannot make us read an index
 * as a manifest or the other way round.
 */
import { digestBytes, parseDigest, type Digest } from '../digest/index.js';
import { OcikitError, escapeControl, isOcikitError, quoteUntrusted } from '../errors.js';
import {
  DOCKER_LIST,
  DOCKER_V2S1_MANIFEST,
  DOCKER_V2S1_SIGNED_MANIFEST,
  DOCKER_V2S2_MANIFEST,
  OCI_INDEX,
  OCI_MANIFEST,
  isKnownLayerMediaType,
  isSchema1MediaType,
  normalizeMediaType,
} from './media-types.js';
import type { Descriptor, DockerList, DockerManifest, ImageConfig, OciIndex, OciManifest, ParsedManifest } from './types.js';

/** The largest manifest we read: 4 MiB, as containers/image and distribution. Larger ones are E_MANIFEST_TOO_BIG. */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;
/** The largest image config we read: 4 MiB, as containers/image. Larger ones are E_MANIFEST_TOO_BIG. */
export const MAX_CONFIG_SIZE = 4 * 1024 * 1024;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value of the document for a message: its kind, and a short escaped quote when it is a scalar. */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `string ${quoteUntrusted(v, 60)}`;
  if (typeof v === 'object') return 'an object';
  // JSON leaves numbers and booleans here, and undefined for a field that is missing.
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined) return `${typeof v} ${String(v).slice(0, 60)}`;
  return typeof v;
}

function bad(what: string, message: string): OcikitError {
  return new OcikitError('E_BAD_INPUT', `${what}: ${message}`);
}

// Strict UTF-8: invalid bytes would otherwise turn into U+FFFD silently and still parse.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function parseJsonObject(bytes: Uint8Array, what: string, limit: number): Json {
  if (bytes.length > limit) {
    throw new OcikitError('E_MANIFEST_TOO_BIG', `${what} is ${bytes.length} bytes, more than the limit of ${limit}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    // The parser's message quotes the document (the token, a snippet): escaped, as any quote of a source.
    throw new OcikitError('E_BAD_INPUT', `malformed ${what} JSON: ${escapeControl((err as Error).message.slice(0, 200))}`, { cause: err });
  }
  if (!isObject(v)) throw new OcikitError('E_BAD_INPUT', `malformed ${what} JSON: expected an object, got ${describe(v)}`);
  return v;
}

// === field validators; `what` names the position for the message ("manifest layer 2")

function optString(o: Json, key: string, what: string): void {
  const v = o[key];
  if (v !== undefined && typeof v !== 'string') throw bad(what, `${key} must be a string, got ${describe(v)}`);
}

function optStringArray(o: Json, key: string, what: string): void {
  const v = o[key];
  if (v === undefined) return;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw bad(what, `${key} must be an array of strings`);
}

function optStringMap(o: Json, key: string, what: string): void {
  const v = o[key];
  if (v === undefined) return;
  if (!isObject(v) || Object.values(v).some((s) => typeof s !== 'string')) {
    throw bad(what, `${key} must be an object of strings`);
  }
}

function validatePlatform(v: unknown, what: string): void {
  if (!isObject(v)) throw bad(what, `platform must be an object, got ${describe(v)}`);
  for (const key of ['architecture', 'os'] as const) {
    if (typeof v[key] !== 'string') throw bad(what, `platform.${key} must be a string, got ${describe(v[key])}`);
  }
  optString(v, 'os.version', `${what} platform`);
  optString(v, 'variant', `${what} platform`);
  optStringArray(v, 'os.features', `${what} platform`);
  optStringArray(v, 'features', `${what} platform`);
}

/**
 * Check that `v` is a well-formed descriptor: mediaType a string, digest valid (parseDigest), size a
 * non-negative safe integer, and the optional fields of the right types. Throws E_BAD_INPUT starting
 * with `what` ("manifest layer 2: size must be ...").
 */
export function validateDescriptor(v: unknown, what: string): asserts v is Descriptor {
  if (!isObject(v)) throw bad(what, `expected a descriptor object, got ${describe(v)}`);
  if (typeof v.mediaType !== 'string' || v.mediaType === '') throw bad(what, `mediaType must be a non-empty string, got ${describe(v.mediaType)}`);
  parseDigest(v.digest, what);
  const size = v.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw bad(what, `size must be a non-negative integer, got ${describe(size)}`);
  }
  optStringArray(v, 'urls', what);
  optStringMap(v, 'annotations', what);
  optString(v, 'data', what);
  optString(v, 'artifactType', what);
  if (v.platform !== undefined) validatePlatform(v.platform, what);
}

function requireSchemaVersion2(o: Json, what: string): void {
  if (o.schemaVersion !== 2) throw bad(what, `schemaVersion must be 2, got ${describe(o.schemaVersion)}`);
}

// The validators assert the type they checked, so the parser needs no cast. A top-level mediaType, when
// present, was already checked against the type being validated (a Docker one may be absent, given by the server).
function validateImageManifest(o: Json, what: string, oci: true): asserts o is Json & OciManifest;
function validateImageManifest(o: Json, what: string, oci: false): asserts o is Json & DockerManifest;
function validateImageManifest(o: Json, what: string, oci: boolean): void {
  requireSchemaVersion2(o, what);
  validateDescriptor(o.config, `${what} config`);
  if (!Array.isArray(o.layers)) throw bad(what, `layers must be an array, got ${describe(o.layers)}`);
  o.layers.forEach((l, i) => validateDescriptor(l, `${what} layer ${i}`));
  if (oci) {
    optString(o, 'artifactType', what);
    optStringMap(o, 'annotations', what);
    if (o.subject !== undefined) validateDescriptor(o.subject, `${what} subject`);
  }
}

function validateIndex(o: Json, what: string, oci: true): asserts o is Json & OciIndex;
function validateIndex(o: Json, what: string, oci: false): asserts o is Json & DockerList;
function validateIndex(o: Json, what: string, oci: boolean): void {
  requireSchemaVersion2(o, what);
  if (!Array.isArray(o.manifests)) throw bad(what, `manifests must be an array, got ${describe(o.manifests)}`);
  o.manifests.forEach((m, i) => {
    validateDescriptor(m, `${what} entry ${i}`);
    // Docker's list struct has a non-pointer platform: an entry without one is not a list entry.
    if (!oci && m.platform === undefined) throw bad(`${what} entry ${i}`, 'platform is missing');
  });
  if (oci) {
    optString(o, 'artifactType', what);
    optStringMap(o, 'annotations', what);
    if (o.subject !== undefined) validateDescriptor(o.subject, `${what} subject`);
  }
}

function guessFromShape(o: Json): string | undefined {
  if (o.schemaVersion === 1) return Array.isArray(o.signatures) ? DOCKER_V2S1_SIGNED_MANIFEST : DOCKER_V2S1_MANIFEST;
  if (o.manifests !== undefined) return OCI_INDEX;
  if (o.config !== undefined && o.layers !== undefined) return OCI_MANIFEST;
  return undefined;
}

function schema1Error(): OcikitError {
  return new OcikitError('E_UNSUPPORTED', 'Docker schema 1 manifests are not supported', {
    hint: 'schema 1 is deprecated; ask the image publisher for a schema 2 or OCI image',
  });
}

/**
 * Parse and validate a manifest, index or list from untrusted bytes.
 *
 * The media type comes from the document's `mediaType` field, else from `declaredMediaType` (a
 * Content-Type, normalised: parameters and generic types like `application/json` are ignored), else
 * from its shape (`manifests` = OCI index, `config`+`layers` = OCI manifest).
 *
 * Errors:
 * - E_MANIFEST_TOO_BIG above MAX_MANIFEST_SIZE, checked BEFORE any parsing;
 * - E_BAD_INPUT for malformed JSON ("malformed manifest JSON: ..."), a declared type that disagrees
 *   with the `mediaType` field, a shape that fits another type (an "index" with `layers`), a bad
 *   descriptor (the message names its position, 0-based: "manifest layer 2: ...");
 * - E_UNSUPPORTED for Docker schema 1 and for unknown top-level media types.
 *
 * Layer media types are NOT checked here (copying an artifact with custom layer types is legitimate);
 * call `validateLayerMediaTypes` where layer contents will be interpreted.
 *
 * `context` says what was being read ("reading manifest of docker://host/app:1"); every error's
 * message then starts with it, so the user learns which image served the bad document. Text quoted
 * from the document is escaped (no control character reaches a terminal).
 *
 * The returned `bytes` is the input, untouched: its digest is the manifest's digest.
 */
export function parseManifest(bytes: Uint8Array, declaredMediaType?: string, context?: string): ParsedManifest {
  return withContext(context, () => parseManifestBytes(bytes, declaredMediaType));
}

/**
 * Run `fn`, prefixing `context` ("reading manifest of docker://host/app:1") to the message of the
 * OcikitError it throws, so that a complaint about a document names the image it came from.
 */
function withContext<T>(context: string | undefined, fn: () => T): T {
  if (context === undefined) return fn();
  try {
    return fn();
  } catch (err) {
    if (!isOcikitError(err)) throw err;
    const e = err;
    throw new OcikitError(e.code, `${context}: ${e.message}`, { cause: err, ...(e.hint !== undefined ? { hint: e.hint } : {}) });
  }
}

function parseManifestBytes(bytes: Uint8Array, declaredMediaType?: string): ParsedManifest {
  const o = parseJsonObject(bytes, 'manifest', MAX_MANIFEST_SIZE);
  const declared = normalizeMediaType(declaredMediaType);
  if (o.mediaType !== undefined && typeof o.mediaType !== 'string') {
    throw bad('manifest', `mediaType must be a string, got ${describe(o.mediaType)}`);
  }
  const field = o.mediaType === undefined || o.mediaType === '' ? undefined : o.mediaType;
  if (field !== undefined && declared !== undefined && field !== declared) {
    throw new OcikitError('E_BAD_INPUT', `manifest declares media type ${quoteUntrusted(field)} but was served as ${quoteUntrusted(declared)}`);
  }
  const mediaType = field ?? declared ?? guessFromShape(o);
  if (mediaType === undefined) {
    throw new OcikitError('E_BAD_INPUT', 'cannot tell the manifest type: it has no mediaType, no config and layers, no manifests');
  }
  if (isSchema1MediaType(mediaType)) throw schema1Error();

  // A document must not be readable as two things: refuse image manifests with `manifests` and
  // indexes with `config`/`layers`, as containers/image does.
  const isIndex = mediaType === OCI_INDEX || mediaType === DOCKER_LIST;
  if ((mediaType === OCI_MANIFEST || mediaType === DOCKER_V2S2_MANIFEST) && o.manifests !== undefined) {
    throw new OcikitError('E_BAD_INPUT', `manifest of type ${mediaType} has a "manifests" field; it is ambiguous`);
  }
  if (isIndex && (o.config !== undefined || o.layers !== undefined)) {
    throw new OcikitError('E_BAD_INPUT', `index of type ${mediaType} has a "config" or "layers" field; it is ambiguous`);
  }

  switch (mediaType) {
    case OCI_MANIFEST:
      validateImageManifest(o, 'manifest', true);
      return { kind: 'oci-manifest', mediaType, value: o, bytes };
    case DOCKER_V2S2_MANIFEST:
      validateImageManifest(o, 'manifest', false);
      return { kind: 'docker-v2s2', mediaType, value: o, bytes };
    case OCI_INDEX:
      validateIndex(o, 'index', true);
      return { kind: 'oci-index', mediaType, value: o, bytes };
    case DOCKER_LIST:
      validateIndex(o, 'manifest list', false);
      return { kind: 'docker-list', mediaType, value: o, bytes };
    default:
      throw new OcikitError('E_UNSUPPORTED', `unsupported manifest media type ${quoteUntrusted(mediaType)}`);
  }
}

/**
 * Guess a manifest's media type from its bytes alone: its `mediaType` field, else its shape (the
 * same rules as parseManifest; schema 1 is told apart signed or not). Returns `undefined` when the
 * bytes are not a JSON object or fit no known shape; it does NOT validate the manifest.
 * Throws only E_MANIFEST_TOO_BIG.
 */
export function guessManifestMediaType(bytes: Uint8Array): string | undefined {
  let o: Json;
  try {
    o = parseJsonObject(bytes, 'manifest', MAX_MANIFEST_SIZE);
  } catch (err) {
    if ((err as OcikitError).code === 'E_MANIFEST_TOO_BIG') throw err;
    return undefined;
  }
  if (typeof o.mediaType === 'string' && o.mediaType !== '') return o.mediaType;
  return guessFromShape(o);
}

/**
 * The digest of a manifest: sha256 of its EXACT bytes. Never re-encode a manifest before hashing it.
 * (Signed schema 1 manifests, whose digest excludes the signature, are out of scope.)
 */
export function manifestDigest(bytes: Uint8Array): Digest {
  return digestBytes(bytes);
}

/**
 * The descriptors a manifest references: config then layers for an image manifest, the entries of
 * an index or list. Used by the store's gc to find what a manifest keeps alive. The `subject` of an
 * OCI manifest is NOT a child: a referrer does not keep its subject alive.
 */
export function manifestChildren(parsed: ParsedManifest): Descriptor[] {
  switch (parsed.kind) {
    case 'oci-manifest':
    case 'docker-v2s2':
      return [parsed.value.config, ...parsed.value.layers];
    case 'oci-index':
    case 'docker-list':
      return [...parsed.value.manifests];
  }
}

/**
 * Refuse an image manifest whose layers have media types we do not know (encrypted layers, artifact
 * blobs): throws E_UNSUPPORTED naming the first such layer. The copier calls this before it would
 * decompress, recompress or convert layers; a plain byte-for-byte copy does not need it.
 * Indexes have no layers and always pass.
 */
export function validateLayerMediaTypes(parsed: ParsedManifest): void {
  if (parsed.kind !== 'oci-manifest' && parsed.kind !== 'docker-v2s2') return;
  parsed.value.layers.forEach((l, i) => {
    if (!isKnownLayerMediaType(l.mediaType)) {
      throw new OcikitError('E_UNSUPPORTED', `manifest layer ${i}: unsupported layer media type ${quoteUntrusted(l.mediaType)}`);
    }
  });
}

function validateConfig(o: Json): void {
  for (const key of ['architecture', 'os', 'os.version', 'variant', 'created', 'author', 'docker_version']) optString(o, key, 'image config');
  optStringArray(o, 'os.features', 'image config');
  if (o.config !== undefined && o.config !== null && !isObject(o.config)) {
    throw bad('image config', `config must be an object, got ${describe(o.config)}`);
  }
  if (isObject(o.config)) {
    optStringArray(o.config, 'Env', 'image config config');
    optStringMap(o.config, 'Labels', 'image config config');
  }
  if (o.rootfs !== undefined) {
    const r = o.rootfs;
    if (!isObject(r)) throw bad('image config', `rootfs must be an object, got ${describe(r)}`);
    if (typeof r.type !== 'string') throw bad('image config', `rootfs.type must be a string, got ${describe(r.type)}`);
    // Docker omits an empty diff_ids (omitempty); treat it as no layers.
    if (r.diff_ids === undefined || r.diff_ids === null) r.diff_ids = [];
    if (!Array.isArray(r.diff_ids)) throw bad('image config', `rootfs.diff_ids must be an array, got ${describe(r.diff_ids)}`);
    r.diff_ids.forEach((d, i) => parseDigest(d, `image config diff_id ${i}`));
  }
  if (o.history !== undefined && o.history !== null) {
    if (!Array.isArray(o.history)) throw bad('image config', `history must be an array, got ${describe(o.history)}`);
    o.history.forEach((h, i) => {
      if (!isObject(h)) throw bad(`image config history ${i}`, `expected an object, got ${describe(h)}`);
      if (h.empty_layer !== undefined && typeof h.empty_layer !== 'boolean') {
        throw bad(`image config history ${i}`, `empty_layer must be a boolean, got ${describe(h.empty_layer)}`);
      }
    });
  }
}

/**
 * Parse an image config (OCI or Docker) from untrusted bytes. Throws E_MANIFEST_TOO_BIG above
 * MAX_CONFIG_SIZE (before parsing), E_BAD_INPUT for malformed JSON ("malformed image config JSON: ...")
 * and for mistyped known fields (rootfs.diff_ids must be valid digests). Unknown fields are kept;
 * a missing or null `rootfs.diff_ids` (Docker omits an empty one) becomes `[]`. `context` as for
 * parseManifest.
 */
export function parseConfig(bytes: Uint8Array, context?: string): ImageConfig {
  return withContext(context, () => {
    const o = parseJsonObject(bytes, 'image config', MAX_CONFIG_SIZE);
    validateConfig(o);
    return o;
  });
}
