/**
 * Repository: the distribution API for one repository of a registry (OCI distribution-spec,
 * "Docker Registry HTTP API V2"): manifests by tag or digest, blobs with HEAD / resumable GET /
 * cross-repository mount, upload sessions, tag listing with Link pagination, deletion.
 *
 * WARNING: the registry is untrusted. Manifests are refused above MAX_MANIFEST_SIZE without being
 * read whole (Content-Length first, then a counting read); a manifest fetched by digest is verified
 * here; blobs are verified by whoever stores them (the copy pipeline's store) — this module only
 * makes sure a stream never silently ends short.
 */
import { Readable } from 'node:stream';
import { OcikitError } from '../errors.js';
import { digestBytes, isDigest, shortDigest, verifyBytes, type Digest } from '../digest/index.js';
import {
  DOCKER_LIST,
  DOCKER_V2S2_MANIFEST,
  MAX_MANIFEST_SIZE,
  OCI_INDEX,
  OCI_MANIFEST,
  isIndexMediaType,
  isManifestMediaType,
  normalizeMediaType,
  parseManifest,
  type Descriptor,
} from '../manifest/index.js';
import { RegistryError } from './errors.js';
import { describeNetworkError } from './http.js';
import { dump, header, readCapped, type RegistryClient, type RegistryResponse } from './client.js';
import { hostSemaphore } from './limiter.js';
import { GiveUp, retryWait, sleep, withRetries } from './retry.js';

/** The manifest types ocikit reads, best first, as one Accept value. */
export const MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_V2S2_MANIFEST].join(', ');

/** A manifest as the registry served it. */
export interface FetchedManifest {
  bytes: Buffer;
  /** The Content-Type when it is a manifest type, else ''. */
  mediaType: string;
  digest: Digest;
}

/** What HEAD says of a manifest. */
export interface ManifestHead {
  /** Docker-Content-Digest, when the registry sent a valid one. */
  digest?: Digest;
  mediaType: string;
  /** Content-Length, or -1 when the registry sent none or garbage. */
  size: number;
}

/** An upload session the registry opened. */
export interface UploadSession {
  /** Absolute URL of the session (the registry's Location). */
  location: string;
  /** OCI-Chunk-Min-Length: chunks of a chunked upload must be at least this long (0: no minimum). */
  minChunk: number;
}

const MAX_TAGS_PAGE = 16 * 1024 * 1024;
const MAX_TAG_PAGES = 10_000;
/** Pages of a referrers list read at most (each up to MAX_MANIFEST_SIZE). */
const MAX_REFERRER_PAGES = 1000;

/** What the registry said when it stored a manifest. */
export interface PushedManifest {
  digest: Digest;
  /**
   * The OCI-Subject header: a registry with the referrers API sends it when it stored a manifest
   * that has a `subject`, to say it indexed it; without it, the pusher maintains the fallback tag.
   */
  ociSubject?: string;
}

/** A referrers list as the referrers API served it (every page). */
export interface ReferrersAnswer {
  manifests: Descriptor[];
  /** OCI-Filters-Applied: the filters the registry applied (`artifactType`), else empty. */
  filtersApplied: string[];
}

/** A tag as it is, a digest shortened. */
function refLabel(reference: string): string {
  return isDigest(reference) ? shortDigest(reference) : reference;
}

function manifestType(contentType: string | undefined): string {
  const t = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return isManifestMediaType(t) || isIndexMediaType(t) ? t : '';
}

/** The next-page URL of an RFC 8288 Link header, if it has one. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(^|;)\s*rel\s*=\s*"?next"?\s*(;|$)/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

/** The distribution API for one repository: see the module comment. */
export class Repository {
  /** "host/path", as the store's location cache and messages know it. */
  readonly name: string;
  readonly #scopes: string[];

  /**
   * `path` is the repository inside the registry ("library/busybox"); `actions` the token actions
   * every request of this object asks for (one token then serves them all).
   */
  constructor(
    readonly client: RegistryClient,
    readonly path: string,
    actions: string[] = ['pull'],
  ) {
    this.name = `${client.registry}/${path}`;
    this.#scopes = [`repository:${path}:${actions.join(',')}`];
  }

