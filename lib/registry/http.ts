/**
 * The HTTP layer under the registry client: undici dispatchers with the TLS settings of a registry
 * (--tls-verify, --cert-dir, certs.d), HTTPS_PROXY / NO_PROXY, and the classification of transport
 * errors into "retry", "try plain http" and "give up".
 *
 * One dispatcher per distinct TLS setting, shared by every client in the process, so connections
 * to a registry are reused across source, destination and token service.
 */
import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici';
import { OcikitError } from '../errors.js';

/** TLS material for one registry, as loaded from a certificate directory. */
export interface TlsMaterial {
  verify: boolean;
  /** Extra CA certificates (PEM), added to the system's. */
  ca: string[];
  cert?: string;
  key?: string;
}

/**
 * Load a certificate directory as containers-certs.d(5) lays it out: `*.crt` are CA certificates,
 * `NAME.cert` + `NAME.key` a client certificate and its key. A missing directory is empty.
 * E_BAD_INPUT for a client certificate without its key (or a key without its certificate).
 */
export async function loadCertDir(dir: string): Promise<Pick<TlsMaterial, 'ca' | 'cert' | 'key'>> {
  let names: string[];
  try {
    names = (await fsp.readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ca: [] };
    throw new OcikitError('E_IO', `reading certificate directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? 'failed'}`);
  }
  const out: Pick<TlsMaterial, 'ca' | 'cert' | 'key'> = { ca: [] };
  for (const n of names) {
    if (n.endsWith('.crt')) out.ca.push(await fsp.readFile(join(dir, n), 'utf8'));
  }
  for (const n of names) {
    if (n.endsWith('.cert')) {
      const base = n.slice(0, -'.cert'.length);
      if (!names.includes(`${base}.key`)) throw new OcikitError('E_BAD_INPUT', `certificate directory ${dir}: client certificate ${n} has no ${base}.key`);
      if (out.cert === undefined) {
        out.cert = await fsp.readFile(join(dir, n), 'utf8');
        out.key = await fsp.readFile(join(dir, `${base}.key`), 'utf8');
      }
    } else if (n.endsWith('.key')) {
      const base = n.slice(0, -'.key'.length);
      if (!names.includes(`${base}.cert`)) throw new OcikitError('E_BAD_INPUT', `certificate directory ${dir}: key ${n} has no ${base}.cert`);
    }
  }
  return out;
}

/**
 * The certificate directory for `host` ("registry.example:5000"): `certDir` when given, else the
 * first of $XDG_CONFIG_HOME/containers/certs.d/HOST, /etc/containers/certs.d/HOST and
 * /etc/docker/certs.d/HOST that exists.
 */
export async function certDirFor(host: string, certDir: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (certDir) return certDir;
  const home = env.HOME || homedir();
  const cfg = env.XDG_CONFIG_HOME || join(home, '.config');
  for (const base of [join(cfg, 'containers', 'certs.d'), '/etc/containers/certs.d', '/etc/docker/certs.d']) {
    const d = join(base, host);
    try {
      if ((await fsp.stat(d)).isDirectory()) return d;
    } catch {
      /* next */
    }
  }
  return undefined;
}

const dispatchers = new Map<string, Dispatcher>();

function proxyConfigured(): boolean {
  const e = process.env;
  return !!(e.https_proxy || e.HTTPS_PROXY || e.http_proxy || e.HTTP_PROXY);
}

/** The shared dispatcher for these TLS settings (and the proxy environment at first use). */
export function dispatcherFor(tls: TlsMaterial): Dispatcher {
  const key = JSON.stringify([tls.verify, tls.ca, tls.cert ?? '', tls.key ?? '', proxyConfigured()]);
  let d = dispatchers.get(key);
  if (d) return d;
  const connect: Record<string, unknown> = { rejectUnauthorized: tls.verify };
  // Node replaces its root store when `ca` is given; containers/image adds to the system pool instead.
  if (tls.ca.length) connect.ca = [...rootCertificates, ...tls.ca];
  // Not verifying (--tls-verify=false, which first tries https): no root store to load, ~20 ms
  // of parsing certificates on the first connection, for a check that is not made.
  else if (!tls.verify) connect.ca = [];
  if (tls.cert) connect.cert = tls.cert;
  if (tls.key) connect.key = tls.key;
  const common = { keepAliveTimeout: 10_000, connections: 32 };
  // EnvHttpProxyAgent honours HTTP(S)_PROXY and NO_PROXY; the TLS options to the registry travel as
  // `connect` (direct) and `requestTls` (through the proxy's CONNECT tunnel).
  d = proxyConfigured() ? new EnvHttpProxyAgent({ ...common, connect, requestTls: connect }) : new Agent({ ...common, connect });
  dispatchers.set(key, d);
  return d;
}

/** Close every shared dispatcher (tests; the CLI exits without it since idle sockets do not hold the loop). */
export async function closeDispatchers(): Promise<void> {
  const all = [...dispatchers.values()];
  dispatchers.clear();
  await Promise.all(all.map((d) => d.close().catch(() => undefined)));
}

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
]);

/** The first `code` on an error or its causes. */
export function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && !c.startsWith('E_')) return c;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether a transport error may go away on its own (reset, timeout, refused while restarting). */
export function isRetryableNetworkError(err: unknown): boolean {
  const c = errorCode(err);
  return c !== undefined && RETRYABLE_CODES.has(c);
}

/** Whether an error on an https attempt means the server speaks plain http (or no TLS we accept). */
export function looksLikePlainHttp(err: unknown): boolean {
  const c = errorCode(err) ?? '';
  const m = err instanceof Error ? err.message : '';
  return c.startsWith('ERR_SSL_') || c === 'EPROTO' || /wrong version number|packet length too long|http request/i.test(m);
}

/** Whether an error is a certificate problem (so the hint can name --tls-verify / --cert-dir). */
export function isCertificateError(err: unknown): boolean {
  const c = errorCode(err) ?? '';
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH/.test(c);
}

/** A short description of a transport error, free of URLs and headers. */
export function describeNetworkError(err: unknown): string {
  const c = errorCode(err);
  const texts: Record<string, string> = {
    ECONNRESET: 'connection reset',
    ECONNREFUSED: 'connection refused',
    ETIMEDOUT: 'timed out',
    EAI_AGAIN: 'name resolution failed temporarily',
    ENOTFOUND: 'host not found',
    UND_ERR_SOCKET: 'connection closed by the server',
    UND_ERR_HEADERS_TIMEOUT: 'no response (timed out)',
    UND_ERR_BODY_TIMEOUT: 'the response stalled (timed out)',
    UND_ERR_CONNECT_TIMEOUT: 'connecting timed out',
    UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'the response was cut short',
  };
  if (c && texts[c]) return texts[c];
  if (c) return c;
  return err instanceof Error ? err.message.slice(0, 200) : String(err).slice(0, 200);
}
