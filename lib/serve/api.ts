/**
 * The handlers of the distribution API, one function per endpoint. Every handler gets a parsed,
 * validated route (repository name checked against the grammar, tag or digest parsed) and answers
 * through `res`; errors are thrown as ApiError and answered by the server.
 */
import { openSync, closeSync, fstatSync, read } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { algorithmOf, digestBytes, parseDigest, shortDigest, type Digest } from '../digest/index.js';
import { isOcikitError } from '../errors.js';
import {
  DOCKER_LIST,
  DOCKER_V2S2_MANIFEST,
  MAX_MANIFEST_SIZE,
  OCI_INDEX,
  OCI_MANIFEST,
  guessManifestMediaType,
  isNondistributableLayer,
  normalizeMediaType,
  parseManifest,
  subjectOf,
  type Descriptor,
} from '../manifest/index.js';
import type { BlobStore } from '../store/index.js';
import { isRepositoryName, refsToDelete, resolveStoreName, servedRepositories, servedTags, storeRefName } from '../transports/store/names.js';
import { ApiError, toApiError } from './errors.js';
import type { Mirror } from './mirror.js';
import type { ManifestCache } from './repository.js';
import type { Uploads } from './uploads.js';

/** The manifest media types the server stores and serves; anything else is refused on push. */
export const SERVED_MANIFEST_TYPES: readonly string[] = [OCI_MANIFEST, OCI_INDEX, DOCKER_V2S2_MANIFEST, DOCKER_LIST];

/** What the handlers work with. */
export interface ApiContext {
  store: BlobStore;
  uploads: Uploads;
  /** What each repository holds (refs, and the manifests they reach). */
  manifests: ManifestCache;
  /**
   * Blobs are answered, mounted and accepted in a manifest only through a repository that holds
   * them (an access policy is set, so repositories are not all readable by the same people).
   * Otherwise the store is one pool: any blob it holds, under any repository name.
   */
  perRepository: boolean;
  /** How long a pushed blob counts as the repository's before a manifest names it (the gc grace). */
  recentMs: number;
  /** The pull-through mirror, when --mirror is given. */
  mirror?: Mirror;
  /** Called after a push placed a blob or a manifest (the gc lease holds on while pushes go on). */
  pushed(): void;
}

/** The answer headers every response of a blob or manifest carries. */
function contentHeaders(digest: Digest, size: number, type: string): Record<string, string> {
  return { 'Content-Type': type, 'Content-Length': String(size), 'Docker-Content-Digest': digest, ETag: `"${digest}"` };
}

export function send(res: ServerResponse, status: number, headers: Record<string, string>, body?: string | Buffer): void {
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  res.writeHead(status, { ...(b ? { 'Content-Length': String(b.length) } : { 'Content-Length': '0' }), ...headers });
  res.end(b);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, { 'Content-Type': 'application/json', ...headers }, JSON.stringify(value));
}

// === /v2/_catalog and /v2/NAME/tags/list

/** `n` and `last` of a paginated list: PAGINATION_NUMBER_INVALID for a bad n. */
function pageParams(q: URLSearchParams): { n: number | undefined; last: string | undefined } {
  const nRaw = q.get('n');
  let n: number | undefined;
  if (nRaw !== null && nRaw !== '') {
    n = Number(nRaw);
    if (!Number.isSafeInteger(n) || n < 0) throw new ApiError('PAGINATION_NUMBER_INVALID', `invalid number of results requested: ${JSON.stringify(nRaw.slice(0, 40))}`);
  }
  const last = q.get('last') ?? undefined;
  return { n, last: last === '' ? undefined : last };
}

