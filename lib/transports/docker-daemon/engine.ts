/**
 * A small client of the Docker Engine API on undici: where the daemon is (--daemon-host,
 * DOCKER_HOST, the default socket), TLS for tcp:// hosts, API version negotiation, and the
 * daemon's errors turned into one-line OcikitErrors. Loaded only when a docker-daemon: image is
 * used (transport.ts imports it on first use), so other commands never pay for undici.
 *
 * Only three calls are needed: GET /images/{name}/json (does it exist), GET /images/get (export,
 * a docker-archive tar) and POST /images/load (import). They exist unchanged since API 1.24.
 */
import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { OcikitError, isOcikitError } from '../../errors.js';
import { defaultTrust, describeNetworkError, errorCode, loadCertDir, send } from '../../registry/http.js';
import { undici } from '../../lazy.js';
import type { DaemonContext, TransportOptions } from '../types.js';

/** Where the Docker CLI and containers/image look when nothing else is said. */
export const DEFAULT_DAEMON_HOST = 'unix:///var/run/docker.sock';

/**
 * The newest API version this client asks for. Negotiation lowers it to the daemon's (docker 20.10
 * speaks 1.41); none of the calls above changed in between, so any daemon from 1.24 on works.
 */
export const CLIENT_API_VERSION = '1.45';
/** Daemons older than this dropped out of support long ago; their answers are not understood. */
const MIN_API_VERSION = '1.24';

/** How to reach a daemon: an undici origin plus how to connect, and the host as the user wrote it. */
export interface EngineEndpoint {
  /** As written (for messages): "unix:///var/run/docker.sock", "tcp://10.0.0.5:2376". */
  host: string;
  /** The URL origin requests go to ("http://localhost" for a unix socket). */
  origin: string;
  socketPath?: string;
  tls?: { verify: boolean; ca?: string[]; cert?: string; key?: string };
}

/**
 * The daemon a context's daemon section points at: `host` (--daemon-host, --src-daemon-host,
 * --dest-daemon-host), else $DOCKER_HOST, else the default socket.
 *
 * tcp:// follows the Docker CLI: TLS when $DOCKER_TLS_VERIFY or $DOCKER_CERT_PATH is set (or
 * --cert-dir is given), verified unless only $DOCKER_CERT_PATH is set or --tls-verify=false;
 * plain HTTP otherwise. (containers/image always uses TLS for tcp://; a tcp:// host without TLS
 * settings is plain HTTP here, as `docker` treats it.) https:// is always TLS, http:// never.
 * Client certificates and CAs come from the directory in docker's names (ca.pem, cert.pem,
 * key.pem) or in containers-certs.d(5)'s (*.crt, NAME.cert + NAME.key).
 * E_USAGE for a host that is not unix://, tcp://, http:// or https://.
 */
export async function resolveEndpoint(daemon: DaemonContext = {}, env: NodeJS.ProcessEnv = process.env): Promise<EngineEndpoint> {
  const host = daemon.host || env.DOCKER_HOST || DEFAULT_DAEMON_HOST;
  const m = /^([a-z]+):\/\/(.*)$/.exec(host);
  if (!m) throw new OcikitError('E_USAGE', `daemon host ${JSON.stringify(host)}: expected unix:///PATH or tcp://HOST:PORT`);
  const scheme = m[1]!;
  const rest = m[2]!;
  if (scheme === 'unix') {
    if (!rest.startsWith('/')) throw new OcikitError('E_USAGE', `daemon host ${JSON.stringify(host)}: the socket path must be absolute`);
    return { host, origin: 'http://localhost', socketPath: rest };
  }
  if (scheme !== 'tcp' && scheme !== 'http' && scheme !== 'https') {
    throw new OcikitError('E_USAGE', `daemon host ${JSON.stringify(host)}: unsupported scheme ${JSON.stringify(scheme)}`, { hint: 'use unix:///PATH or tcp://HOST:PORT' });
  }
  const authority = rest.replace(/\/.*$/, '');
  if (authority === '') throw new OcikitError('E_USAGE', `daemon host ${JSON.stringify(host)}: no host name`);
  const tlsVerifyEnv = (env.DOCKER_TLS_VERIFY ?? '') !== '';
  const certPathEnv = env.DOCKER_CERT_PATH || undefined;
  const useTls = scheme === 'https' || (scheme === 'tcp' && (tlsVerifyEnv || certPathEnv !== undefined || daemon.certDir !== undefined));
  if (!useTls) return { host, origin: `http://${authority}` };
  const certDir = daemon.certDir ?? certPathEnv ?? (tlsVerifyEnv ? join(env.HOME || homedir(), '.docker') : undefined);
  // As docker: a certificate path alone means "encrypt, but do not verify" (DOCKER_TLS_VERIFY unset).
  const verify = daemon.tlsVerify === false ? false : !(scheme === 'tcp' && certPathEnv !== undefined && !tlsVerifyEnv && daemon.certDir === undefined);
  const tls: NonNullable<EngineEndpoint['tls']> = { verify };
  if (certDir !== undefined) Object.assign(tls, await loadDaemonCerts(certDir));
  return { host, origin: `https://${authority}`, tls };
}

