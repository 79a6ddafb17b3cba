/**
 * OCI 1.1 artifacts for tests, built here byte by byte (not by ocikit): artifact manifests with a
 * `subject`, written into an OCI layout the way oras does (an untagged index.json entry) or pushed
 * to a registry with plain distribution-API requests (monolithic blob upload, manifest PUT), so
 * that what ocikit reads was produced by another client.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha } from '../../support/digest.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const EMPTY_JSON = 'application/vnd.oci.empty.v1+json';

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  data?: string;
  platform?: { architecture: string; os: string };
}

/** A manifest with the blobs it names. */
export interface Built {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  /** Blobs by digest (config and layers; for an index, its children's blobs). */
  blobs: Map<string, Buffer>;
  /** Child manifests of an index, in order. */
  children: Built[];
  /** The descriptor of this manifest (for a subject or an index entry). */
  desc: Desc;
}

/** A descriptor of a blob, and the blob. */
export function blob(mediaType: string, bytes: Buffer | string, extra: Partial<Desc> = {}): { desc: Desc; bytes: Buffer } {
  const b = Buffer.from(bytes);
  return { desc: { mediaType, digest: sha(b), size: b.length, ...extra }, bytes: b };
}

/** The empty descriptor of the image-spec (config of artifacts without one), with its `data`. */
export function emptyConfig(): { desc: Desc; bytes: Buffer } {
  return blob(EMPTY_JSON, '{}', { data: 'e30=' });
}

/**
 * An artifact manifest: `layers` as given, config the empty descriptor unless given, `subject`
 * the manifest it refers to (absent: no subject).
 */
export function artifact(o: {
  artifactType?: string;
  config?: { desc: Desc; bytes: Buffer };
  layers: Array<{ desc: Desc; bytes: Buffer }>;
  subject?: Desc;
  annotations?: Record<string, string>;
}): Built {
  const config = o.config ?? emptyConfig();
  const m: Record<string, unknown> = { schemaVersion: 2, mediaType: OCI_MANIFEST };
  if (o.artifactType) m.artifactType = o.artifactType;
  m.config = config.desc;
  m.layers = o.layers.map((l) => l.desc);
  if (o.subject) m.subject = { mediaType: o.subject.mediaType, digest: o.subject.digest, size: o.subject.size };
  if (o.annotations) m.annotations = o.annotations;
  const bytes = Buffer.from(JSON.stringify(m));
  const blobs = new Map<string, Buffer>([[config.desc.digest, config.bytes], ...o.layers.map((l) => [l.desc.digest, l.bytes] as [string, Buffer])]);
  return { bytes, digest: sha(bytes), mediaType: OCI_MANIFEST, blobs, children: [], desc: { mediaType: OCI_MANIFEST, digest: sha(bytes), size: bytes.length } };
}

/** An OCI index with a subject (an index referrer), listing `children`. */
export function artifactIndex(o: { artifactType?: string; children: Built[]; subject: Desc }): Built {
  const m: Record<string, unknown> = { schemaVersion: 2, mediaType: OCI_INDEX };
  if (o.artifactType) m.artifactType = o.artifactType;
  m.manifests = o.children.map((c) => ({ mediaType: c.mediaType, digest: c.digest, size: c.bytes.length }));
  m.subject = { mediaType: o.subject.mediaType, digest: o.subject.digest, size: o.subject.size };
  const bytes = Buffer.from(JSON.stringify(m));
  const blobs = new Map<string, Buffer>();
  for (const c of o.children) for (const [k, v] of c.blobs) blobs.set(k, v);
  return { bytes, digest: sha(bytes), mediaType: OCI_INDEX, blobs, children: o.children, desc: { mediaType: OCI_INDEX, digest: sha(bytes), size: bytes.length } };
}

/** The descriptor index.json gives the manifest tagged `ref` in the layout at `root`. */
export function layoutEntry(root: string, ref: string): Desc {
  const idx = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')) as { manifests: Array<Desc & { annotations?: Record<string, string> }> };
  const d = idx.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref);
  if (!d) throw new Error(`no ${ref} in ${root}`);
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/**
 * Write `m` (its blobs, its children, itself) into the layout at `root`, and an index.json entry
 * for it (untagged unless `ref`; none with `entry: false`).
 */
export function addToLayout(root: string, m: Built, entry: { ref?: string; desc?: Partial<Desc>; entry?: boolean } = {}): void {
  const put = (d: string, b: Buffer): void => writeFileSync(join(root, 'blobs', 'sha256', d.slice(7)), b);
  const all = (x: Built): void => {
    for (const [d, b] of x.blobs) put(d, b);
    for (const c of x.children) all(c);
    put(x.digest, x.bytes);
  };
  all(m);
  if (entry.entry === false) return;
  const path = join(root, 'index.json');
  const idx = JSON.parse(readFileSync(path, 'utf8')) as { manifests: Desc[] };
  const e: Desc = { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, ...entry.desc };
  if (entry.ref) e.annotations = { ...(e.annotations ?? {}), 'org.opencontainers.image.ref.name': entry.ref };
  idx.manifests.push(e);
  writeFileSync(path, JSON.stringify(idx));
}

/** Push a blob to `repo` of the plain-http registry at `host` (POST, then one PUT). */
export async function pushBlob(host: string, repo: string, bytes: Buffer): Promise<void> {
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  if (start.status !== 202) throw new Error(`POST upload: ${start.status}`);
  const loc = new URL(start.headers.get('location')!, `http://${host}`);
  loc.searchParams.set('digest', sha(bytes));
  const put = await fetch(loc, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`PUT blob: ${put.status}`);
}

/** PUT a manifest under `reference` (a tag or its digest); returns the response headers. */
export async function pushManifest(host: string, repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<Headers> {
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${reference}`, { method: 'PUT', headers: { 'content-type': mediaType }, body: bytes });
  const text = await r.text();
  if (r.status !== 201) throw new Error(`PUT manifest ${reference}: ${r.status} ${text}`);
  return r.headers;
}

/** Push `m` (blobs, children by digest, then itself by digest) to the registry. */
export async function pushBuilt(host: string, repo: string, m: Built): Promise<void> {
  for (const b of m.blobs.values()) await pushBlob(host, repo, b);
  for (const c of m.children) await pushBuilt(host, repo, c);
  await pushManifest(host, repo, m.digest, m.bytes, m.mediaType);
}

/** GET a manifest by tag or digest: status and bytes. */
export async function getManifest(host: string, repo: string, reference: string): Promise<{ status: number; bytes: Buffer; type: string | null }> {
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${reference}`, { headers: { accept: [OCI_INDEX, OCI_MANIFEST, 'application/vnd.docker.distribution.manifest.v2+json'].join(', ') } });
  return { status: r.status, bytes: Buffer.from(await r.arrayBuffer()), type: r.headers.get('content-type') };
}

/** The tags of `repo` ([] when the repository does not exist). */
export async function tags(host: string, repo: string): Promise<string[]> {
  const r = await fetch(`http://${host}/v2/${repo}/tags/list`);
  const v = (await r.json()) as { tags?: string[] | null };
  return r.status === 200 ? [...(v.tags ?? [])].sort() : [];
}