/** One page of a sorted list, and the Link header to the next page when there is one. */
function page(all: string[], q: URLSearchParams, path: string): { items: string[]; headers: Record<string, string> } {
  const { n, last } = pageParams(q);
  const rest = last === undefined ? all : all.filter((x) => x > last);
  if (n === undefined) return { items: rest, headers: {} };
  const items = rest.slice(0, n);
  const headers: Record<string, string> = {};
  if (items.length > 0 && rest.length > items.length) {
    headers.Link = `<${path}?n=${n}&last=${encodeURIComponent(items[items.length - 1]!)}>; rel="next"`;
  }
  return { items, headers };
}

/** The catalog: the repositories `mayList` lets the client see. */
export function catalog(c: ApiContext, res: ServerResponse, q: URLSearchParams, mayList: (repository: string) => boolean): void {
  const { items, headers } = page(servedRepositories(c.store).filter(mayList), q, '/v2/_catalog');
  sendJson(res, 200, { repositories: items }, headers);
}

export function tagsList(c: ApiContext, res: ServerResponse, name: string, q: URLSearchParams): void {
  const tags = servedTags(c.store, name);
  if (tags === undefined) throw new ApiError('NAME_UNKNOWN', 'repository name not known to registry', { name });
  const { items, headers } = page(tags, q, `/v2/${name}/tags/list`);
  sendJson(res, 200, { name, tags: items }, headers);
}

// === manifests

export type ManifestRef = { tag: string; digest?: undefined } | { digest: Digest; tag?: undefined };

/** A manifest by tag or digest, its bytes verified against the digest; MANIFEST_UNKNOWN otherwise. */
async function findManifest(c: ApiContext, name: string, ref: ManifestRef): Promise<{ digest: Digest; bytes: Buffer; mediaType: string }> {
  const what = ref.tag !== undefined ? `${name}:${ref.tag}` : `${name}@${ref.digest}`;
  const unknown = (): ApiError => new ApiError('MANIFEST_UNKNOWN', `manifest unknown: ${what}`, ref.tag !== undefined ? { tag: ref.tag } : { digest: ref.digest });
  // By tag: through the refs; by digest: a manifest the repository holds (a ref of it, or a child
  // of one), so one deleted from the repository is gone from it at once.
  const local = async (): Promise<Digest | undefined> => {
    if (ref.digest !== undefined) return (await c.manifests.holds(name, ref.digest)) ? ref.digest : undefined;
    return resolveStoreName(c.store, name, { tag: ref.tag })?.digest;
  };
  let digest = await local();
  // A mirrored repository: fetched on a miss, a tag checked again when old. A tag pushed here
  // (store:) is this server's own and never looked up upstream.
  if (c.mirror) {
    const pushedHere = ref.tag !== undefined && resolveStoreName(c.store, name, { tag: ref.tag })?.ref.startsWith('store:') === true;
    if (!pushedHere && (await c.mirror.manifest(name, ref, digest))) digest = await local();
  }
  if (digest === undefined) throw unknown();
  let bytes: Buffer;
  try {
    // Verified against the digest on every read (cheap at manifest sizes); a layer asked for as a manifest is too big to be one.
    bytes = await c.store.readBytes(digest, MAX_MANIFEST_SIZE);
  } catch (err) {
    if (isOcikitError(err, 'E_NOT_FOUND') || isOcikitError(err, 'E_MANIFEST_TOO_BIG')) throw unknown();
    throw err;
  }
  let mediaType: string | undefined;
  try {
    mediaType = guessManifestMediaType(bytes);
  } catch {
    mediaType = undefined;
  }
  if (mediaType === undefined || !SERVED_MANIFEST_TYPES.includes(mediaType)) throw unknown();
  return { digest, bytes, mediaType };
}

export async function getManifest(c: ApiContext, req: IncomingMessage, res: ServerResponse, name: string, ref: ManifestRef): Promise<void> {
  const m = await findManifest(c, name, ref);
  const headers = contentHeaders(m.digest, m.bytes.length, m.mediaType);
  if (req.method === 'HEAD') {
    res.writeHead(200, headers);
    res.end();
    return;
  }
  send(res, 200, headers, m.bytes);
}

