/**
 * The command-line flag parser: skopeo's (Go pflag's) rules, so a flag means what it means there.
 *
 * - `--name VALUE`, `--name=VALUE`, `-n VALUE`, `-nVALUE`, `-n=VALUE` for flags that take a value;
 * - a boolean flag is `--name` (true) or `--name=true|false` (also 1/0/t/f, as Go's ParseBool), and
 *   NEVER takes the next argument: `--src-tls-verify dir:A dir:B` has two positional arguments;
 * - short booleans combine (`-qa`); `--` ends the flags; `-` alone is a positional argument;
 * - a flag whose name begins with `no-` (`--no-creds`, `--no-tags`) is a flag of its own, not the
 *   negation of another one.
 *
 * minimist does the parsing, after a first pass that applies these rules and leaves it one shape of
 * token (`--NAME=VALUE`): on its own it would read `--no-creds` as `creds=false` and let a boolean
 * swallow a following "true", which is how `--no-creds` once sent credentials.
 *
 * Unknown flags, a missing value and a boolean given a non-boolean value are E_USAGE.
 */
import { minimist } from '../lib/lazy.js';
import { OcikitError } from '../lib/errors.js';
import { didYouMean } from './suggest.js';

/** What a command accepts. Names are long names without the dashes. */
export interface FlagSpec {
  /** Flags that take a value. */
  string?: string[];
  /** Flags that are true or false and never take the next argument. */
  boolean?: string[];
  /** Short (or alternative) name → long name: `{ f: 'format' }`. */
  alias?: Record<string, string>;
  /** Value flags that may be given several times (collected into arrays). */
  repeatable?: string[];
}

/** The parsed command line: positional arguments in `_`, flags under their long names. */
export interface ParsedArgs {
  _: string[];
  [flag: string]: string | boolean | string[] | undefined;
}

const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** A boolean's value as Go's strconv.ParseBool reads it; undefined when it is not one. */
export function parseBool(v: string): boolean | undefined {
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  return undefined;
}

/**
 * Parse `argv` by `spec`. `where` names the command in messages ("copy"). Flags absent from the
 * command line are absent from the result (undefined), so "not given" differs from "given false".
 */
export function parseArgs(argv: string[], spec: FlagSpec, where: string): ParsedArgs {
  const strings = new Set(spec.string ?? []);
  const booleans = new Set(spec.boolean ?? []);
  const repeatable = new Set(spec.repeatable ?? []);
  const alias = spec.alias ?? {};
  const hint = { hint: `see ocikit ${where} --help` };
  const canonical = (name: string): string => alias[name] ?? name;

  // === 1. pflag's rules, as tokens of one shape: --NAME=VALUE (booleans as =true/=false), and
  // the positional arguments apart. minimist alone would read --no-creds as creds=false and let a
  // boolean take a following "true"/"false"; after this pass it has nothing left to guess.
  const tokens: string[] = [];
  const positional: string[] = [];
  const seen = new Map<string, string>();
  const value = (name: string, v: string, shown: string): void => {
    if (!repeatable.has(name) && seen.has(name)) throw new OcikitError('E_USAGE', `${where}: ${shown} given more than once`, hint);
    seen.set(name, shown);
    tokens.push(`--${encode(name)}=${v}`);
  };
  const bool = (name: string, v: string | undefined, shown: string): void => {
    const b = v === undefined ? true : parseBool(v);
    if (b === undefined) throw new OcikitError('E_USAGE', `${where}: ${shown}: expected true or false, got ${JSON.stringify(v)}`, hint);
    seen.set(name, shown);
    tokens.push(`--${encode(name)}=${b}`);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const raw = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const inline = eq < 0 ? undefined : a.slice(eq + 1);
      const name = canonical(raw);
      const shown = `--${raw}`;
      if (booleans.has(name)) bool(name, inline, shown);
      else if (strings.has(name)) {
        if (inline !== undefined) value(name, inline, shown);
        else if (i + 1 < argv.length) value(name, argv[++i]!, shown);
        else throw new OcikitError('E_USAGE', `${where}: ${shown} needs a value`, hint);
      } else throw new OcikitError('E_USAGE', `${where}: unknown flag ${shown}`, { hint: `${didYouMean(raw, [...strings, ...booleans], '--')}see ocikit ${where} --help` });
      continue;
    }
    // Short flags: -q, -qa (booleans combined), -f VALUE, -fVALUE, -f=VALUE.
    for (let j = 1; j < a.length; j++) {
      const ch = a[j]!;
      const name = alias[ch];
      const shown = `-${ch}`;
      if (name === undefined || (!booleans.has(name) && !strings.has(name))) {
        throw new OcikitError('E_USAGE', `${where}: unknown flag ${shown}`, {
          hint: `${ch.length === 1 && a.length > 2 && a.indexOf('=') < 0 ? didYouMean(a.slice(1), [...strings, ...booleans], '--') : ''}see ocikit ${where} --help`,
        });
      }
      const rest = a.slice(j + 1);
      if (booleans.has(name)) {
        if (rest.startsWith('=')) {
          bool(name, rest.slice(1), shown);
          break;
        }
        bool(name, undefined, shown);
        continue;
      }
      if (rest !== '') value(name, rest.startsWith('=') ? rest.slice(1) : rest, shown);
      else if (i + 1 < argv.length) value(name, argv[++i]!, shown);
      else throw new OcikitError('E_USAGE', `${where}: ${shown} needs a value`, hint);
      break;
    }
  }

  // === 2. minimist parses them: every name a string (so "false" stays text until step 3 makes it
  // a boolean; "0123" stays "0123"), repeated names collected, positionals kept as given.
  const names = [...strings, ...booleans].map(encode);
  const parsed = minimist()([...tokens, '--', ...positional], { string: [...names, '_'], boolean: [], '--': false });
  const out: ParsedArgs = { _: (parsed._ as unknown[]).map(String) };
  for (const name of [...strings, ...booleans]) {
    const v = parsed[encode(name)] as string | string[] | undefined;
    if (v === undefined) continue;
    if (booleans.has(name)) out[name] = (Array.isArray(v) ? v[v.length - 1] : v) === 'true';
    else out[name] = repeatable.has(name) ? (Array.isArray(v) ? v : [v]) : v;
  }
  return out;
}

/** minimist reads a dot in a flag name as a path into nested objects (--registries.d): keep names flat. */
function encode(name: string): string {
  return name.replace(/\./g, '%2E');
}