  private what(doing: string): string {
    return `${doing} docker://${this.name}`;
  }

  /** HEAD a manifest by tag or digest; undefined when the registry does not have it. */
  async headManifest(reference: string): Promise<ManifestHead | undefined> {
    const res = await this.client.send({
      method: 'HEAD',
      path: `/v2/${this.path}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
      scopes: this.#scopes,
      what: this.what(`checking manifest ${refLabel(reference)} of`),
      ok: [200, 404],
    });
    await dump(res.body);
    if (res.status === 404) return undefined;
    const d = header(res.headers, 'docker-content-digest');
    const n = Number(header(res.headers, 'content-length'));
    return {
      ...(d && isDigest(d) ? { digest: d } : {}),
      mediaType: manifestType(header(res.headers, 'content-type')),
      size: Number.isSafeInteger(n) && n >= 0 ? n : -1,
    };
  }

  /**
   * GET a manifest by tag or digest. A reference that is a digest is verified against the bytes.
   * E_NOT_FOUND when absent; E_MANIFEST_TOO_BIG above MAX_MANIFEST_SIZE, refused unread when the
   * registry declares the length and cut off at the limit when it does not.
   */
  async getManifest(reference: string): Promise<FetchedManifest> {
    const what = this.what(`reading manifest ${refLabel(reference)} from`);
    // A body cut short is fetched again, as any failed request would be; the request itself went
    // through send()'s retries already, so its failure ends the loop.
    return withRetries(this.client.retryPolicy, what, async () => {
      let res: RegistryResponse;
      try {
        res = await this.client.send({
          method: 'GET',
          path: `/v2/${this.path}/manifests/${reference}`,
          headers: { accept: MANIFEST_ACCEPT },
          scopes: this.#scopes,
          what,
          ok: [200],
        });
      } catch (err) {
        throw new GiveUp(err);
      }
      const declared = Number(header(res.headers, 'content-length') ?? -1);
      if (declared > MAX_MANIFEST_SIZE) {
        res.body.destroy();
        throw new OcikitError('E_MANIFEST_TOO_BIG', `${what}: the registry declares ${declared} bytes, over the ${MAX_MANIFEST_SIZE}-byte limit`);
      }
      const bytes = await readLimited(res, MAX_MANIFEST_SIZE, what);
      const digest = isDigest(reference) ? verifyBytes(bytes, { digest: reference, what }) : digestBytes(bytes);
      return { bytes, mediaType: manifestType(header(res.headers, 'content-type')), digest };
    });
  }

  /** PUT a manifest under a tag or its digest; returns its digest. Retried on 429/5xx like every request. */
  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    return (await this.pushManifest(reference, bytes, mediaType)).digest;
  }

  /** putManifest, also reporting the registry's OCI-Subject answer (PushedManifest). */
  async pushManifest(reference: string, bytes: Buffer, mediaType: string): Promise<PushedManifest> {
    const digest = digestBytes(bytes);
    const what = this.what(`writing manifest ${shortDigest(digest)} as ${refLabel(reference)} to`);
    const res = await this.client.send({
      method: 'PUT',
      path: `/v2/${this.path}/manifests/${reference}`,
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: () => bytes,
      scopes: this.#scopes,
      what,
      ok: [200, 201, 202],
    });
    await dump(res.body);
    const got = header(res.headers, 'docker-content-digest');
    if (got && isDigest(got) && got !== digest) {
      throw new OcikitError('E_DIGEST_MISMATCH', `${what}: the registry stored it as ${got}`);
    }
    const subject = header(res.headers, 'oci-subject');
    return { digest, ...(subject ? { ociSubject: subject } : {}) };
  }

  /**
   * The referrers API (distribution-spec 1.1, GET /v2/NAME/referrers/DIGEST[?artifactType=T]):
   * every page, following `Link: <…>; rel="next"`. undefined when the registry answers 404, which
   * the spec says means it has no referrers API (the caller then reads the fallback tag).
   * WARNING: the answer is untrusted: each page is size-capped and parsed as an OCI index; whether
   * the entries really refer to `subject` is for the caller to check on the manifests themselves.
   */
  async referrers(subject: Digest, artifactType?: string): Promise<ReferrersAnswer | undefined> {
    const what = this.what(`listing referrers of ${shortDigest(subject)} in`);
    const manifests: Descriptor[] = [];
    const filters = new Set<string>();
    const seen = new Set<string>();
    let path = `/v2/${this.path}/referrers/${subject}${artifactType !== undefined ? `?${new URLSearchParams({ artifactType })}` : ''}`;
    for (let page = 0; page < MAX_REFERRER_PAGES; page++) {
      const res = await this.client.send({ method: 'GET', path, headers: { accept: OCI_INDEX }, scopes: this.#scopes, what, ok: page === 0 ? [200, 404] : [200] });
      if (res.status === 404) {
        await dump(res.body);
        return undefined;
      }
      const declared = Number(header(res.headers, 'content-length') ?? -1);
      if (declared > MAX_MANIFEST_SIZE) {
        res.body.destroy();
        throw new OcikitError('E_MANIFEST_TOO_BIG', `${what}: the registry declares ${declared} bytes, over the ${MAX_MANIFEST_SIZE}-byte limit`);
      }
      const bytes = await readLimited(res, MAX_MANIFEST_SIZE, what);
      const type = normalizeMediaType(header(res.headers, 'content-type'));
      let parsed;
      try {
        parsed = parseManifest(bytes, type ?? OCI_INDEX);
      } catch (err) {
        throw new OcikitError('E_BAD_INPUT', `${what}: the answer is not a referrers list: ${(err as Error).message}`, { cause: err });
      }
      if (parsed.kind !== 'oci-index') throw new OcikitError('E_BAD_INPUT', `${what}: the answer is a ${parsed.mediaType}, not an OCI index`);
      manifests.push(...parsed.value.manifests);
      for (const f of (header(res.headers, 'oci-filters-applied') ?? '').split(',')) if (f.trim()) filters.add(f.trim());
      const next = nextLink(header(res.headers, 'link'));
      if (!next) return { manifests, filtersApplied: [...filters] };
      const url = new URL(next, res.url);
      if (url.host !== res.url.host) throw new OcikitError('E_BAD_INPUT', `${what}: the next page is on another host (${url.host})`);
      const key = url.pathname + url.search;
      // A registry that links back to a page already read would loop forever.
      if (seen.has(key)) return { manifests, filtersApplied: [...filters] };
      seen.add(key);
      path = url.toString();
    }
    throw new OcikitError('E_BAD_INPUT', `${what}: more than ${MAX_REFERRER_PAGES} pages of referrers`);
  }

  /** DELETE a manifest by digest (or a tag, where the registry allows it). */
  async deleteManifest(reference: string): Promise<void> {
    const res = await this.client.send({
      method: 'DELETE',
      path: `/v2/${this.path}/manifests/${reference}`,
      scopes: this.#scopes,
      what: this.what(`deleting ${isDigest(reference) ? `manifest ${refLabel(reference)}` : `tag ${reference}`} from`),
      ok: [200, 202, 204],
    });
    await dump(res.body);
  }

  /** HEAD a blob: its size when this repository has it, else undefined. */
  async headBlob(digest: Digest): Promise<number | undefined> {
    const res = await this.client.send({
      method: 'HEAD',
      path: `/v2/${this.path}/blobs/${digest}`,
      scopes: this.#scopes,
      what: this.what(`checking blob ${shortDigest(digest)} in`),
      ok: [200, 404],
    });
    await dump(res.body);
    if (res.status === 404) return undefined;
    const n = Number(header(res.headers, 'content-length'));
    return Number.isSafeInteger(n) && n >= 0 ? n : -1;
  }

  /**
   * GET a blob as a stream that survives resets and truncation: when the connection breaks or
   * the body ends short of `size`, the rest is fetched again with `Range: bytes=N-` (up to
   * --retry-times times). Holds one of the host's download slots (limiter.ts) until the stream closes.
   * E_NOT_FOUND when the registry does not have it.
   */
  async getBlob(digest: Digest, size: number): Promise<{ stream: Readable; size: number }> {
    const what = this.what(`reading blob ${shortDigest(digest)} from`);
    const path = `/v2/${this.path}/blobs/${digest}`;
    const release = await hostSemaphore(this.client.host, 'download').acquire();
    let res: RegistryResponse;
    try {
      res = await this.client.send({ method: 'GET', path, scopes: this.#scopes, what, ok: [200] });
    } catch (err) {
      release();
      throw err;
    }
    const declared = Number(header(res.headers, 'content-length'));
    const total = size >= 0 ? size : Number.isSafeInteger(declared) && declared >= 0 ? declared : -1;
    // Small: undici's body buffers already (client.ts); this stage only hands its chunks on.
    const stream = Readable.from(this.resumingBody(res, path, total, what), { objectMode: false, highWaterMark: 64 * 1024 });
    stream.once('close', release);
    return { stream, size: total };
  }

  private async *resumingBody(first: RegistryResponse, path: string, total: number, what: string): AsyncGenerator<Buffer> {
    let body = first.body;
    let got = 0;
    let skip = 0;
    let failures = 0;
    try {
      for (;;) {
        try {
          for await (const chunk of body) {
            let b = chunk as Buffer;
            if (skip > 0) {
              if (b.length <= skip) {
                skip -= b.length;
                continue;
              }
              b = b.subarray(skip);
              skip = 0;
            }
            got += b.length;
            yield b;
          }
          if (total < 0 || got >= total) return;
          throw new RegistryError('E_NETWORK', `${what}: the body ended after ${got} of ${total} bytes`, { retryable: true });
        } catch (err) {
          if (this.client.signal?.aborted) throw new OcikitError('E_ABORTED', `${what}: cancelled`, { cause: err });
          body.destroy();
          // Bounded by --retry-times, as every retry (retry.ts); a body of unknown length cannot be resumed.
          if (failures >= this.client.retryTimes || total < 0) {
            throw new RegistryError(
              'E_NETWORK',
              `${what}: ${err instanceof RegistryError ? err.message.slice(what.length + 2) : describeNetworkError(err)} (after ${got} of ${total < 0 ? '?' : total} bytes, ${failures + 1} attempts)`,
              { cause: err },
            );
          }
          await sleep(retryWait(failures, err, this.client.retryPolicy, what), this.client.signal);
          failures++;
          const res = await this.client.send({ method: 'GET', path, headers: { range: `bytes=${got}-` }, scopes: this.#scopes, what, ok: [200, 206] });
          if (res.status === 206) {
            const m = /^bytes\s+(\d+)-/.exec(header(res.headers, 'content-range') ?? '');
            if (!m || Number(m[1]) !== got) {
              res.body.destroy();
              throw new RegistryError('E_NETWORK', `${what}: the registry answered a resume from byte ${got} with a different range`);
            }
          } else {
            // The registry ignored Range: the whole blob again, of which the first `got` bytes are already out.
            skip = got;
          }
          body = res.body;
        }
      }
    } finally {
      body.destroy();
    }
  }

  /**
   * Ask the registry to mount `digest` from repository `from` (same registry) into this one.
   * 'mounted' when it did (201); otherwise the upload session it opened instead (202).
   */
  async mountBlob(digest: Digest, from: string): Promise<'mounted' | UploadSession> {
    const q = new URLSearchParams({ mount: digest, from });
    const res = await this.client.send({
      method: 'POST',
      path: `/v2/${this.path}/blobs/uploads/?${q}`,
      headers: { 'content-length': '0' },
      scopes: [...this.#scopes, `repository:${from}:pull`],
      what: this.what(`mounting blob ${shortDigest(digest)} from ${from} into`),
      ok: [201, 202],
    });
    await dump(res.body);
    if (res.status === 201) return 'mounted';
    return this.session(res, 'mounting');
  }

  /** Open an upload session (POST …/blobs/uploads/). */
  async startUpload(): Promise<UploadSession> {
    const res = await this.client.send({
      method: 'POST',
      path: `/v2/${this.path}/blobs/uploads/`,
      headers: { 'content-length': '0' },
      scopes: this.#scopes,
      what: this.what('starting an upload to'),
      ok: [202],
    });
    await dump(res.body);
    return this.session(res, 'starting an upload to');
  }

  private session(res: RegistryResponse, doing: string): UploadSession {
    const loc = header(res.headers, 'location');
    if (!loc) throw new RegistryError('E_NETWORK', `${this.what(doing)}: the registry opened an upload without a Location`);
    const min = Number(header(res.headers, 'oci-chunk-min-length') ?? 0);
    return { location: new URL(loc, res.url).toString(), minChunk: Number.isSafeInteger(min) && min > 0 ? min : 0 };
  }

  /** Abandon an upload session; failures are ignored (the registry expires sessions on its own). */
  async cancelUpload(location: string): Promise<void> {
    try {
      const res = await this.client.send({ method: 'DELETE', path: location, scopes: this.#scopes, what: this.what('cancelling an upload to'), ok: [200, 202, 204, 404], retry: false });
      await dump(res.body);
    } catch {
      /* best effort */
    }
  }

  /** Send a request on behalf of an upload (upload.ts). */
  send(req: Omit<Parameters<RegistryClient['send']>[0], 'scopes'>): Promise<RegistryResponse> {
    return this.client.send({ ...req, scopes: this.#scopes });
  }

  /** Every tag, following `Link: <…>; rel="next"` pages. */
  async listTags(): Promise<string[]> {
    const what = this.what('listing tags of');
    const tags: string[] = [];
    const seen = new Set<string>();
    let path = `/v2/${this.path}/tags/list`;
    for (let page = 0; page < MAX_TAG_PAGES; page++) {
      const res = await this.client.send({ method: 'GET', path, scopes: this.#scopes, what, ok: [200] });
      const text = await readCapped(res.body, MAX_TAGS_PAGE + 1);
      if (text.length > MAX_TAGS_PAGE) throw new OcikitError('E_BAD_INPUT', `${what}: a page of tags is larger than ${MAX_TAGS_PAGE} bytes`);
      let v: { tags?: unknown };
      try {
        v = JSON.parse(text) as { tags?: unknown };
      } catch {
        throw new OcikitError('E_BAD_INPUT', `${what}: the registry's answer is not JSON`);
      }
      if (v.tags !== null && v.tags !== undefined && !Array.isArray(v.tags)) throw new OcikitError('E_BAD_INPUT', `${what}: "tags" is not a list`);
      for (const t of (v.tags as unknown[] | null | undefined) ?? []) {
        if (typeof t !== 'string') throw new OcikitError('E_BAD_INPUT', `${what}: a tag is not a string`);
        tags.push(t);
      }
      const next = nextLink(header(res.headers, 'link'));
      if (!next) return tags;
      const url = new URL(next, res.url);
      if (url.host !== res.url.host) throw new OcikitError('E_BAD_INPUT', `${what}: the next page is on another host (${url.host})`);
      const key = url.pathname + url.search;
      // A registry that links back to a page already read would loop forever.
      if (seen.has(key)) return tags;
      seen.add(key);
      path = url.toString();
    }
    throw new OcikitError('E_BAD_INPUT', `${what}: more than ${MAX_TAG_PAGES} pages of tags`);
  }
}

/** Read a body of at most `max` bytes; E_MANIFEST_TOO_BIG as soon as it grows past. */
async function readLimited(res: RegistryResponse, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.body) {
      const b = c as Buffer;
      n += b.length;
      if (n > max) throw new OcikitError('E_MANIFEST_TOO_BIG', `${what}: more than the ${max}-byte limit`);
      chunks.push(b);
    }
  } catch (err) {
    if (err instanceof OcikitError) throw err;
    throw new RegistryError('E_NETWORK', `${what}: ${describeNetworkError(err)}`, { cause: err, retryable: true });
  } finally {
    res.body.destroy();
  }
  return Buffer.concat(chunks);
}