/** Read a request body of at most `limit` bytes into memory; 413 (with `code`) above it, checked on Content-Length first. */
export async function readBody(req: IncomingMessage, limit: number, code: 'MANIFEST_INVALID' | 'SIZE_INVALID'): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  const tooBig = (): ApiError => new ApiError(code, `the request body is larger than the limit of ${limit} bytes`, { limit }, { status: 413 });
  if (Number.isFinite(declared) && declared > limit) throw tooBig();
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) throw tooBig();
    parts.push(chunk);
  }
  if (!req.complete) throw new ApiError('BLOB_UPLOAD_INVALID', 'the request body ended early');
  return Buffer.concat(parts, n);
}

/**
 * PUT a manifest: at most 4 MiB; a media type the server serves (Content-Type, else the
 * manifest's own field); valid JSON of that type; every blob and child manifest it refers to
 * already in the store (MANIFEST_BLOB_UNKNOWN otherwise; non-distributable layers excepted); by
 * digest, the body must have that digest. Then it is stored and the ref `store:NAME:TAG` (or
 * `store:NAME@DIGEST`) points at it.
 */
export async function putManifest(c: ApiContext, req: IncomingMessage, res: ServerResponse, name: string, ref: ManifestRef): Promise<void> {
  const declared = normalizeMediaType(req.headers['content-type']);
  if (declared !== undefined && !SERVED_MANIFEST_TYPES.includes(declared)) {
    throw new ApiError('MANIFEST_INVALID', `unsupported manifest media type ${JSON.stringify(declared.slice(0, 200))}`, { mediaType: declared.slice(0, 200) }, { status: 415 });
  }
  const bytes = await readBody(req, MAX_MANIFEST_SIZE, 'MANIFEST_INVALID');
  let parsed;
  try {
    parsed = parseManifest(bytes, declared);
  } catch (err) {
    throw toApiError(err, { invalid: 'MANIFEST_INVALID' });
  }
  // By digest: hashed with that digest's algorithm (sha512 too); by tag: sha256, as every client expects.
  const digest = digestBytes(bytes, ref.digest !== undefined ? algorithmOf(ref.digest) : 'sha256');
  if (ref.digest !== undefined && ref.digest !== digest) {
    throw new ApiError('DIGEST_INVALID', `the manifest has digest ${digest}, not ${ref.digest}`, { digest: ref.digest });
  }
  const children: Descriptor[] = parsed.kind === 'oci-index' || parsed.kind === 'docker-list' ? [...parsed.value.manifests] : [parsed.value.config, ...parsed.value.layers];
  for (const d of children) {
    const st = c.store.stat(d.digest);
    // Per repository: a blob or child manifest must be the repository's (pushed, mounted, or named
    // by a manifest it holds), so no one reads another repository's blob by naming its digest.
    const held = st !== undefined && (!c.perRepository || (await c.manifests.holdsBlob(name, d.digest, c.recentMs)) || (await c.manifests.holds(name, d.digest)));
    if (!held) {
      if (isNondistributableLayer(d.mediaType) && (d.urls?.length ?? 0) > 0) continue;
      throw new ApiError('MANIFEST_BLOB_UNKNOWN', `blob unknown to registry: ${d.digest}`, { digest: d.digest });
    }
    if (st.size !== d.size) throw new ApiError('MANIFEST_INVALID', `${shortDigest(d.digest)} has ${st.size} bytes, the manifest says ${d.size}`, { digest: d.digest });
  }
  await c.store.put(bytes, { digest, what: `manifest ${name}${ref.tag !== undefined ? `:${ref.tag}` : `@${digest}`} pushed to ocikit serve`, mediaType: parsed.mediaType });
  c.store.setRef(storeRefName(ref.tag !== undefined ? { repository: name, tag: ref.tag } : { repository: name, digest }), digest);
  c.pushed();
  // A referrer: the answer says the referrers API lists it (so the client need not update the
  // subject's fallback tag). The subject need not exist (yet).
  const subject = subjectOf(parsed)?.digest;
  send(res, 201, { Location: `/v2/${name}/manifests/${digest}`, 'Docker-Content-Digest': digest, ...(subject !== undefined ? { 'OCI-Subject': subject } : {}) });
}