/** ca.pem / cert.pem / key.pem (docker's names), else the containers-certs.d layout. */
async function loadDaemonCerts(dir: string): Promise<{ ca?: string[]; cert?: string; key?: string }> {
  const read = (n: string): Promise<string | undefined> =>
    fsp.readFile(join(dir, n), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw new OcikitError('E_IO', `reading daemon certificate ${join(dir, n)}: ${err.code ?? err.message}`);
    });
  const [ca, cert, key] = await Promise.all([read('ca.pem'), read('cert.pem'), read('key.pem')]);
  if (ca !== undefined || cert !== undefined || key !== undefined) {
    if ((cert === undefined) !== (key === undefined)) throw new OcikitError('E_BAD_INPUT', `daemon certificates in ${dir}: cert.pem and key.pem go together`);
    return { ...(ca !== undefined ? { ca: [ca] } : {}), ...(cert !== undefined ? { cert, key: key! } : {}) };
  }
  const d = await loadCertDir(dir);
  return { ...(d.ca.length ? { ca: d.ca } : {}), ...(d.cert !== undefined ? { cert: d.cert, key: d.key! } : {}) };
}

function versionLess(a: string, b: string): boolean {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 < b1 || (a1 === b1 && a2 < b2);
}

/** What the daemon said in an error body ({"message": "..."}), else the status line. */
async function daemonMessage(res: Dispatcher.ResponseData): Promise<string> {
  let text = '';
  try {
    text = (await res.body.text()).slice(0, 4096);
  } catch {
    // the body is only decoration for the status; its loss changes nothing
  }
  try {
    const j = JSON.parse(text) as { message?: unknown };
    if (typeof j.message === 'string' && j.message !== '') return oneLine(j.message);
  } catch {
    // not JSON: use the text itself
  }
  return text.trim() !== '' ? oneLine(text) : `HTTP ${res.statusCode}`;
}

/** Messages from the daemon end up in our one-line errors: no newlines, bounded length. */
export function oneLine(s: string): string {
  const t = s.replace(/\s*\n\s*/g, '; ').trim();
  return t.length > 500 ? `${t.slice(0, 500)}…` : t;
}

/** The error for an HTTP answer that is not 2xx. 404 is E_NOT_FOUND (exit 2). */
export async function httpError(res: Dispatcher.ResponseData, context: string): Promise<OcikitError> {
  const msg = await daemonMessage(res);
  const code = res.statusCode === 404 ? 'E_NOT_FOUND' : res.statusCode === 401 || res.statusCode === 403 ? 'E_AUTH' : res.statusCode === 400 ? 'E_BAD_INPUT' : 'E_IO';
  return new OcikitError(code, `${context}: the daemon answered ${res.statusCode}: ${msg}`);
}

/** Turn a connection failure into one line that says which daemon and what to check. */
export function connectionError(err: unknown, host: string, context: string): OcikitError {
  if (isOcikitError(err)) return err;
  const c = errorCode(err);
  const why: Record<string, string> = {
    ENOENT: 'the socket does not exist',
    ECONNREFUSED: 'connection refused',
    EACCES: 'permission denied on the socket',
    ENOTSOCK: 'not a socket',
    UND_ERR_SOCKET: 'the daemon closed the connection',
    ECONNRESET: 'the daemon reset the connection',
    UND_ERR_ABORTED: 'cancelled',
  };
  const text = (c && why[c]) || describeNetworkError(err);
  const hint =
    c === 'ENOENT' || c === 'ECONNREFUSED' || c === 'ENOTSOCK'
      ? 'is dockerd running? Point at another daemon with DOCKER_HOST, --daemon-host, --src-daemon-host or --dest-daemon-host'
      : c === 'EACCES'
        ? 'run as a user who may use the socket (the docker group, or root)'
        : undefined;
  return new OcikitError(c === 'UND_ERR_ABORTED' ? 'E_ABORTED' : 'E_NETWORK', `${context}: cannot talk to the Docker daemon at ${host}: ${text}`, hint ? { cause: err, hint } : { cause: err });
}

