/**
 * RegistryServer: the store served over the OCI distribution API on node:http or node:https.
 *
 * Routing, read-only mode, timeouts, the access log and metrics, graceful shutdown, /healthz and the
 * answers to errors live here; the endpoints are in api.ts, who may do what in gate.ts (with
 * access.ts and token.ts), uploads in uploads.ts, the mirror in mirror.ts, the browse page in
 * browse.ts, the gc lease in lease.ts, and which refs give which repository and tag in
 * lib/transports/store/names.ts.
 *
 * Hostile clients: a repository name must match distribution's grammar (no "..", no "%", no
 * upper case: nothing a path could be made of, and names are never paths here anyway); a client
 * that sends its headers too slowly, or stops sending or reading for `timeoutMs`, is
 * disconnected (its partial chunk rolled back); manifests over 4 MiB are refused before they are
 * read; an answer to a request whose body was not read closes the connection instead of reading
 * the rest.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseDigest, type Digest } from '../digest/index.js';
import { OcikitError, wrapError } from '../errors.js';
import type { BlobStore } from '../store/index.js';
import { isRepositoryName, isTagName } from '../transports/store/names.js';
import * as api from './api.js';
import type { AccessPolicy, Action } from './access.js';
import type { Htpasswd } from './auth.js';
import { Gate, type Identity } from './gate.js';
import { ApiError, toApiError } from './errors.js';
import { Browse } from './browse.js';
import { GcLease } from './lease.js';
import { Metrics, formatAccessLine, type RequestRecord } from './metrics.js';
import type { RegistryOptions } from '../registry/index.js';
import { Mirror, type MirrorSpec } from './mirror.js';
import { ManifestCache } from './repository.js';
import { Uploads } from './uploads.js';

export interface ServeOptions {
  store: BlobStore;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 5000; 0 picks a free one). */
  port?: number;
  /** Serve https with this certificate chain and key (PEM). */
  tls?: { cert: Buffer; key: Buffer };
  /** Require authentication as one of these users (Basic, or Bearer tokens from /token: see gate.ts). */
  htpasswd?: Htpasswd;
  /** Who may pull, push and delete which repositories (access.ts); without it, every user may do everything. */
  access?: AccessPolicy;
  /** How clients are asked for credentials: Bearer tokens from /token (default) or Basic. */
  auth?: 'token' | 'basic';
  /** Lifetime of a token, seconds (default 300). */
  tokenTtlSeconds?: number;
  /** The token endpoint's URL as clients reach it (default: this server's /token). */
  tokenRealm?: string;
  /** Refuse pushes and deletes (UNSUPPORTED, 405). */
  readOnly?: boolean;
  /** A client silent this long (headers not complete, body or reading stalled) is disconnected. Default 30 s. */
  timeoutMs?: number;
  /** Blobs served or pushed this recently are kept by a concurrent `store gc` even without a ref (see lease.ts). Default 10 min. */
  gcGraceMs?: number;
  /** An upload session idle this long is removed with its data (default 1 hour). Sessions survive restarts until then. */
  uploadExpiryMs?: number;
  /** Upload sessions one client (a user, or an address when anonymous) may hold at once (default 100). */
  uploadsPerClient?: number;
  /** Registries to mirror: a pull the store cannot answer is fetched from them (mirror.ts). */
  mirrors?: MirrorSpec[];
  /** A mirrored manifest by tag is checked upstream again when older than this (default 10 min). */
  mirrorMaxAgeMs?: number;
  /** Options of the mirror's upstream clients (TLS, credentials file). */
  mirrorRegistry?: RegistryOptions;
  /** Where the server says what went wrong on its side (5xx answers). Default: nowhere. */
  log?: (line: string) => void;
  /** Where each request's access log line goes (none: no access log). */
  accessLog?: (line: string) => void;
  /** The access log's format: one text line (default) or one JSON object per request. */
  logFormat?: 'text' | 'json';
  /** Answer GET /metrics (Prometheus text format); behind the same login as the API, admins only with --access. */
  metrics?: boolean;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const NAME = '(.+)';