// === referrers (OCI distribution-spec 1.1)

/**
 * GET /v2/NAME/referrers/DIGEST: an OCI index of the manifests of the repository whose `subject`
 * is DIGEST, each with its artifactType and annotations; `?artifactType=` keeps those of that type
 * (and the answer says so in OCI-Filters-Applied). Never 404: a subject without referrers, or
 * not there at all, gets an empty index.
 */
export async function referrers(c: ApiContext, res: ServerResponse, name: string, subject: Digest, q: URLSearchParams): Promise<void> {
  const wanted = q.get('artifactType');
  const found = [...(await c.manifests.manifestsOf(name)).values()].filter((f) => f.subject === subject);
  const listed = found.map((f) => f.descriptor).filter((d) => wanted === null || d.artifactType === wanted);
  listed.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  const headers: Record<string, string> = { 'Content-Type': OCI_INDEX };
  if (wanted !== null) headers['OCI-Filters-Applied'] = 'artifactType';
  sendJson(res, 200, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: listed }, headers);
}

/** DELETE a manifest by tag (that tag) or digest (every tag of the repository pointing at it). The blobs stay until store gc. */
export function deleteManifest(c: ApiContext, res: ServerResponse, name: string, ref: ManifestRef): void {
  const refs = refsToDelete(c.store, name, ref);
  if (refs.length === 0) throw new ApiError('MANIFEST_UNKNOWN', 'manifest unknown', ref.tag !== undefined ? { tag: ref.tag } : { digest: ref.digest });
  for (const r of refs) c.store.deleteRef(r);
  send(res, 202, {});
}

// === blobs

/** Parse a Range header against `size`: the byte range to send, undefined for the whole blob, RANGE_INVALID when unsatisfiable. */
export function parseRange(h: string | undefined, size: number): { start: number; end: number } | undefined {
  if (h === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  // Several ranges or another unit: answered with the whole blob, as RFC 9110 allows.
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const unsatisfiable = (): ApiError => new ApiError('RANGE_INVALID', `range ${JSON.stringify(h.slice(0, 100))} is not satisfiable`, undefined, { headers: { 'Content-Range': `bytes */${size}` } });
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable();
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (!Number.isSafeInteger(start) || start >= size || end < start) throw unsatisfiable();
  }
  if (size === 0) throw unsatisfiable();
  return { start, end };
}

/**
 * GET or HEAD a blob: streamed from the store's file through a descriptor opened before the answer
 * starts (gc unlinking the file meanwhile cannot cut it short), with Range. Never read into memory.
 */
export async function getBlob(c: ApiContext, req: IncomingMessage, res: ServerResponse, name: string, digest: Digest): Promise<void> {
  const held = async (): Promise<boolean> => !c.perRepository || (await c.manifests.holdsBlob(name, digest, c.recentMs));
  let st = (await held()) ? c.store.stat(digest) : undefined;
  // A mirrored repository: a blob missing here is fetched from upstream (verified), kept, then served.
  if (!st && c.mirror && (await c.mirror.blob(name, digest))) {
    c.manifests.notePushed(name, digest);
    st = c.store.stat(digest);
  }
  let fd: number | undefined;
  try {
    if (st) fd = openSync(st.path, 'r');
  } catch {
    fd = undefined;
  }
  if (fd === undefined) throw new ApiError('BLOB_UNKNOWN', `blob unknown to registry: ${digest}`, { digest });
  try {
    const size = fstatSync(fd).size;
    const range = parseRange(req.headers.range, size);
    const headers = contentHeaders(digest, size, 'application/octet-stream');
    headers['Accept-Ranges'] = 'bytes';
    headers['Cache-Control'] = 'max-age=31536000';
    if (range) {
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
      headers['Content-Length'] = String(range.end - range.start + 1);
    }
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    await sendRange(fd, range?.start ?? 0, range?.end ?? size - 1, res).catch(() => {
      // The client went away or timed out, or the file could not be read: nothing to answer any more.
      res.destroy();
    });
  } finally {
    closeSync(fd);
  }
}

