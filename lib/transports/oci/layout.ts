/**
 * Reading an OCI image layout's index.json and choosing the image a reference names. Shared by
 * oci: (a directory) and oci-archive: (a tar of one).
 */
import { OcikitError, quoteUntrusted } from '../../errors.js';
import { digestBytes, type Digest } from '../../digest/index.js';
import { OCI_INDEX, parseManifest, type Descriptor, type OciIndex } from '../../manifest/index.js';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
export const OCI_LAYOUT_FILE = 'oci-layout';
export const OCI_LAYOUT_CONTENT = '{"imageLayoutVersion":"1.0.0"}';

/** Parse an index.json; E_BAD_INPUT when garbled, naming `where`. */
export function parseLayoutIndex(bytes: Buffer, where: string): OciIndex {
  let parsed;
  try {
    parsed = parseManifest(bytes, OCI_INDEX);
  } catch (err) {
    throw new OcikitError((err as OcikitError).code ?? 'E_BAD_INPUT', `reading ${where}/index.json: ${(err as Error).message}`, { cause: err });
  }
  if (parsed.kind !== 'oci-index') throw new OcikitError('E_BAD_INPUT', `reading ${where}/index.json: not an image index`);
  return parsed.value;
}

/** Check the oci-layout file's version. */
export function checkLayoutVersion(bytes: Buffer, where: string): void {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new OcikitError('E_BAD_INPUT', `reading ${where}/oci-layout: malformed JSON`);
  }
  const ver = (v as { imageLayoutVersion?: unknown })?.imageLayoutVersion;
  if (typeof ver !== 'string' || !/^1\.\d+\.\d+$/.test(ver)) {
    throw new OcikitError(
      'E_UNSUPPORTED',
      `reading ${where}/oci-layout: unsupported imageLayoutVersion ${ver === undefined ? 'undefined' : quoteUntrusted(typeof ver === 'string' ? ver : JSON.stringify(ver), 40)}`,
    );
  }
}

/** What a reference resolves to in a layout: one descriptor, or the whole index.json as a multi-arch index. */
export type LayoutChoice = { kind: 'descriptor'; descriptor: Descriptor } | { kind: 'synthetic-index'; bytes: Buffer; digest: Digest; mediaType: string };

/**
 * Choose the image named by `ref` / `index` in a layout's index.json.
 *
 * With no ref and several untagged entries that all carry a platform, the index.json itself is the
 * image: a multi-arch index written at the top level (what buildx and others write). skopeo refuses
 * such layouts (containers/skopeo#1136); we read them.
 */
export function chooseFromLayout(index: OciIndex, indexBytes: Buffer, sel: { ref?: string; index?: number }, where: string): LayoutChoice {
  const entries = index.manifests;
  if (sel.index !== undefined) {
    const d = entries[sel.index];
    if (!d) throw new OcikitError('E_NOT_FOUND', `${where}: no image @${sel.index}: the layout holds ${entries.length}`);
    return { kind: 'descriptor', descriptor: d };
  }
  if (sel.ref !== undefined) {
    const found = entries.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] === sel.ref);
    if (found.length === 0) {
      throw new OcikitError('E_NOT_FOUND', `${where}: no image named ${quoteUntrusted(sel.ref)}${refList(entries)}`);
    }
    if (found.length === 1) return { kind: 'descriptor', descriptor: found[0]! };
    return synthetic(found);
  }
  if (entries.length === 0) throw new OcikitError('E_NOT_FOUND', `${where}: the layout holds no images`);
  if (entries.length === 1) return { kind: 'descriptor', descriptor: entries[0]! };
  // Referrers listed in index.json (entries with an artifactType, as referrers are written: see
  // referrers.ts) are not images to choose from: a layout holding one image and its signatures
  // still names that image without a ref.
  const images = entries.filter((d) => d.artifactType === undefined);
  if (images.length === 1) return { kind: 'descriptor', descriptor: images[0]! };
  const untaggedPlatforms = entries.every((d) => d.platform && !d.annotations?.[REF_NAME_ANNOTATION]);
  if (untaggedPlatforms) return { kind: 'synthetic-index', bytes: indexBytes, digest: digestBytes(indexBytes), mediaType: OCI_INDEX };
  throw new OcikitError('E_USAGE', `${where}: the layout holds ${entries.length} images; name one as PATH:REF or PATH:@N${refList(entries)}`);
}

function synthetic(entries: Descriptor[]): LayoutChoice {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }));
  return { kind: 'synthetic-index', bytes, digest: digestBytes(bytes), mediaType: OCI_INDEX };
}

function refList(entries: Descriptor[]): string {
  const refs = entries.map((d) => d.annotations?.[REF_NAME_ANNOTATION]).filter((r): r is string => !!r);
  return refs.length ? ` (refs: ${refs.join(', ')})` : '';
}

/** A blob's path inside a shared blob directory (--shared-blob-dir): <alg>/<hex>. */
export function sharedBlobPath(d: Digest): string {
  return layoutBlobPath(d).slice('blobs/'.length);
}

/** The blob path inside a layout for a digest: blobs/<alg>/<hex>. */
export function layoutBlobPath(d: Digest): string {
  const i = d.indexOf(':');
  return `blobs/${d.slice(0, i)}/${d.slice(i + 1)}`;
}

/** Refs named in a layout, in index order (list-tags). */
export function layoutRefs(index: OciIndex): string[] {
  return index.manifests.map((d) => d.annotations?.[REF_NAME_ANNOTATION]).filter((r): r is string => !!r);
}
