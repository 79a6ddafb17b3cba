/** The shape of one CLI subcommand, the table of global flags, and the shared flag helpers. */
import { statSync } from 'node:fs';
import { OcikitError } from '../lib/errors.js';
import { DEFAULT_BLOB_JOBS } from '../lib/copy/limit.js';
import { parseArgs, type FlagSpec, type ParsedArgs } from './flags.js';

export type { FlagSpec, ParsedArgs } from './flags.js';

export interface GlobalOptions {
  store?: string;
  debug: boolean;
  quiet: boolean;
  json: boolean;
  jobs?: number;
  overrideOS?: string;
  overrideArch?: string;
  overrideVariant?: string;
  /** --command-timeout, in ms. */
  commandTimeoutMs?: number;
  /** --tmpdir: where temporary files go (set as TMPDIR for this process and its children). */
  tmpdir?: string;
  /** --user-agent-prefix: put before ocikit's User-Agent in registry requests. */
  userAgentPrefix?: string;
  /** Aborted when --command-timeout passes (or the command is cancelled); every SystemContext carries it. */
  signal?: AbortSignal;
  /** --policy FILE: the trust policy to use instead of the default files. */
  policy?: string;
  /** --insecure-policy: copy without evaluating any trust policy. */
  insecurePolicy?: boolean;
  /** --registries.d DIR: where to read signature storage configuration. */
  registriesDir?: string;
  /** --registries-conf FILE: the registries.conf to read instead of the default files. */
  registriesConf?: string;
}

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Where prompts read from (login, --creds USER); default process.stdin. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
}

export interface Command {
  name: string;
  usage: string;
  /** Help text after the usage line: one flag a line. */
  help: string;
  flags: FlagSpec;
  /** Returns the exit code. */
  run(args: ParsedArgs, g: GlobalOptions, io: Io): Promise<number>;
}

/** One global flag: accepted before or after the command, by every command. */
export interface GlobalFlag {
  name: string;
  kind: 'string' | 'boolean';
  /** A one-letter alias (-q). */
  short?: string;
  /** The help line, after the flag's name column. */
  help: string;
  /** The value's name in help ("DIR"). */
  arg?: string;
}

/**
 * Global flags, as skopeo's: accepted before or after the command (`ocikit --debug copy …` and
 * `ocikit copy --debug …`). Adding one is adding a row here and reading it in globalOptions().
 */
export const GLOBAL_FLAG_TABLE: GlobalFlag[] = [
  { name: 'store', kind: 'string', arg: 'DIR', help: 'blob store (default $OCIKIT_STORE, else $XDG_DATA_HOME/ocikit)' },
  { name: 'jobs', kind: 'string', arg: 'N', help: `worker threads (default: the number of cores) and blobs copied at once (default ${DEFAULT_BLOB_JOBS}); for sync, images at once` },
  { name: 'override-os', kind: 'string', arg: 'OS', help: 'use OS instead of the running OS to choose images' },
  { name: 'override-arch', kind: 'string', arg: 'ARCH', help: "use ARCH instead of the machine's architecture" },
  { name: 'override-variant', kind: 'string', arg: 'V', help: 'use V instead of the running architecture variant' },
  { name: 'command-timeout', kind: 'string', arg: 'DURATION', help: 'give up (exit 1) when the command has run this long (e.g. 90s, 5m)' },
  { name: 'tmpdir', kind: 'string', arg: 'DIR', help: 'directory for temporary files (TMPDIR of ocikit and the helpers it runs)' },
  { name: 'user-agent-prefix', kind: 'string', arg: 'TEXT', help: 'put TEXT before the User-Agent of registry requests' },
  { name: 'policy', kind: 'string', arg: 'FILE', help: 'trust policy (default ~/.config/containers/policy.json, else /etc/containers/policy.json)' },
  { name: 'insecure-policy', kind: 'boolean', help: 'copy without any trust policy check' },
  { name: 'registries.d', kind: 'string', arg: 'DIR', help: 'signature storage configuration (containers-registries.d(5))' },
  {
    name: 'registries-conf',
    kind: 'string',
    arg: 'FILE',
    help: 'registries.conf to read (default $CONTAINERS_REGISTRIES_CONF, else ~/.config/containers/registries.conf, else /etc/containers/registries.conf)',
  },
  {
    name: 'tls-verify',
    kind: 'boolean',
    help: 'require HTTPS and verified certificates (=false: allow plain http); copy and sync: both sides not set with --src-/--dest-tls-verify (deprecated in skopeo, which still takes it)',
  },
  { name: 'quiet', kind: 'boolean', short: 'q', help: 'no progress output' },
  { name: 'json', kind: 'boolean', help: 'print the result as JSON on stdout, and errors as JSON on stderr' },
  { name: 'debug', kind: 'boolean', help: "print each registry request (method, URL, status, ms, retry; no credential) and each copy decision on stderr, gpg's output, and stack traces with errors" },
  { name: 'help', kind: 'boolean', short: 'h', help: 'help for the command' },
];