/** Bytes per read and write when a blob is sent. */
const SEND_CHUNK = 1 << 20;
const readAt = promisify(read);

/**
 * Send bytes `start..end` (inclusive) of the open file `fd` as the body of `res`, then end it.
 *
 * Two buffers, reused: a buffer is read into again only after its last write reached the socket
 * (its write callback), so at most two chunks are in flight (backpressure) and reading the next
 * chunk overlaps sending the last. Measured against a read stream piped to the answer (which
 * allocates a fresh buffer per chunk): about a quarter less CPU per byte sent (0.43 against 0.57
 * s/GB, 3 blobs at a time, loopback), which is what a 2-core server pulling at full speed lacks.
 * Rejects when the client goes away (the answer closes first) or the file cannot be read; the
 * caller owns `fd`.
 */
async function sendRange(fd: number, start: number, end: number, res: ServerResponse): Promise<void> {
  const bufs = [Buffer.allocUnsafeSlow(Math.min(SEND_CHUNK, end - start + 1)), Buffer.allocUnsafeSlow(Math.min(SEND_CHUNK, end - start + 1))];
  const written: Array<Promise<void>> = [Promise.resolve(), Promise.resolve()];
  const closed = new Promise<never>((_, reject) => res.once('close', () => reject(new Error('the client went away'))));
  closed.catch(() => undefined);
  let pos = start;
  for (let i = 0; pos <= end; i ^= 1) {
    await Promise.race([written[i], closed]);
    const buf = bufs[i]!;
    const { bytesRead } = await readAt(fd, buf, 0, Math.min(buf.length, end - pos + 1), pos);
    if (bytesRead === 0) throw new Error('the blob file ended early');
    pos += bytesRead;
    const chunk = bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    written[i] = new Promise<void>((resolve, reject) => res.write(chunk, (err) => (err ? reject(err) : resolve())));
    written[i]!.catch(() => undefined);
  }
  await Promise.race([Promise.all(written), closed]);
  await new Promise<void>((resolve) => res.end(resolve));
}

// === uploads

function uploadHeaders(name: string, id: string, offset: number): Record<string, string> {
  return { Location: `/v2/${name}/blobs/uploads/${id}`, Range: `0-${Math.max(0, offset - 1)}`, 'Docker-Upload-UUID': id };
}