const ROUTES: Array<{ re: RegExp; kind: 'base' | 'catalog' | 'tags' | 'manifest' | 'referrers' | 'uploads' | 'upload' | 'blob' }> = [
  { re: /^\/v2\/?$/, kind: 'base' },
  { re: /^\/v2\/_catalog$/, kind: 'catalog' },
  { re: new RegExp(`^/v2/${NAME}/tags/list$`), kind: 'tags' },
  { re: new RegExp(`^/v2/${NAME}/referrers/([^/]+)$`), kind: 'referrers' },
  { re: new RegExp(`^/v2/${NAME}/manifests/([^/]+)$`), kind: 'manifest' },
  { re: new RegExp(`^/v2/${NAME}/blobs/uploads/?$`), kind: 'uploads' },
  { re: new RegExp(`^/v2/${NAME}/blobs/uploads/([^/]+)$`), kind: 'upload' },
  { re: new RegExp(`^/v2/${NAME}/blobs/([^/]+)$`), kind: 'blob' },
];

/** The store, served. Start with RegistryServer.start; close() stops it and releases what it holds. */
export class RegistryServer {
  readonly #server: Server;
  readonly #ctx: api.ApiContext;
  readonly #uploads: Uploads;
  readonly #lease: GcLease;
  readonly #opts: ServeOptions;
  readonly #gate: Gate;
  readonly #metrics: Metrics;
  readonly #browse: Browse;
  #closed = false;
  /** Shutting down: no new connections; a new request on a kept-alive one gets 503 and the connection closes. */
  #draining = false;
  #inFlight = 0;
  #idle: (() => void) | undefined;

