/** Shared CLI plumbing: the command's store and the transports' options, from flags. */
import { OcikitError } from '../lib/errors.js';
import { LazyStore } from '../lib/store/handle.js';
import type { PlatformOverrides } from '../lib/manifest/index.js';
import type { DaemonContext, RegistryContext, TransportEvents, TransportOptions } from '../lib/transports/types.js';
import { boolFlag, intFlag, parseDuration, type FlagSpec, type GlobalOptions, type Io, type ParsedArgs } from './command.js';
import { promptHidden } from './prompt.js';

export { parseDuration } from './command.js';

/**
 * The store of one command: a handle on --store (else the default directory) that opens it the
 * first time something needs it (lib/store/handle.ts), so a command that never does (inspect of a
 * file layout, a push the registry already shows, login) creates no store directory and loads no
 * SQLite. `durable: false` (--no-sync) skips its fsyncs. The command closes it.
 */
export function commandStore(g: GlobalOptions, opts: { durable?: boolean } = {}): LazyStore {
  return new LazyStore(g.store, opts);
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
 * What the transports of one side of a copy ('src' or 'dest'), or of a single image (side
 * undefined), are told, in its sections: the platform overrides; the registry section from that
 * side's registry flags (REGISTRY_FLAGS / COPY_REGISTRY_FLAGS) with --user-agent-prefix and
 * --registries.d; the daemon section (--daemon-host, and --cert-dir / --tls-verify, which apply to
 * a tcp:// daemon too); and the --command-timeout signal. Async because `--creds USER` asks for the
 * password on the terminal.
 */
export async function transportOptions(args: ParsedArgs, g: GlobalOptions, side?: 'src' | 'dest', io?: Io): Promise<TransportOptions> {
  const stderr = io?.stderr ?? process.stderr;
  const p = side ? `${side}-` : '';
  // Hints name the flag of this command and side ("--src-tls-verify=false" for a copy's source).
  const registry: RegistryContext = { flagPrefix: p };
  if (g.userAgentPrefix) registry.userAgentPrefix = g.userAgentPrefix;
  if (g.registriesDir) registry.registriesDir = g.registriesDir;
  if (g.registriesConf) registry.registriesConf = g.registriesConf;
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
    registry.credentials = { username, password };
  }
  if (token !== undefined && (creds !== undefined || registry.credentials)) throw new OcikitError('E_USAGE', `--${p}registry-token and --${p}creds conflict`);
  if (creds !== undefined) registry.credentials = await parseCreds(`${p}creds`, creds, io);
  if (noCreds) registry.noCreds = true;
  if (token !== undefined) registry.registryToken = token;
  const authFile = str(args, `${p}authfile`) ?? str(args, 'authfile');
  if (authFile !== undefined) registry.authFile = authFile;
  const retryTimes = intFlag(args, 'retry-times', 0, 100);
  if (retryTimes !== undefined) registry.retryTimes = retryTimes;
  const retryDelay = str(args, 'retry-delay');
  if (retryDelay !== undefined) registry.retryDelayMs = parseDuration('retry-delay', retryDelay);
  if (side === 'dest') {
    const chunk = str(args, 'dest-chunk-size');
    if (chunk !== undefined) registry.uploadChunkSize = parseSize('dest-chunk-size', chunk);
  }

  // --cert-dir and --tls-verify: for a registry, and for a tcp:// daemon.
  const daemon: DaemonContext = {};
  const certDir = str(args, `${p}cert-dir`);
  if (certDir !== undefined) registry.certDir = daemon.certDir = certDir;
  if (args[`${p}tls-verify`] !== undefined) registry.tlsVerify = daemon.tlsVerify = boolFlag(args, `${p}tls-verify`, true);
  else if (side && args['tls-verify'] !== undefined) {
    // skopeo's deprecated --tls-verify on copy and sync (or before the command): every side not set on its own.
    registry.tlsVerify = daemon.tlsVerify = boolFlag(args, 'tls-verify', true);
    if (side === 'src') stderr.write('ocikit: warning: --tls-verify is deprecated (as in skopeo): use --src-tls-verify and --dest-tls-verify\n');
  }
  const daemonHost = str(args, `${p}daemon-host`);
  if (daemonHost !== undefined) daemon.host = daemonHost;

  const platform: PlatformOverrides = {};
  if (g.overrideOS) platform.overrideOS = g.overrideOS;
  if (g.overrideArch) platform.overrideArch = g.overrideArch;
  if (g.overrideVariant) platform.overrideVariant = g.overrideVariant;
  // Notes from transports (a short name registries.conf would send elsewhere) go to stderr; copy
  // sends them through its progress printer instead.
  const events: TransportEvents = { onStatus: (line) => stderr.write(`ocikit: ${line}\n`) };
  if (g.signal) events.signal = g.signal;
  if (g.debug) events.debug = debugWriter(stderr);
  return { platform, registry, daemon, events };
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
