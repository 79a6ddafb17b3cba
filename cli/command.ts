/** The shape of one CLI subcommand, and the shared flag helpers. */
import minimist from 'minimist';
import { OcikitError } from '../lib/errors.js';

export interface FlagSpec {
  string?: string[];
  boolean?: string[];
  alias?: Record<string, string>;
  /** Flags that may be given several times (collected into arrays). */
  repeatable?: string[];
  /**
   * Flags that exist only negated (`--no-sync`): minimist reads `--no-NAME` as NAME=false, and
   * leaves NAME undefined when absent (a declared boolean would default to false).
   */
  negatable?: string[];
}

export interface GlobalOptions {
  store?: string;
  debug: boolean;
  quiet: boolean;
  json: boolean;
  jobs?: number;
  overrideOS?: string;
  overrideArch?: string;
  overrideVariant?: string;
  /** --policy FILE: the trust policy to use instead of the default files. */
  policy?: string;
  /** --insecure-policy: copy without evaluating any trust policy. */
  insecurePolicy?: boolean;
  /** --registries.d DIR: where to read signature storage configuration. */
  registriesDir?: string;
}

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Help text after the usage line: one flag a line. */
  help: string;
  flags: FlagSpec;
  /** Returns the exit code. */
  run(args: minimist.ParsedArgs, g: GlobalOptions, io: Io): Promise<number>;
}

/** Global flags, accepted before or after the subcommand (as skopeo's --override-* are global). */
export const GLOBAL_FLAGS: Required<Pick<FlagSpec, 'string' | 'boolean' | 'alias'>> = {
  string: ['store', 'jobs', 'override-os', 'override-arch', 'override-variant', 'policy', 'registries.d'],
  boolean: ['debug', 'help', 'quiet', 'json', 'insecure-policy'],
  alias: { h: 'help', q: 'quiet' },
};

export const GLOBAL_HELP = `Global options:
  --store DIR              blob store (default $OCIKIT_STORE, else $XDG_DATA_HOME/ocikit)
  --jobs N                 blobs and worker jobs at once (default: the number of cores)
  --override-os OS         use OS instead of the running OS to choose images
  --override-arch ARCH     use ARCH instead of the machine's architecture
  --override-variant V     use V instead of the running architecture variant
  --policy FILE            trust policy (default ~/.config/containers/policy.json, else /etc/containers/policy.json)
  --insecure-policy        copy without any trust policy check
  --registries.d DIR       signature storage configuration (containers-registries.d(5))
  -q, --quiet              no progress output
  --json                   print the result as JSON on stdout (where a command has one)
  --debug                  print stack traces with errors
  -h, --help               help for the command`;

/** Parse argv for a command, rejecting unknown flags with E_USAGE. */
export function parseFlags(argv: string[], spec: FlagSpec, cmdName: string): minimist.ParsedArgs {
  const strings = [...GLOBAL_FLAGS.string, ...(spec.string ?? [])];
  const booleans = [...GLOBAL_FLAGS.boolean, ...(spec.boolean ?? [])];
  const alias = { ...GLOBAL_FLAGS.alias, ...(spec.alias ?? {}) };
  const known = new Set<string>([...strings, ...booleans, ...(spec.negatable ?? []), ...Object.keys(alias), ...Object.values(alias)]);
  const args = minimist(argv, {
    string: strings,
    boolean: booleans,
    alias,
    unknown: (arg) => {
      if (!arg.startsWith('-') || arg === '-') return true;
      const name = arg.replace(/^--?/, '').replace(/=.*$/, '');
      // minimist reports --no-x for boolean x as unknown; accept it when x is known.
      if (known.has(name) || (name.startsWith('no-') && known.has(name.slice(3)))) return true;
      throw new OcikitError('E_USAGE', `${cmdName}: unknown flag ${arg.replace(/=.*$/, '')}`, { hint: `see ocikit ${cmdName} --help` });
    },
  });
  // A string flag given twice becomes an array: only repeatable flags may be.
  for (const s of spec.string ?? []) {
    const v = args[s];
    if (Array.isArray(v) && !(spec.repeatable ?? []).includes(s)) {
      throw new OcikitError('E_USAGE', `${cmdName}: --${s} given more than once`);
    }
  }
  return args;
}

/** A repeatable string flag as an array (absent: []). */
export function many(args: minimist.ParsedArgs, name: string): string[] {
  const v = args[name];
  if (v === undefined || v === '') return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** A flag that takes true/false as skopeo's (--tls-verify=false). */
export function boolFlag(args: minimist.ParsedArgs, name: string, dflt: boolean): boolean {
  const v = args[name];
  if (v === undefined) return dflt;
  if (v === true || v === 'true' || v === '') return true;
  if (v === false || v === 'false') return false;
  throw new OcikitError('E_USAGE', `--${name}: expected true or false, got ${JSON.stringify(v)}`);
}

export function intFlag(args: minimist.ParsedArgs, name: string, min: number, max: number): number | undefined {
  const v = args[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new OcikitError('E_USAGE', `--${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Exactly `n` positional arguments, or E_USAGE naming the usage line. */
export function positionals(args: minimist.ParsedArgs, n: number, usage: string): string[] {
  const pos = args._.map(String);
  if (pos.length !== n) throw new OcikitError('E_USAGE', `expected ${n} argument${n === 1 ? '' : 's'}, got ${pos.length}`, { hint: `usage: ${usage}` });
  return pos;
}