  private constructor(opts: ServeOptions) {
    this.#opts = opts;
    this.#gate = new Gate({
      tls: opts.tls !== undefined,
      ...(opts.htpasswd ? { htpasswd: opts.htpasswd } : {}),
      ...(opts.access ? { policy: opts.access } : {}),
      ...(opts.auth ? { auth: opts.auth } : {}),
      ...(opts.tokenTtlSeconds !== undefined ? { tokenTtlSeconds: opts.tokenTtlSeconds } : {}),
      ...(opts.tokenRealm !== undefined ? { tokenRealm: opts.tokenRealm } : {}),
    });
    this.#uploads = new Uploads(opts.store, {
      ...(opts.uploadExpiryMs !== undefined ? { expiryMs: opts.uploadExpiryMs } : {}),
      ...(opts.uploadsPerClient !== undefined ? { perClient: opts.uploadsPerClient } : {}),
    });
    this.#lease = new GcLease(opts.store, opts.gcGraceMs ?? 10 * 60_000);
    this.#uploads.onChange = () => this.#lease.pushes(this.#uploads.open);
    this.#ctx = {
      store: opts.store,
      uploads: this.#uploads,
      manifests: new ManifestCache(opts.store),
      perRepository: this.#gate.perRepository,
      recentMs: opts.gcGraceMs ?? 10 * 60_000,
      pushed: () => this.#lease.pushes(this.#uploads.open),
    };
    if (opts.mirrors && opts.mirrors.length > 0) {
      this.#ctx.mirror = new Mirror(opts.store, opts.mirrors, {
        ...(opts.mirrorMaxAgeMs !== undefined ? { maxAgeMs: opts.mirrorMaxAgeMs } : {}),
        ...(opts.mirrorRegistry ? { registry: opts.mirrorRegistry } : {}),
        ...(opts.log ? { log: opts.log } : {}),
      });
    }
    this.#browse = new Browse(this.#ctx);
    this.#metrics = new Metrics(opts.store, () => this.#uploads.open, this.#ctx.mirror?.stats);
    const timeout = opts.timeoutMs ?? 30_000;
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.#request(req, res);
    // headersTimeout and requestTimeout are checked every connectionsCheckingInterval.
    const serverOpts = { headersTimeout: timeout, requestTimeout: 0, keepAliveTimeout: 5_000, connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(timeout / 2))) };
    this.#server = opts.tls ? createHttpsServer({ ...serverOpts, cert: opts.tls.cert, key: opts.tls.key }, handler) : createHttpServer(serverOpts, handler);
    // A connection that neither sends nor reads for `timeout` is closed: a stalled upload or a
    // client that stopped reading a blob. Its handler sees the request end early and rolls back.
    this.#server.setTimeout(timeout, (socket) => socket.destroy());
  }

  /** Listen; E_USAGE when the address is in use or cannot be bound. */
  static async start(opts: ServeOptions): Promise<RegistryServer> {
    const s = new RegistryServer(opts);
    try {
      await new Promise<void>((resolve, reject) => {
        s.#server.once('error', reject);
        s.#server.listen(opts.port ?? 5000, opts.host ?? '127.0.0.1', () => {
          s.#server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await s.close();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
        throw new OcikitError(
          'E_USAGE',
          `serve: cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? 5000}: ${code === 'EADDRINUSE' ? 'the address is in use' : code === 'EACCES' ? 'permission denied' : 'no such address here'}`,
          { cause: err },
        );
      }
      throw wrapError(err, 'serve: listening');
    }
    return s;
  }

  /** The address listened on ("127.0.0.1:5000"). */
  get address(): string {
    const a = this.#server.address() as AddressInfo;
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  /** "http://127.0.0.1:5000" or "https://…". */
  get url(): string {
    return `${this.#opts.tls ? 'https' : 'http'}://${this.address}`;
  }

  /**
   * Graceful stop: listen no more, let the requests in flight finish (a blob being sent, a chunk
   * being received) for at most `graceMs`, answer any new request on a kept-alive connection with
   * 503 and close it, then close(). Upload sessions stay in the store for the next start.
   */
  async shutdown(graceMs: number): Promise<void> {
    if (this.#closed) return;
    this.#draining = true;
    this.#server.close();
    this.#server.closeIdleConnections();
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.#idle = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    await this.close();
  }

  /** Whether shutdown() began. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Stop listening, drop connections, release the gc lease. The store stays open (it is the caller's). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    await this.#uploads.close();
    this.#lease.close();
  }

  /** One request: counted while in flight, logged and measured when its answer ends. */
  #request(req: IncomingMessage, res: ServerResponse): void {
    const started = process.hrtime.bigint();
    const sock = req.socket;
    const sent0 = sock.bytesWritten;
    const read0 = sock.bytesRead;
    const who: { user?: string } = {};
    this.#inFlight++;
    let done = false;
    const finished = (): void => {
      if (done) return;
      done = true;
      this.#inFlight--;
      const r: RequestRecord = {
        time: new Date().toISOString(),
        remote: sock.remoteAddress ?? '-',
        user: who.user ?? '-',
        method: (req.method ?? '-').slice(0, 20),
        path: (req.url ?? '').slice(0, 500),
        status: res.statusCode,
        bytes: Math.max(0, sock.bytesWritten - sent0),
        received: Math.max(0, sock.bytesRead - read0),
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      };
      this.#metrics.record(r);
      this.#opts.accessLog?.(formatAccessLine(r, this.#opts.logFormat ?? 'text'));
      if (this.#inFlight === 0) this.#idle?.();
    };
    res.once('finish', finished);
    res.once('close', finished);
    void this.#handle(req, res, who);
  }

  async #handle(req: IncomingMessage, res: ServerResponse, who: { user?: string }): Promise<void> {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    // Shutting down: this connection ends with this answer.
    if (this.#draining) res.shouldKeepAlive = false;
    let as: { unknown?: 'BLOB_UNKNOWN' | 'MANIFEST_UNKNOWN'; invalid?: 'MANIFEST_INVALID' | 'BLOB_UPLOAD_INVALID' } = {};
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      const method = req.method ?? 'GET';
      // The raw path, undecoded: an escaped character ("%2e%2e") can never make a valid name.
      const path = (req.url ?? '/').split('?')[0]!;
      // Health: for load balancers and supervisors, without credentials; 503 while shutting down
      // or when the store cannot be read.
      if (path === '/healthz') return allow(method, ['GET', 'HEAD'], () => this.#health(res));
      if (this.#draining) throw new ApiError('UNAVAILABLE', 'the server is shutting down', null, { headers: { Connection: 'close' } });
      if (path === '/token') return await allowAsync(method, ['GET'], () => this.#gate.token(req, res, url.searchParams));
      const id = await this.#gate.identify(req);
      if (id.user !== undefined) who.user = id.user;
      if (path === '/' || path === '/ui/image' || path === '/ui/login') {
        this.#gate.requireBrowserLogin(id, path === '/ui/login');
        return await allowAsync(method, ['GET'], async () => {
          if (path === '/ui/login') {
            res.writeHead(302, { Location: '/', 'Content-Length': '0' });
            res.end();
          } else if (path === '/') await this.#browse.index(res, url.searchParams.get('q') ?? '', (repo) => this.#gate.mayList(id, repo), id.user);
          else {
            const repo = url.searchParams.get('repo') ?? '';
            // Not allowed, or no such name: the same 404 (the page does not tell which repositories exist).
            const ok = isRepositoryName(repo) && this.#gate.rights(id, repo).has('pull');
            await this.#browse.image(res, ok ? repo : '-', ok ? (url.searchParams.get('ref') ?? '').slice(0, 200) : '-', id.user);
          }
        });
      }
      if (path === '/metrics' && this.#opts.metrics) {
        this.#gate.requireAdmin(req, id);
        return allow(method, ['GET'], () => api.send(res, 200, { 'Content-Type': 'text/plain; version=0.0.4' }, this.#metrics.render()));
      }
      const route = ROUTES.map((r) => ({ kind: r.kind, m: r.re.exec(path) })).find((r) => r.m);
      if (!route) throw new ApiError('UNSUPPORTED', 'no such endpoint', null, { status: 404 });
      const m = route.m!;
      if (route.kind === 'base') {
        this.#gate.requireLogin(req, id);
        return allow(method, ['GET', 'HEAD'], () => api.sendJson(res, 200, {}));
      }
      if (route.kind === 'catalog') {
        this.#gate.requireLogin(req, id);
        return allow(method, ['GET'], () => api.catalog(this.#ctx, res, url.searchParams, (repo) => this.#gate.mayList(id, repo)));
      }
      const name = m[1]!;
      if (!isRepositoryName(name)) throw new ApiError('NAME_INVALID', 'invalid repository name', { name: name.slice(0, 300) });
      this.#gate.require(req, id, name, neededAction(route.kind, method));
      if (WRITE_METHODS.has(method) && this.#opts.readOnly) throw new ApiError('UNSUPPORTED', 'the registry is read-only', null, { status: 405 });
      switch (route.kind) {
        case 'tags':
          return allow(method, ['GET'], () => api.tagsList(this.#ctx, res, name, url.searchParams));
        case 'referrers':
          return await allowAsync(method, ['GET'], () => api.referrers(this.#ctx, res, name, blobDigest(m[2]!), url.searchParams));
        case 'manifest': {
          as = { unknown: 'MANIFEST_UNKNOWN', invalid: 'MANIFEST_INVALID' };
          // A reference that is neither a tag nor a digest names no manifest: 404 to a reader (as the
          // distribution spec says for GET and HEAD), 400 to a PUT, which would create it.
          const ref = manifestRef(m[2]!, method !== 'PUT');
          if (method === 'GET' || method === 'HEAD') return await api.getManifest(this.#ctx, req, res, name, ref);
          if (method === 'PUT') return await api.putManifest(this.#ctx, req, res, name, ref);
          if (method === 'DELETE') return api.deleteManifest(this.#ctx, res, name, ref);
          throw notAllowed(method);
        }
        case 'blob': {
          as = { unknown: 'BLOB_UNKNOWN' };
          const digest = blobDigest(m[2]!);
          if (method === 'GET' || method === 'HEAD') return await api.getBlob(this.#ctx, req, res, name, digest);
          // Blobs go when no ref reaches them (store gc), never one by one: another image may share them.
          if (method === 'DELETE') throw new ApiError('UNSUPPORTED', 'blobs are removed by ocikit store gc when no image refers to them', null, { status: 405 });
          throw notAllowed(method);
        }
        case 'uploads':
          as = { invalid: 'BLOB_UPLOAD_INVALID' };
          return await allowAsync(method, ['POST'], () => api.startUpload(this.#ctx, req, res, name, url.searchParams, clientOf(req, id), (from) => this.#gate.rights(id, from).has('pull')));
        case 'upload': {
          as = { unknown: 'BLOB_UNKNOWN', invalid: 'BLOB_UPLOAD_INVALID' };
          const id = m[2]!;
          if (method === 'PATCH') return await api.patchUpload(this.#ctx, req, res, name, id);
          if (method === 'PUT') return await api.finishUpload(this.#ctx, req, res, name, id, url.searchParams);
          if (method === 'GET') return api.uploadStatus(this.#ctx, res, name, id);
          if (method === 'DELETE') return await api.cancelUpload(this.#ctx, res, name, id);
          throw notAllowed(method);
        }
      }
    } catch (err) {
      this.#answerError(req, res, err, as);
    }
  }

  #health(res: ServerResponse): void {
    let ok = true;
    try {
      this.#opts.store.getRef('store:-health-');
    } catch {
      ok = false;
    }
    api.sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'the store cannot be read' }, { 'Cache-Control': 'no-store' });
  }

  #answerError(req: IncomingMessage, res: ServerResponse, err: unknown, as: Parameters<typeof toApiError>[1]): void {
    const e = toApiError(err, as);
    if (e.status >= 500) this.#opts.log?.(`ocikit serve: ${req.method} ${(req.url ?? '').slice(0, 300)}: ${(err as Error)?.message ?? String(err)}`);
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const body = req.method === 'HEAD' ? undefined : e.body();
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Content-Length': String(body ? Buffer.byteLength(body) : 0), ...e.headers };
    // A body we did not read (refused before reading, or cut off) is not read now: close instead.
    if (!req.complete) headers.Connection = 'close';
    res.writeHead(e.status, headers);
    res.end(body);
  }
}

/** Who holds an upload session, for the per-client cap: the user, else the client's address. */
function clientOf(req: IncomingMessage, id: Identity): string {
  return id.user ?? `@${req.socket.remoteAddress ?? ''}`;
}

/** The action a request needs on its repository: reads pull, deletes of manifests delete, uploads (their status too) and every other write push. */
function neededAction(kind: string, method: string): Action {
  if (kind === 'upload' || kind === 'uploads') return 'push';
  if (method === 'GET' || method === 'HEAD') return 'pull';
  if (method === 'DELETE' && kind === 'manifest') return 'delete';
  return 'push';
}

function notAllowed(method: string): ApiError {
  return new ApiError('UNSUPPORTED', `method ${method.slice(0, 20)} is not allowed here`, null, { status: 405 });
}

function allow(method: string, ok: string[], fn: () => void): void {
  if (!ok.includes(method)) throw notAllowed(method);
  fn();
}

async function allowAsync(method: string, ok: string[], fn: () => Promise<void>): Promise<void> {
  if (!ok.includes(method)) throw notAllowed(method);
  await fn();
}

/**
 * A manifest reference: a digest (has a colon) or a tag. An invalid one is MANIFEST_UNKNOWN (404)
 * when `reading` (no such manifest can exist), else DIGEST_INVALID or TAG_INVALID (400).
 */
function manifestRef(s: string, reading: boolean): api.ManifestRef {
  const invalid = (code: 'DIGEST_INVALID' | 'TAG_INVALID', message: string): ApiError =>
    reading ? new ApiError('MANIFEST_UNKNOWN', `manifest unknown: ${message}`, { reference: s.slice(0, 200) }) : new ApiError(code, message, { reference: s.slice(0, 200) });
  if (s.includes(':')) {
    try {
      return { digest: parseDigest(s, 'manifest digest') };
    } catch (err) {
      throw invalid('DIGEST_INVALID', (err as Error).message);
    }
  }
  if (!isTagName(s)) throw invalid('TAG_INVALID', 'manifest tag did not match the tag grammar');
  return { tag: s };
}

function blobDigest(s: string): Digest {
  try {
    return parseDigest(s, 'blob digest');
  } catch (err) {
    throw new ApiError('DIGEST_INVALID', (err as Error).message);
  }
}
