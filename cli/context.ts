/** Shared CLI plumbing: opening the store and building transport contexts from flags. */
import { OcikitError } from '../lib/errors.js';
import type { BlobStore } from '../lib/store/index.js';
import type { SystemContext } from '../lib/transports/types.js';
import { boolFlag, intFlag, parseDuration, type FlagSpec, type GlobalOptions, type Io, type ParsedArgs } from './command.js';
import { promptHidden } from './prompt.js';

export { parseDuration } from './command.js';

/**
 * The store the command works through; `durable: false` (--no-sync) skips its fsyncs. The store's
 * modules load here, on first use, so a command that never touches the store (inspect of a file
 * layout, --version, login) does not pay for them at start-up.
 */
export async function openStore(g: GlobalOptions, opts: { durable?: boolean } = {}): Promise<BlobStore> {
  const { BlobStore, defaultStoreDir } = await import('../lib/store/index.js');
  return BlobStore.open(g.store ?? defaultStoreDir(), opts);
}

/**
 * Run `fn` with an opener of the store that opens it only when called (by a transport that needs
 * it: store:, docker-daemon:, containers-storage:), and close it afterwards: a command on a
 * registry or a file layout creates no store directory and opens no SQLite.
 */
export async function withLazyStore<T>(g: GlobalOptions, fn: (open: () => Promise<BlobStore>) => Promise<T>): Promise<T> {
  let store: Promise<BlobStore> | undefined;
  try {
    return await fn(() => (store ??= openStore(g)));
  } finally {
    if (store) (await store.catch(() => undefined))?.close();
  }
}

/**
 * Registry flags of commands that work on one image (inspect, list-tags, delete), as skopeo names them.
 * Spread into a command's flag spec: `flags: { string: [...REGISTRY_FLAGS.string, ...], boolean: [...REGISTRY_FLAGS.boolean] }`.
 */
export const REGISTRY_FLAGS: Required<Pick<FlagSpec, 'string' | 'boolean'>> = {
  string: ['creds', 'username', 'password', 'registry-token', 'authfile', 'cert-dir', 'retry-times', 'retry-delay', 'daemon-host'],
  boolean: ['no-creds', 'tls-verify'],
};

