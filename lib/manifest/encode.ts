/**
 * The one byte format for manifests this library writes: what Go's `json.Marshal` produces for the
 * containers/image (skopeo) and image-spec structs. A manifest's digest is the sha256 of its bytes,
 * so matching skopeo byte for byte means ocikit and skopeo produce the SAME digest for the same
 * conversion, and a second run of ocikit produces the same digest as the first.
 *
 * The rules, from encoding/json:
 * - compact: no spaces, no newlines, no trailing newline;
 * - struct fields in declaration order (schemaVersion, mediaType, config, layers, annotations, ...);
 * - `omitempty` fields left out when "", an empty array or an empty map;
 * - map keys (annotations) sorted by their UTF-8 bytes;
 * - `<`, `>`, `&`, U+2028 and U+2029 inside strings written as `\u003c`-style escapes (Go's HTML-safe default).
 */
import type { DockerList, DockerManifest, Descriptor, OciIndex, OciManifest, Platform } from './types.js';

// Go escapes these five even though JSON does not require it; JSON.stringify leaves them literal.
const GO_EXTRA_ESCAPES = /[<>&\u2028\u2029]/g;

function str(s: string): string {
  return JSON.stringify(s).replace(GO_EXTRA_ESCAPES, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function int(n: number): string {
  return String(n);
}

/** A struct: fields in the given order; `undefined` values are left out (omitempty or absent). */
function struct(fields: Array<[string, string | undefined]>): string {
  const parts: string[] = [];
  for (const [k, v] of fields) if (v !== undefined) parts.push(`${str(k)}:${v}`);
  return `{${parts.join(',')}}`;
}

/** A Go map[string]string with omitempty: keys sorted by UTF-8 bytes, as encoding/json does. */
function stringMap(m: Record<string, string> | undefined): string | undefined {
  if (m === undefined) return undefined;
  const keys = Object.keys(m);
  if (keys.length === 0) return undefined;
  // Buffer.compare orders by UTF-8 bytes; JS `<` orders by UTF-16 units, which differs above U+FFFF.
  keys.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  return struct(keys.map((k) => [k, str(m[k]!)]));
}

function strings(a: string[] | undefined): string | undefined {
  if (a === undefined || a.length === 0) return undefined;
  return `[${a.map(str).join(',')}]`;
}

function optStr(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : str(s);
}

function platform(p: Platform, docker: boolean): string {
  return struct([
    ['architecture', str(p.architecture)],
    ['os', str(p.os)],
    ['os.version', optStr(p['os.version'])],
    ['os.features', strings(p['os.features'])],
    ['variant', optStr(p.variant)],
    // `features` exists only in Docker's list platform; OCI dropped it.
    ['features', docker ? strings(p.features) : undefined],
  ]);
}

function ociDescriptor(d: Descriptor): string {
  return struct([
    ['mediaType', optStr(d.mediaType)],
    ['digest', str(d.digest)],
    ['size', int(d.size)],
    ['urls', strings(d.urls)],
    ['annotations', stringMap(d.annotations)],
    ['data', optStr(d.data)],
    ['platform', d.platform === undefined ? undefined : platform(d.platform, false)],
    ['artifactType', optStr(d.artifactType)],
  ]);
}

// Docker's descriptor puts size before digest, and has neither annotations nor data.
function dockerDescriptor(d: Descriptor, withPlatform: boolean): string {
  return struct([
    ['mediaType', str(d.mediaType)],
    ['size', int(d.size)],
    ['digest', str(d.digest)],
    ['urls', strings(d.urls)],
    // Not omitempty in Docker's list struct: a list entry always has a platform.
    ['platform', withPlatform ? platform(d.platform ?? { architecture: '', os: '' }, true) : undefined],
  ]);
}

/** The canonical bytes of an OCI manifest value (see the module comment for the format). */
export function encodeOciManifest(m: OciManifest): Buffer {
  return Buffer.from(
    struct([
      ['schemaVersion', int(m.schemaVersion)],
      ['mediaType', optStr(m.mediaType)],
      ['artifactType', optStr(m.artifactType)],
      ['config', ociDescriptor(m.config)],
      // Always written, even when empty: the spec makes `layers` REQUIRED.
      ['layers', `[${m.layers.map(ociDescriptor).join(',')}]`],
      ['subject', m.subject === undefined ? undefined : ociDescriptor(m.subject)],
      ['annotations', stringMap(m.annotations)],
    ]),
    'utf8',
  );
}

/** The canonical bytes of a Docker v2s2 manifest value. */
export function encodeDockerManifest(m: DockerManifest): Buffer {
  return Buffer.from(
    struct([
      ['schemaVersion', int(m.schemaVersion)],
      ['mediaType', str(m.mediaType)],
      ['config', dockerDescriptor(m.config, false)],
      ['layers', `[${m.layers.map((l) => dockerDescriptor(l, false)).join(',')}]`],
    ]),
    'utf8',
  );
}

/** The canonical bytes of an OCI index value. */
export function encodeOciIndex(m: OciIndex): Buffer {
  return Buffer.from(
    struct([
      ['schemaVersion', int(m.schemaVersion)],
      ['mediaType', optStr(m.mediaType)],
      ['artifactType', optStr(m.artifactType)],
      ['manifests', `[${m.manifests.map(ociDescriptor).join(',')}]`],
      ['subject', m.subject === undefined ? undefined : ociDescriptor(m.subject)],
      ['annotations', stringMap(m.annotations)],
    ]),
    'utf8',
  );
}

/** The canonical bytes of a Docker manifest list value. */
export function encodeDockerList(m: DockerList): Buffer {
  return Buffer.from(
    struct([
      ['schemaVersion', int(m.schemaVersion)],
      ['mediaType', str(m.mediaType)],
      ['manifests', `[${m.manifests.map((d) => dockerDescriptor(d, true)).join(',')}]`],
    ]),
    'utf8',
  );
}