export const GLOBAL_HELP = [
  'Global options (before or after the command):',
  ...GLOBAL_FLAG_TABLE.map((f) => {
    const left = `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.arg ? ` ${f.arg}` : ''}`;
    return `  ${left.padEnd(33)}${f.help}`;
  }),
].join('\n');

/** The global flags that take a value, as they appear on the command line ("--store"). */
export const VALUE_GLOBALS = new Set(GLOBAL_FLAG_TABLE.filter((f) => f.kind === 'string').map((f) => `--${f.name}`));

/** Parse argv for a command (its flags and the global ones), rejecting unknown flags with E_USAGE. */
export function parseFlags(argv: string[], spec: FlagSpec, cmdName: string): ParsedArgs {
  const alias: Record<string, string> = {};
  for (const f of GLOBAL_FLAG_TABLE) if (f.short) alias[f.short] = f.name;
  return parseArgs(
    argv,
    {
      string: [...GLOBAL_FLAG_TABLE.filter((f) => f.kind === 'string').map((f) => f.name), ...(spec.string ?? [])],
      boolean: [...GLOBAL_FLAG_TABLE.filter((f) => f.kind === 'boolean').map((f) => f.name), ...(spec.boolean ?? [])],
      alias: { ...alias, ...(spec.alias ?? {}) },
      repeatable: spec.repeatable ?? [],
    },
    cmdName,
  );
}

/** The global options from parsed flags. Sets TMPDIR when --tmpdir is given (after checking it). */
export function globalOptions(args: ParsedArgs): GlobalOptions {
  const g: GlobalOptions = {
    debug: !!args.debug,
    quiet: !!args.quiet,
    json: !!args.json,
  };
  const s = (name: string): string | undefined => (typeof args[name] === 'string' && args[name] !== '' ? args[name] : undefined);
  if (s('store')) g.store = s('store');
  const jobs = intFlag(args, 'jobs', 1, 256);
  if (jobs !== undefined) g.jobs = jobs;
  if (s('override-os')) g.overrideOS = s('override-os');
  if (s('override-arch')) g.overrideArch = s('override-arch');
  if (s('override-variant')) g.overrideVariant = s('override-variant');
  const timeout = s('command-timeout');
  if (timeout !== undefined) {
    const ms = parseDuration('command-timeout', timeout);
    if (ms <= 0) throw new OcikitError('E_USAGE', '--command-timeout: must be more than 0');
    g.commandTimeoutMs = ms;
  }
  const tmp = s('tmpdir');
  if (tmp !== undefined) {
    let isDir: boolean;
    try {
      isDir = statSync(tmp).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) throw new OcikitError('E_USAGE', `--tmpdir ${tmp}: not an existing directory`);
    // os.tmpdir() reads TMPDIR on every call, and child processes (credential helpers, gpg) inherit it.
    process.env.TMPDIR = tmp;
    g.tmpdir = tmp;
  }
  if (s('policy')) g.policy = s('policy');
  if (args['insecure-policy'] === true) g.insecurePolicy = true;
  if (s('registries.d')) g.registriesDir = s('registries.d');
  if (s('registries-conf')) g.registriesConf = s('registries-conf');
  if (args['user-agent-prefix'] !== undefined) {
    const p = String(args['user-agent-prefix']);
    // A header value with a control character would be refused by undici, or split a request.
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    if (/[\x00-\x1f\x7f]/.test(p)) throw new OcikitError('E_USAGE', '--user-agent-prefix: control characters are not allowed');
    if (p !== '') g.userAgentPrefix = p;
  }
  return g;
}

/** A repeatable string flag as an array (absent: []). */
export function many(args: ParsedArgs, name: string): string[] {
  const v = args[name];
  if (v === undefined || v === '') return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** A boolean flag (declared boolean: true, false or absent), with its default. */
export function boolFlag(args: ParsedArgs, name: string, dflt: boolean): boolean {
  const v = args[name];
  if (v === undefined) return dflt;
  if (v === true || v === false) return v;
  throw new OcikitError('E_INTERNAL', `--${name} is not declared as a boolean flag`);
}

/** A whole-number flag within [min, max]; undefined when absent. */
export function intFlag(args: ParsedArgs, name: string, min: number, max: number): number | undefined {
  const v = args[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new OcikitError('E_USAGE', `--${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Exactly `n` positional arguments, or E_USAGE naming the usage line. */
export function positionals(args: ParsedArgs, n: number, usage: string): string[] {
  const pos = args._.map(String);
  if (pos.length !== n) throw new OcikitError('E_USAGE', `expected ${n} argument${n === 1 ? '' : 's'}, got ${pos.length}`, { hint: `usage: ${usage}` });
  return pos;
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