function blobCreated(res: ServerResponse, name: string, digest: Digest): void {
  send(res, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
}

function queryDigest(q: URLSearchParams): Digest {
  const d = q.get('digest');
  if (d === null || d === '') throw new ApiError('DIGEST_INVALID', 'the digest parameter is missing');
  try {
    return parseDigest(d, 'digest parameter');
  } catch (err) {
    throw new ApiError('DIGEST_INVALID', (err as Error).message);
  }
}

/** Whether the request has a body to read (a PUT that closes an upload may have none). */
function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

/** Store a whole blob from a request body, verified against `digest` as it is written (BlobStore.put). */
async function putWhole(c: ApiContext, req: IncomingMessage, name: string, digest: Digest): Promise<void> {
  const len = req.headers['content-length'];
  const size = len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined;
  try {
    await c.store.put(req, { digest, ...(size !== undefined ? { size } : {}), what: `blob ${shortDigest(digest)} pushed to ${name}` });
  } catch (err) {
    throw toApiError(err, { invalid: 'BLOB_UPLOAD_INVALID' });
  }
  if (!req.complete) throw new ApiError('BLOB_UPLOAD_INVALID', 'the request body ended early');
  c.manifests.notePushed(name, digest);
  c.pushed();
}

/**
 * POST /v2/NAME/blobs/uploads/: a cross-repository mount, a monolithic upload (?digest=), or a new
 * session. A mount of a blob the store holds succeeds; per repository, only from a repository
 * (`from`) that holds it and that the client may pull (`mayPull`). Otherwise a session starts, as
 * the spec says, and the client uploads the blob.
 */
export async function startUpload(c: ApiContext, req: IncomingMessage, res: ServerResponse, name: string, q: URLSearchParams, client: string, mayPull: (repository: string) => boolean): Promise<void> {
  const mount = q.get('mount');
  if (mount !== null) {
    let d: Digest | undefined;
    try {
      d = parseDigest(mount, 'mount parameter');
    } catch {
      d = undefined;
    }
    const from = q.get('from') ?? '';
    const mayMount = !c.perRepository || (isRepositoryName(from) && mayPull(from) && d !== undefined && (await c.manifests.holdsBlob(from, d, c.recentMs)));
    if (d !== undefined && mayMount && c.store.has(d)) {
      c.manifests.notePushed(name, d);
      c.pushed();
      blobCreated(res, name, d);
      return;
    }
  }
  if (q.get('digest') !== null) {
    const digest = queryDigest(q);
    await putWhole(c, req, name, digest);
    blobCreated(res, name, digest);
    return;
  }
  const s = await c.uploads.create(name, client);
  send(res, 202, uploadHeaders(name, s.id, 0));
}

/** "START-END" (distribution's Content-Range for chunks; "bytes " accepted too): the start, or RANGE_INVALID. */
function chunkStart(h: string | undefined): number | undefined {
  if (h === undefined) return undefined;
  const m = /^(?:bytes )?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(h.trim());
  if (!m) throw new ApiError('RANGE_INVALID', `invalid Content-Range ${JSON.stringify(h.slice(0, 100))}`);
  return Number(m[1]);
}

/** PATCH a chunk into a session. */
export async function patchUpload(c: ApiContext, req: IncomingMessage, res: ServerResponse, name: string, id: string): Promise<void> {
  const s = c.uploads.get(name, id);
  c.uploads.claim(s);
  try {
    await c.uploads.append(s, req, chunkStart(req.headers['content-range']));
  } finally {
    c.uploads.release(s);
  }
  send(res, 202, uploadHeaders(name, s.id, s.offset));
}

/** PUT ?digest=D: the last chunk (if any) and the end of the upload: verified, then placed in the store. */
export async function finishUpload(c: ApiContext, req: IncomingMessage, res: ServerResponse, name: string, id: string, q: URLSearchParams): Promise<void> {
  const s = c.uploads.get(name, id);
  const digest = queryDigest(q);
  c.uploads.claim(s);
  try {
    if (s.offset === 0 && hasBody(req)) {
      // The whole blob in this one request: BlobStore.put verifies it as it writes.
      await c.uploads.cancel(s);
      await putWhole(c, req, name, digest);
    } else {
      if (hasBody(req)) await c.uploads.append(s, req, chunkStart(req.headers['content-range']));
      await c.uploads.finish(s, digest, `blob ${shortDigest(digest)} pushed to ${name}`);
      c.manifests.notePushed(name, digest);
      c.pushed();
    }
  } finally {
    c.uploads.release(s);
  }
  blobCreated(res, name, digest);
}

/** GET an upload's progress. */
export function uploadStatus(c: ApiContext, res: ServerResponse, name: string, id: string): void {
  const s = c.uploads.get(name, id);
  send(res, 204, uploadHeaders(name, s.id, s.offset));
}

/** DELETE an upload. */
export async function cancelUpload(c: ApiContext, res: ServerResponse, name: string, id: string): Promise<void> {
  const s = c.uploads.get(name, id);
  await c.uploads.cancel(s);
  send(res, 204, {});
}
