/** Shared CLI plumbing: opening the store and building transport contexts from flags. */
import type minimist from 'minimist';
import { OcikitError } from '../lib/errors.js';
import { BlobStore, defaultStoreDir } from '../lib/store/index.js';
import type { SystemContext } from '../lib/transports/types.js';
import { boolFlag, intFlag, type FlagSpec, type GlobalOptions } from './command.js';

export function openStore(g: GlobalOptions): BlobStore {
  return BlobStore.open(g.store ?? defaultStoreDir());
}

/**
 * Registry flags of commands that work on one image (inspect, list-tags, delete), as skopeo names them.
 * Spread into a command's flag spec: `flags: { string: [...REGISTRY_FLAGS.string, ...], boolean: [...REGISTRY_FLAGS.boolean] }`.
 */
export const REGISTRY_FLAGS: Required<Pick<FlagSpec, 'string' | 'boolean'>> = {
  string: ['creds', 'username', 'password', 'registry-token', 'authfile', 'cert-dir', 'tls-verify', 'retry-times', 'retry-delay', 'daemon-host'],
  boolean: ['no-creds'],
};

/** Registry flags of copy: one set per side, plus the shared --authfile and retry flags. */
export const COPY_REGISTRY_FLAGS: Required<Pick<FlagSpec, 'string' | 'boolean'>> = {
  string: [
    'authfile',
    'retry-times',
    'retry-delay',
    ...(['src', 'dest'] as const).flatMap((s) => [`${s}-creds`, `${s}-username`, `${s}-password`, `${s}-registry-token`, `${s}-authfile`, `${s}-cert-dir`, `${s}-tls-verify`, `${s}-daemon-host`]),
    'dest-chunk-size',
  ],
  boolean: ['src-no-creds', 'dest-no-creds'],
};

/** Help lines for REGISTRY_FLAGS. */
export const REGISTRY_HELP = `Registry options (docker://):
      --creds USER[:PASSWORD]    credentials for the registry
      --username U / --password P
                                 credentials, as two flags
      --registry-token TOKEN     a bearer token to send as is
      --no-creds                 access the registry anonymously
      --authfile PATH            auth file (default $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json)
      --cert-dir DIR             CA certificates (*.crt) and client certificate (*.cert, *.key) for the registry
      --tls-verify=false         allow plain http and certificates that do not verify
      --retry-times N            retry failed requests N times (default 3)
      --retry-delay DURATION     wait between retries (e.g. 2s, 500ms; default: Retry-After, else 1s doubling)

Docker daemon options (docker-daemon:):
      --daemon-host HOST         the daemon to use: unix:///PATH or tcp://HOST:PORT
                                 (default $DOCKER_HOST, else unix:///var/run/docker.sock)`;

/** Help lines for COPY_REGISTRY_FLAGS. */
export const COPY_REGISTRY_HELP = `Registry options (docker://), per side (--src-… for the source, --dest-… for the destination):
      --src-creds / --dest-creds USER[:PASSWORD]
      --src-username / --src-password, --dest-username / --dest-password
      --src-registry-token / --dest-registry-token TOKEN
      --src-no-creds / --dest-no-creds
      --authfile PATH, --src-authfile / --dest-authfile PATH
      --src-cert-dir / --dest-cert-dir DIR
      --src-tls-verify=false / --dest-tls-verify=false
      --dest-chunk-size SIZE     upload blobs in chunks of SIZE (e.g. 8M) instead of one request
      --retry-times N, --retry-delay DURATION

Docker daemon options (docker-daemon:), per side:
      --src-daemon-host / --dest-daemon-host HOST
                                 the daemon to use: unix:///PATH or tcp://HOST:PORT
                                 (default $DOCKER_HOST, else unix:///var/run/docker.sock);
                                 --src-cert-dir / --src-tls-verify apply to a tcp:// daemon too`;

function str(args: minimist.ParsedArgs, name: string): string | undefined {
  const v = args[name];
  if (v === undefined || v === '' || typeof v === 'boolean') return undefined;
  return String(v);
}

/** "USER:PASSWORD" as skopeo's --creds. A missing password is refused (ocikit does not prompt). */
export function parseCreds(flag: string, v: string): { username: string; password: string } {
  const colon = v.indexOf(':');
  if (colon < 0) throw new OcikitError('E_USAGE', `--${flag}: expected USERNAME:PASSWORD`, { hint: 'ocikit does not prompt for a password; give it after the colon or use ocikit login --password-stdin' });
  const username = v.slice(0, colon);
  if (username === '') throw new OcikitError('E_USAGE', `--${flag}: the user name is empty`);
  return { username, password: v.slice(colon + 1) };
}