/** One Engine API request: the path below the version prefix, and what to send. */
export interface EngineRequest {
  method: 'GET' | 'POST' | 'HEAD';
  /** Path below the version prefix: "/images/get". */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Readable;
  signal?: AbortSignal;
}

/** A connection to one daemon, with the API version agreed. close() when done. */
export class Engine {
  private constructor(
    readonly endpoint: EngineEndpoint,
    private readonly dispatcher: Dispatcher,
    /** The API version every request uses ("1.41"). */
    readonly apiVersion: string,
  ) {}

  /** The daemon host as the user wrote it, for messages. */
  get host(): string {
    return this.endpoint.host;
  }

  /**
   * Reach the daemon of `ctx` and agree on an API version: the daemon's (from /_ping's Api-Version
   * header, else /version), capped at CLIENT_API_VERSION. E_NETWORK, naming the host and with a
   * hint, when the daemon cannot be reached; `context` says what was being done.
   */
  static async connect(ctx: TransportOptions, context: string): Promise<Engine> {
    const endpoint = await resolveEndpoint(ctx.daemon);
    const connect: Record<string, unknown> = {};
    if (endpoint.socketPath) connect.socketPath = endpoint.socketPath;
    if (endpoint.tls) {
      connect.rejectUnauthorized = endpoint.tls.verify;
      if (endpoint.tls.ca) connect.ca = endpoint.tls.ca;
      else if (endpoint.tls.verify) {
        const trust = defaultTrust();
        if (trust) connect.ca = trust;
      }
      if (endpoint.tls.cert) connect.cert = endpoint.tls.cert;
      if (endpoint.tls.key) connect.key = endpoint.tls.key;
    }
    // Exports and loads of big images take minutes, and the daemon may say nothing while it works
    // (a load answers only after reading the whole archive): no header or body timeouts.
    const dispatcher = new (undici().Agent)({ connect, headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 5_000 });
    try {
      const version = await negotiate(endpoint, dispatcher, ctx.events?.signal, context);
      return new Engine(endpoint, dispatcher, version);
    } catch (err) {
      await dispatcher.close().catch(() => undefined);
      throw err;
    }
  }

  /** Send a request to /v<version><path>. Connection failures become connectionError's one line. */
  async request(r: EngineRequest, context: string): Promise<Dispatcher.ResponseData> {
    const qs = r.query ? `?${new URLSearchParams(r.query).toString()}` : '';
    try {
      return await send(this.dispatcher, `${this.endpoint.origin}/v${this.apiVersion}${r.path}${qs}`, {
        method: r.method,
        ...(r.headers ? { headers: r.headers } : {}),
        ...(r.body ? { body: r.body } : {}),
        ...(r.signal ? { signal: r.signal } : {}),
      });
    } catch (err) {
      throw connectionError(err, this.host, context);
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => undefined);
  }
}

/** The API version to use with this daemon. */
async function negotiate(endpoint: EngineEndpoint, dispatcher: Dispatcher, signal: AbortSignal | undefined, context: string): Promise<string> {
  const get = async (path: string): Promise<Dispatcher.ResponseData> => {
    try {
      // A daemon that accepts the connection but never answers is broken: say so rather than hang.
      return await send(dispatcher, `${endpoint.origin}${path}`, { method: 'GET', headersTimeout: 60_000, bodyTimeout: 60_000, ...(signal ? { signal } : {}) });
    } catch (err) {
      throw connectionError(err, endpoint.host, context);
    }
  };
  let server: string | undefined;
  const ping = await get('/_ping');
  const header = ping.headers['api-version'];
  await ping.body.dump();
  if (ping.statusCode === 200 && typeof header === 'string' && header !== '') {
    server = header;
  } else {
    const v = await get('/version');
    if (v.statusCode !== 200) throw await httpError(v, `${context}: asking ${endpoint.host} for its API version`);
    const j = (await v.body.json().catch(() => ({}))) as { ApiVersion?: unknown };
    if (typeof j.ApiVersion === 'string') server = j.ApiVersion;
  }
  if (server === undefined || !/^\d+\.\d+$/.test(server)) {
    throw new OcikitError('E_UNSUPPORTED', `${context}: ${endpoint.host} does not say which Docker Engine API version it speaks; is it a Docker daemon?`);
  }
  if (versionLess(server, MIN_API_VERSION)) {
    throw new OcikitError('E_UNSUPPORTED', `${context}: the Docker daemon at ${endpoint.host} speaks API ${server}; ocikit needs ${MIN_API_VERSION} or newer`);
  }
  return versionLess(server, CLIENT_API_VERSION) ? server : CLIENT_API_VERSION;
}