/** Registry flags of copy: one set per side, plus the shared --authfile and retry flags. */
export const COPY_REGISTRY_FLAGS: Required<Pick<FlagSpec, 'string' | 'boolean'>> = {
  string: [
    'authfile',
    'retry-times',
    'retry-delay',
    ...(['src', 'dest'] as const).flatMap((s) => [`${s}-creds`, `${s}-username`, `${s}-password`, `${s}-registry-token`, `${s}-authfile`, `${s}-cert-dir`, `${s}-daemon-host`]),
    'dest-chunk-size',
  ],
  boolean: ['src-no-creds', 'dest-no-creds', 'src-tls-verify', 'dest-tls-verify'],
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

function str(args: ParsedArgs, name: string): string | undefined {
  const v = args[name];
  if (v === undefined || v === '' || typeof v === 'boolean') return undefined;
  return String(v);
}

/**
 * "USER[:PASSWORD]" as skopeo's --creds. Without a colon the password is asked for on the terminal
 * (no echo), as skopeo does; with no terminal to ask on, E_USAGE.
 */
export async function parseCreds(flag: string, v: string, io?: Io): Promise<{ username: string; password: string }> {
  const colon = v.indexOf(':');
  const username = colon < 0 ? v : v.slice(0, colon);
  if (username === '') throw new OcikitError('E_USAGE', `--${flag}: the user name is empty`);
  if (colon >= 0) return { username, password: v.slice(colon + 1) };
  const password = await promptHidden(io, 'Password: ', `--${flag} ${username} gives no password`);
  return { username, password };
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
 * platform overrides, the global --command-timeout signal and --user-agent-prefix, and the registry
 * flags of that side (REGISTRY_FLAGS / COPY_REGISTRY_FLAGS). Async because `--creds USER` asks for
 * the password on the terminal.
 */
export async function systemContext(args: ParsedArgs, g: GlobalOptions, side?: 'src' | 'dest', io?: Io): Promise<SystemContext> {
  const ctx: SystemContext = {};
  if (g.overrideOS) ctx.overrideOS = g.overrideOS;
  if (g.overrideArch) ctx.overrideArch = g.overrideArch;
  if (g.overrideVariant) ctx.overrideVariant = g.overrideVariant;
  if (g.signal) ctx.signal = g.signal;
  if (g.userAgentPrefix) ctx.userAgentPrefix = g.userAgentPrefix;
  if (g.registriesConf) ctx.registriesConf = g.registriesConf;
  const stderr = io?.stderr ?? process.stderr;
  // Notes from transports (a short name registries.conf would send elsewhere) go to stderr; copy
  // sends them through its progress printer instead.
  ctx.onStatus = (line) => stderr.write(`ocikit: ${line}\n`);
  if (g.debug) ctx.debug = debugWriter(stderr);

  const p = side ? `${side}-` : '';
  // Hints name the flag of this command and side ("--src-tls-verify=false" for a copy's source).
  ctx.flagPrefix = p;
  const creds = str(args, `${p}creds`);
  const username = str(args, `${p}username`);
  const password = str(args, `${p}password`);
  const noCreds = boolFlag(args, `${p}no-creds`, false);
  const token = str(args, `${p}registry-token`);
  if (creds !== undefined && (username !== undefined || password !== undefined)) throw new OcikitError('E_USAGE', `--${p}creds and --${p}username/--${p}password conflict`);
  // skopeo refuses these pairs too: a credential the user said not to send must never be sent.
  if (noCreds && (creds !== undefined || username !== undefined || password !== undefined || token !== undefined)) {
    throw new OcikitError('E_USAGE', `--${p}no-creds conflicts with --${p}creds, --${p}username, --${p}password and --${p}registry-token`);
  }
  if (username !== undefined || password !== undefined) {
    if (username === undefined || password === undefined) throw new OcikitError('E_USAGE', `--${p}username and --${p}password go together`);
    ctx.credentials = { username, password };
  }
  if (token !== undefined && (creds !== undefined || ctx.credentials)) throw new OcikitError('E_USAGE', `--${p}registry-token and --${p}creds conflict`);
  if (creds !== undefined) ctx.credentials = await parseCreds(`${p}creds`, creds, io);
  if (noCreds) ctx.noCreds = true;
  if (token !== undefined) ctx.registryToken = token;
  const authFile = str(args, `${p}authfile`) ?? str(args, 'authfile');
  if (authFile !== undefined) ctx.authFile = authFile;
  const certDir = str(args, `${p}cert-dir`);
  if (certDir !== undefined) ctx.certDir = certDir;
  if (args[`${p}tls-verify`] !== undefined) ctx.tlsVerify = boolFlag(args, `${p}tls-verify`, true);
  else if (side && args['tls-verify'] !== undefined) {
    // skopeo's deprecated --tls-verify on copy and sync (or before the command): every side not set on its own.
    ctx.tlsVerify = boolFlag(args, 'tls-verify', true);
    if (side === 'src') stderr.write('ocikit: warning: --tls-verify is deprecated (as in skopeo): use --src-tls-verify and --dest-tls-verify\n');
  }
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

/**
 * --debug's writer: "debug +0.123s LINE" on `out`, the time since the command started, so that
 * where a slow or refused command spends its time shows.
 */
export function debugWriter(out: NodeJS.WritableStream): (line: string) => void {
  return (line) => out.write(`debug +${(performance.now() / 1000).toFixed(3)}s ${line}\n`);
}

/** "host/repo:tag@digest" -> "host/repo". */
export function repositoryName(dockerRef: string): string {
  const at = dockerRef.indexOf('@');
  let s = at >= 0 ? dockerRef.slice(0, at) : dockerRef;
  const colon = s.lastIndexOf(':');
  if (colon > s.lastIndexOf('/')) s = s.slice(0, colon);
  return s;
}