/** A Go-style duration ("1s", "500ms", "1m30s") or a plain number of seconds, in ms. */
export function parseDuration(flag: string, v: string): number {
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = s;
  const re = /^(\d+(?:\.\d+)?)(ms|s|m|h)/;
  if (rest === '') throw new OcikitError('E_USAGE', `--${flag}: expected a duration such as 2s or 500ms`);
  while (rest !== '') {
    const m = re.exec(rest);
    if (!m) throw new OcikitError('E_USAGE', `--${flag}: expected a duration such as 2s or 500ms, got ${JSON.stringify(v)}`);
    total += Number(m[1]) * unit[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

/** A size in bytes with an optional K/M/G suffix (powers of 1024). */
export function parseSize(flag: string, v: string): number {
  const m = /^(\d+)([kKmMgG]i?[bB]?)?$/.exec(v.trim());
  if (!m) throw new OcikitError('E_USAGE', `--${flag}: expected a size such as 8M, got ${JSON.stringify(v)}`);
  const mult = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').charAt(0).toLowerCase()] ?? 1;
  const n = Number(m[1]) * mult;
  if (n < 1) throw new OcikitError('E_USAGE', `--${flag}: must be at least 1 byte`);
  return n;
}

/**
 * The context for one side of a copy ('src' or 'dest'), or for a single image (side undefined):
 * platform overrides and the registry flags of that side (REGISTRY_FLAGS / COPY_REGISTRY_FLAGS).
 */
export function systemContext(args: minimist.ParsedArgs, g: GlobalOptions, side?: 'src' | 'dest'): SystemContext {
  const ctx: SystemContext = {};
  if (g.overrideOS) ctx.overrideOS = g.overrideOS;
  if (g.overrideArch) ctx.overrideArch = g.overrideArch;
  if (g.overrideVariant) ctx.overrideVariant = g.overrideVariant;

  const p = side ? `${side}-` : '';
  const creds = str(args, `${p}creds`);
  const username = str(args, `${p}username`);
  const password = str(args, `${p}password`);
  const noCreds = !!args[`${p}no-creds`];
  if (creds !== undefined && (username !== undefined || password !== undefined)) throw new OcikitError('E_USAGE', `--${p}creds and --${p}username/--${p}password conflict`);
  if (noCreds && (creds !== undefined || username !== undefined)) throw new OcikitError('E_USAGE', `--${p}no-creds and --${p}creds/--${p}username conflict`);
  if (creds !== undefined) ctx.credentials = parseCreds(`${p}creds`, creds);
  if (username !== undefined || password !== undefined) {
    if (username === undefined || password === undefined) throw new OcikitError('E_USAGE', `--${p}username and --${p}password go together`);
    ctx.credentials = { username, password };
  }
  if (noCreds) ctx.noCreds = true;
  const token = str(args, `${p}registry-token`);
  if (token !== undefined) {
    if (ctx.credentials) throw new OcikitError('E_USAGE', `--${p}registry-token and --${p}creds conflict`);
    ctx.registryToken = token;
  }
  const authFile = str(args, `${p}authfile`) ?? str(args, 'authfile');
  if (authFile !== undefined) ctx.authFile = authFile;
  const certDir = str(args, `${p}cert-dir`);
  if (certDir !== undefined) ctx.certDir = certDir;
  if (args[`${p}tls-verify`] !== undefined) ctx.tlsVerify = boolFlag(args, `${p}tls-verify`, true);
  const daemonHost = str(args, `${p}daemon-host`);
  if (daemonHost !== undefined) ctx.daemonHost = daemonHost;
  const retryTimes = intFlag(args, 'retry-times', 0, 100);
  if (retryTimes !== undefined) ctx.retryTimes = retryTimes;
  const retryDelay = str(args, 'retry-delay');
  if (retryDelay !== undefined) ctx.retryDelayMs = parseDuration('retry-delay', retryDelay);
  if (side === 'dest') {
    const chunk = str(args, 'dest-chunk-size');
    if (chunk !== undefined) ctx.uploadChunkSize = parseSize('dest-chunk-size', chunk);
  }
  return ctx;
}

/** "host/repo:tag@digest" -> "host/repo". */
export function repositoryName(dockerRef: string): string {
  const at = dockerRef.indexOf('@');
  let s = at >= 0 ? dockerRef.slice(0, at) : dockerRef;
  const colon = s.lastIndexOf(':');
  if (colon > s.lastIndexOf('/')) s = s.slice(0, colon);
  return s;
}
