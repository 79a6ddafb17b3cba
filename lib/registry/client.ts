/**
 * RegistryClient: one registry host, spoken to over undici with everything a request needs and
 * nothing the distribution API adds on top (that is repository.ts):
 *
 * - the scheme: https, or with --tls-verify=false https falling back to plain http, as
 *   containers/image does (remembered per host for the process);
 * - auth: no Authorization until the registry answers 401; then its WWW-Authenticate challenge
 *   decides Basic (credentials) or Bearer (a token from the realm, cached per scope set and
 *   fetched again when it expires or turns out too narrow). --registry-token is sent as is.
 *   Credentials never leave the registry's origin: redirects elsewhere lose the Authorization header;
 * - retries: resets and timeouts, and 408/429/5xx answers, up to --retry-times, by retry.ts's one
 *   policy (Retry-After on every request, manifest PUT included, else --retry-delay / backoff);
 * - errors: RegistryError with the status and the registry's error code, never a header or a
 *   credential in the message.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { OcikitError, redact } from '../errors.js';
import { findChallenge, parseWwwAuthenticate, type Challenge } from '../auth/challenge.js';
import { lookupCredentials, type Credentials } from '../auth/auth-file.js';
import { requestBearerToken, scopeKey, tokenUsable, type BearerToken, type TokenHttp } from '../auth/token.js';
import { RegistryError, errorForStatus } from './errors.js';
import { certDirFor, describeNetworkError, dispatcherFor, send, isCertificateError, isRetryableNetworkError, loadCertDir, looksLikePlainHttp, type TlsMaterial } from './http.js';
import { DEFAULT_RETRY_TIMES, GiveUp, isRetryableStatus, parseRetryAfter, withRetries, type RetryPolicy } from './retry.js';

/** What a client needs to know of the user's wishes; the docker transport fills it from a SystemContext. */
export interface RegistryOptions {
  /** false: accept any certificate and allow plain http. Default true. */
  tlsVerify?: boolean;
  /** A certs.d-style directory (CA *.crt, client *.cert + *.key). Default: certs.d lookup by host. */
  certDir?: string;
  /** Only this auth file is read (--authfile). */
  authFile?: string;
  /** --creds / --username + --password. */
  credentials?: { username: string; password: string };
  /** --registry-token: a bearer token sent as is. */
  registryToken?: string;
  /** --no-creds: access the registry anonymously. */
  noCreds?: boolean;
  retryTimes?: number;
  retryDelayMs?: number;
  /** How long a response may take to start, and a body may stall, before the request fails (ms). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Put before ocikit's own User-Agent ("PREFIX ocikit/0.1"). */
  userAgentPrefix?: string;
  /** The prefix of the command's flags for this side ('src-', 'dest-', ''), for hints naming a flag. */
  flagPrefix?: string;
  /** The flag giving credentials, for hints, when not `--${flagPrefix}creds` ('' for none: login). */
  credsFlag?: string;
  /** registries.conf to read instead of the default files (--registries-conf): see registries-conf.ts. */
  registriesConf?: string;
  /** --debug: called with one line per HTTP exchange (method, URL without query values off the registry, status, ms, retry). */
  debug?: (line: string) => void;
  /** Environment for auth file and certs.d lookup (tests); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The methods the distribution API uses. */
export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
type Body = string | Buffer | Readable | null;

/** One request to the registry. */
export interface RegistryRequest {
  method: HttpMethod;
  /** A path on the registry ("/v2/…") or an absolute URL the registry handed out (an upload Location). */
  path: string;
  headers?: Record<string, string>;
  /** A fresh body for each attempt. Throw NotReplayableError when the body can be sent only once. */
  body?: () => Body;
  /** The token scopes this request needs ("repository:a/b:pull,push"). */
  scopes: string[];
  /** What is being done, for messages: "pushing blob sha256:ab12… to docker://host/a/b". */
  what: string;
  /** Statuses handed back to the caller; any other becomes an error. */
  ok: number[];
  /** false: never repeat this request (one-shot bodies, uploads the caller restarts itself). */
  retry?: boolean;
}

/** An answer the caller asked for. The caller MUST consume or dump `body`. */
export interface RegistryResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Dispatcher.ResponseData['body'];
  /** Where the answer came from (after redirects). */
  url: URL;
}

/** Thrown by a body factory asked for a second body it cannot produce. */
export class NotReplayableError extends Error {
  constructor() {
    super('request body can be sent only once');
  }
}

/** Docker Hub's API lives on a different host than its name. */
export function registryHost(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry;
}

/** First value of a response header. */
export function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Read at most `max` bytes of a body as text, then discard the rest. */
export async function readCapped(body: Readable, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of body) {
      const b = c as Buffer;
      if (n + b.length > max) {
        chunks.push(b.subarray(0, max - n));
        break;
      }
      chunks.push(b);
      n += b.length;
    }
  } catch {
    /* an error body cut short is still worth what arrived */
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Discard a body so its connection can be reused. */
export async function dump(body: Dispatcher.ResponseData['body']): Promise<void> {
  await body.dump({ limit: 1 << 20 }).catch(() => body.destroy());
}

/**
 * How much of a response body is buffered before the socket is paused. 256 KiB: undici's default
 * (64 KiB) paused a fast download more often; 1 MiB per body, times six downloads and the stages
 * after them, held ~10 MiB more at the peak of a 528 MB pull for no measurable gain in time.
 */
const BODY_HIGH_WATER_MARK = 256 * 1024;
const ERROR_BODY_MAX = 64 * 1024;
/** ocikit's own User-Agent. */
export const USER_AGENT = 'ocikit/0.1';
const REDIRECTS_MAX = 5;
const DEFAULT_TIMEOUT_MS = 120_000;

// The scheme found for a host with --tls-verify=false, for the rest of the process.
const schemeOf = new Map<string, 'https:' | 'http:'>();

/**
 * One registry host, with the user's TLS, credential and retry wishes. Cheap to make; connections are
 * shared process-wide (http.ts), tokens and the learned challenge live per client.
 */
export class RegistryClient {
  /** The registry as named in references ("docker.io", "localhost:5000"). */
  readonly registry: string;
  /** The host:port requests go to. */
  readonly host: string;
  readonly retryTimes: number;
  readonly #opts: RegistryOptions;
  #tls: Promise<TlsMaterial> | undefined;
  #challenge: Challenge | undefined;
  readonly #tokens = new Map<string, Promise<BearerToken>>();
  #creds: Promise<Credentials | undefined> | undefined;
  #credsFound = false;
  #repoForCreds: string | undefined;

  /** `repoPath` picks namespaced auth file entries ("host/team" before "host"). */
  constructor(registry: string, opts: RegistryOptions = {}, repoPath?: string) {
    this.registry = registry;
    this.host = registryHost(registry);
    this.#opts = opts;
    this.retryTimes = opts.retryTimes ?? DEFAULT_RETRY_TIMES;
    this.#repoForCreds = repoPath;
  }

  get signal(): AbortSignal | undefined {
    return this.#opts.signal;
  }

  get retryDelayMs(): number | undefined {
    return this.#opts.retryDelayMs;
  }

  /** The retry policy of this client's requests (--retry-times, --retry-delay, cancellation). */
  get retryPolicy(): RetryPolicy {
    return { retryTimes: this.retryTimes, retryDelayMs: this.#opts.retryDelayMs, signal: this.#opts.signal };
  }

  private tlsVerify(): boolean {
    return this.#opts.tlsVerify !== false;
  }

  private tls(): Promise<TlsMaterial> {
    this.#tls ??= (async () => {
      const dir = await certDirFor(this.host, this.#opts.certDir, this.#opts.env);
      const m = dir ? await loadCertDir(dir) : { ca: [] };
      return { verify: this.tlsVerify(), ...m };
    })();
    return this.#tls;
  }

  /** The credentials this client would use, resolved once: flags, then auth files (unless --no-creds). */
  credentials(): Promise<Credentials | undefined> {
    this.#creds ??= (async () => {
      const o = this.#opts;
      if (o.credentials) return { kind: 'basic' as const, username: o.credentials.username, password: o.credentials.password };
      if (o.noCreds) return undefined;
      const found = await lookupCredentials(this.registry, this.#repoForCreds, { ...(o.authFile ? { authFile: o.authFile } : {}), ...(o.env ? { env: o.env } : {}) });
      return found?.credentials;
    })().then((c) => {
      this.#credsFound = c !== undefined;
      return c;
    });
    return this.#creds;
  }

  /** The origin requests go to, choosing the scheme on first use. */
  private async withOrigin<T>(fn: (origin: string) => Promise<T>): Promise<T> {
    const known = schemeOf.get(this.host);
    if (this.tlsVerify()) return fn(`https://${this.host}`);
    if (known) return fn(`${known}//${this.host}`);
    try {
      const r = await fn(`https://${this.host}`);
      schemeOf.set(this.host, 'https:');
      return r;
    } catch (err) {
      // Only a server that does not speak TLS at all earns plain http; a refused connection stays an error.
      if (!looksLikePlainHttp(err)) throw err;
      schemeOf.set(this.host, 'http:');
      return fn(`http://${this.host}`);
    }
  }

  /**
   * Send a request: scheme, auth, redirects (GET/HEAD), retries. Returns answers whose status is
   * in `req.ok`; throws RegistryError (or E_ABORTED) for the rest.
   */
  async send(req: RegistryRequest): Promise<RegistryResponse> {
    const policy: RetryPolicy = { ...this.retryPolicy, retryTimes: req.retry === false ? 0 : this.retryTimes };
    return withRetries(policy, req.what, async (n, last) => {
      let res: RegistryResponse;
      try {
        res = await this.withOrigin((origin) => this.sendAuthorized(req, origin, n));
      } catch (err) {
        // Ours (auth, a token service that failed after its own retries): final. A transport error: maybe not.
        if (err instanceof OcikitError) throw new GiveUp(err);
        throw this.networkError(err, req.what);
      }
      if (req.ok.includes(res.status)) return res;
      if (isRetryableStatus(res.status) && !last) {
        const after = parseRetryAfter(res.headers['retry-after']);
        await dump(res.body);
        throw new RegistryError('E_NETWORK', `${req.what}: the registry answered ${res.status}`, { status: res.status, retryable: true, ...(after !== undefined ? { retryAfterMs: after } : {}) });
      }
      const text = await readCapped(res.body, ERROR_BODY_MAX);
      const e = errorForStatus(res.status, text, req.what, this.#credsFound, this.credsFlag());
      if (isRetryableStatus(res.status) && policy.retryTimes > 0) {
        throw new RegistryError(e.code, `${e.message} (after ${policy.retryTimes + 1} attempts)`, { status: res.status, ...(e.registryCode ? { registryCode: e.registryCode } : {}), retryable: true });
      }
      throw e;
    });
  }

  /** The flag that gives credentials in the command at hand, for hints ("--src-creds"; "" for login). */
  private credsFlag(): string {
    return this.#opts.credsFlag ?? `--${this.#opts.flagPrefix ?? ''}creds`;
  }

  private networkError(err: unknown, what: string): RegistryError {
    if ((err as { name?: string })?.name === 'AbortError' || this.#opts.signal?.aborted) {
      return new RegistryError('E_ABORTED', `${what}: cancelled`, { cause: err });
    }
    if (isCertificateError(err)) {
      return new RegistryError('E_NETWORK', `${what}: the TLS certificate of ${this.host} is not trusted (${describeNetworkError(err)})`, {
        cause: err,
        hint: `give its CA with --${this.#opts.flagPrefix ?? ''}cert-dir DIR (DIR/ca.crt), or use --${this.#opts.flagPrefix ?? ''}tls-verify=false for a registry you trust`,
      });
    }
    if (looksLikePlainHttp(err)) {
      return new RegistryError('E_NETWORK', `${what}: ${this.host} does not speak TLS (${describeNetworkError(err)})`, {
        cause: err,
        hint: `for a plain-http registry use --${this.#opts.flagPrefix ?? ''}tls-verify=false`,
      });
    }
    return new RegistryError('E_NETWORK', `${what}: ${describeNetworkError(err)}`, { cause: err, retryable: isRetryableNetworkError(err) });
  }

  private async sendAuthorized(req: RegistryRequest, origin: string, attempt = 0): Promise<RegistryResponse> {
    const url = new URL(req.path, origin);
    let auth = await this.authorization(req.scopes, url, false, req.what);
    let res = await this.raw(req, url, auth, attempt);
    if (res.status !== 401) return res;

    const text = await readCapped(res.body, ERROR_BODY_MAX);
    const challenges = parseWwwAuthenticate(res.headers['www-authenticate']);
    const ch = findChallenge(challenges, 'bearer') ?? findChallenge(challenges, 'basic');
    if (!ch || this.#opts.registryToken !== undefined || !sameOrigin(url, origin)) {
      throw errorForStatus(401, text, req.what, this.#credsFound || this.#opts.registryToken !== undefined, this.credsFlag());
    }
    const hadAuth = auth !== undefined;
    this.#challenge = ch;
    // The challenge names the scope this very request needs; ask for it too.
    const extra = ch.params.scope ? ch.params.scope.split(' ').filter(Boolean) : [];
    auth = await this.authorization(req.scopes, url, hadAuth, req.what, extra);
    if (auth === undefined) throw errorForStatus(401, text, req.what, false, this.credsFlag());
    try {
      res = await this.raw(req, url, auth, attempt);
    } catch (err) {
      if (err instanceof NotReplayableError) {
        throw new RegistryError('E_AUTH', `${req.what}: the registry asked to authenticate in the middle of a streamed upload`, { status: 401 });
      }
      throw err;
    }
    if (res.status === 401) {
      const t2 = await readCapped(res.body, ERROR_BODY_MAX);
      const again = findChallenge(parseWwwAuthenticate(res.headers['www-authenticate']), 'bearer');
      if (again?.params.error === 'insufficient_scope') {
        // Authenticated, but the token service granted less than the request needs.
        throw new RegistryError('E_AUTH', `${req.what}: access denied: not allowed to ${describeScope(again.params.scope)}`, {
          status: 401,
          hint: 'check that the user may push to (or read) this repository',
        });
      }
      throw errorForStatus(401, t2, req.what, true, this.credsFlag());
    }
    return res;
  }

  /** The Authorization value for a request to `url`, if any is known to be needed. */
  private async authorization(scopes: string[], url: URL, refresh: boolean, what: string, extra: string[] = []): Promise<string | undefined> {
    if (url.host !== this.host) return undefined;
    if (this.#opts.registryToken !== undefined) return `Bearer ${this.#opts.registryToken}`;
    const ch = this.#challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      const c = await this.credentials();
      if (c?.kind !== 'basic') return undefined;
      return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
    }
    const t = await this.token(ch, scopes, refresh, what, extra);
    return `Bearer ${t.token}`;
  }

  /**
   * A bearer token for `scopes`, from the cache unless stale or `refresh`. Concurrent askers share
   * one fetch. `extra` scopes (what a challenge named) are asked for too, but the token is cached
   * under `scopes` alone, so the next request with the same scopes finds it.
   */
  private async token(ch: Challenge, scopes: string[], refresh: boolean, what: string, extra: string[] = []): Promise<BearerToken> {
    const key = `${ch.params.realm ?? ''}\n${ch.params.service ?? ''}\n${scopeKey(scopes)}`;
    const cached = this.#tokens.get(key);
    if (cached && !refresh) {
      const t = await cached.catch(() => undefined);
      if (t && tokenUsable(t)) return t;
    }
    const p = (async () => requestBearerToken(this.tokenHttp(), ch, [...new Set([...scopes, ...extra])], await this.credentials(), what, this.credsFlag()))();
    this.#tokens.set(key, p);
    try {
      return await p;
    } catch (err) {
      if (this.#tokens.get(key) === p) this.#tokens.delete(key);
      throw err;
    }
  }

  /** HTTP for the token service: same TLS and proxy settings, network retries, no registry auth. */
  private tokenHttp(): TokenHttp {
    return async ({ method, url, headers, body }) => {
      const dispatcher = dispatcherFor(await this.tls());
      const what = `asking the token service at ${url.host} for a token`;
      return withRetries(this.retryPolicy, what, async (n, last) => {
        let res: Dispatcher.ResponseData;
        const t0 = performance.now();
        try {
          res = await send(dispatcher, url, {
            method,
            headers: { 'user-agent': this.userAgent(), ...headers },
            body: body ?? null,
            ...this.timeouts(),
            ...(this.#opts.signal ? { signal: this.#opts.signal } : {}),
          });
        } catch (err) {
          this.logExchange(method, url, undefined, t0, n, err);
          if (err instanceof OcikitError) throw new GiveUp(err);
          throw this.networkError(err, what);
        }
        this.logExchange(method, url, res.statusCode, t0, n);
        if (isRetryableStatus(res.statusCode) && !last) {
          const after = parseRetryAfter(res.headers['retry-after']);
          await dump(res.body);
          throw new RegistryError('E_NETWORK', `${what}: the token service answered ${res.statusCode}`, {
            status: res.statusCode,
            retryable: true,
            ...(after !== undefined ? { retryAfterMs: after } : {}),
          });
        }
        return { status: res.statusCode, text: await readCapped(res.body, 1024 * 1024 + 1) };
      });
    };
  }

  /** The User-Agent of every request to the registry and its token service. */
  userAgent(): string {
    return this.#opts.userAgentPrefix ? `${this.#opts.userAgentPrefix} ${USER_AGENT}` : USER_AGENT;
  }

  private timeouts(): { headersTimeout: number; bodyTimeout: number } {
    const t = this.#opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return { headersTimeout: t, bodyTimeout: t };
  }

  /**
   * --debug's line for one exchange: method, URL (off the registry's origin without its query,
   * which may carry a signed credential for blob storage; on it, only the values of the
   * distribution API's own parameters), status or failure, time, retry number.
   */
  private logExchange(method: string, url: URL, status: number | undefined, t0: number, attempt: number, err?: unknown): void {
    const log = this.#opts.debug;
    if (!log) return;
    const shown = url.host === this.host ? `${url.origin}${url.pathname}${shownQuery(url)}` : `${url.origin}${url.pathname}${url.search ? '?…' : ''}`;
    const outcome = status !== undefined ? String(status) : `failed (${err instanceof Error ? describeNetworkError(err) : String(err)})`;
    log(`${method} ${redact(shown)} ${outcome} ${Math.round(performance.now() - t0)} ms${attempt > 0 ? ` (retry ${attempt})` : ''}`);
  }

  /** One exchange (plus same-method redirects for GET/HEAD), no auth logic, no retries. */
  private async raw(req: RegistryRequest, url: URL, auth: string | undefined, attempt = 0): Promise<RegistryResponse> {
    const dispatcher = dispatcherFor(await this.tls());
    const headers: Record<string, string> = { 'user-agent': this.userAgent(), ...(req.headers ?? {}) };
    if (auth !== undefined) headers.authorization = auth;
    let current = url;
    for (let hop = 0; ; hop++) {
      const body = req.body ? req.body() : null;
      const t0 = performance.now();
      let res: Dispatcher.ResponseData;
      try {
        res = await send(dispatcher, current, {
          method: req.method,
          headers,
          body,
          highWaterMark: BODY_HIGH_WATER_MARK,
          ...this.timeouts(),
          ...(this.#opts.signal ? { signal: this.#opts.signal } : {}),
        });
      } catch (err) {
        this.logExchange(req.method, current, undefined, t0, attempt, err);
        throw err;
      }
      this.logExchange(req.method, current, res.statusCode, t0, attempt);
      const loc = header(res.headers, 'location');
      if ((req.method === 'GET' || req.method === 'HEAD') && [301, 302, 303, 307, 308].includes(res.statusCode) && loc && hop < REDIRECTS_MAX) {
        await dump(res.body);
        const next = new URL(loc, current);
        if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new RegistryError('E_NETWORK', `${req.what}: the registry redirected to an unsupported URL scheme`);
        // Blob storage behind a redirect (S3, a CDN) must never see the registry's credentials.
        if (next.origin !== current.origin) delete headers.authorization;
        current = next;
        continue;
      }
      return { status: res.statusCode, headers: res.headers, body: res.body, url: current };
    }
  }
}

function sameOrigin(url: URL, origin: string): boolean {
  return url.origin === new URL(origin).origin;
}

/** "repository:a/b:pull,push" → "pull,push a/b"; anything else as it is (shortened). */
function describeScope(scope: string | undefined): string {
  if (!scope) return 'do this';
  const m = /^repository:(.+):([a-z*,]+)$/.exec(scope.split(' ')[0]!);
  return m ? `${m[2]} ${m[1]}` : scope.slice(0, 100);
}

/** The distribution API's query parameters whose values --debug shows; any other value (an upload's signed `_state`) is "…". */
const SHOWN_PARAMS = new Set(['digest', 'mount', 'from', 'n', 'last', 'ns', 'artifactType']);

/** `url`'s query for a --debug line: the API's own parameters with their values, others without. */
function shownQuery(url: URL): string {
  if (!url.search) return '';
  const parts: string[] = [];
  for (const [k, v] of url.searchParams) parts.push(SHOWN_PARAMS.has(k) ? `${encodeURIComponent(k)}=${encodeURIComponent(v)}` : `${encodeURIComponent(k)}=…`);
  return `?${parts.join('&')}`;
}
