/**
 * registries.conf (containers-registries.conf(5), version 2): which registry entry a name falls
 * under (longest `prefix`, `*.example.com` wildcards), whether that registry is `insecure` (plain
 * http, certificates unchecked) or `blocked`, where pulls really go (`location` rewriting, then
 * `[[registry.mirror]]`s in order, each with its own `insecure` and `pull-from-mirror`), and the
 * short-name settings (`unqualified-search-registries`, `[aliases]`, `short-name-mode`).
 *
 * Files, as containers/image finds them: `--registries-conf`, else $CONTAINERS_REGISTRIES_CONF
 * (or the older $REGISTRIES_CONFIG_PATH), else $HOME/.config/containers/registries.conf when it
 * exists, else /etc/containers/registries.conf (which may be missing); then the `*.conf` drop-ins
 * of /etc/containers/registries.conf.d and $HOME/.config/containers/registries.conf.d, in name
 * order (only the user's directory when the user's own registries.conf is the main file). A
 * drop-in replaces the `[[registry]]` entries of the same prefix, the search list when it sets
 * one, and the aliases it names (an empty alias erases one).
 *
 * Read when a docker:// reference is first resolved, never at module load, and kept for the
 * process. Every mistake is one E_BAD_INPUT line naming the file and line. Keys ocikit does not
 * know are ignored, as containers/image ignores them: the file is shared with podman and buildah,
 * and their newer keys must not break ocikit (--debug lists them).
 */
import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { OcikitError, isOcikitError, quoteUntrusted } from '../errors.js';
import { toml } from '../lazy.js';
import type { RegistryOptions } from './client.js';
import { isRegistryDomain, parseDockerReference, type DockerReference } from '../reference/index.js';

/** Where `pull-from-mirror` lets a mirror serve. */
export type PullFromMirror = 'all' | 'digest-only' | 'tag-only';

/** A `[[registry.mirror]]`. */
export interface MirrorEntry {
  location: string;
  insecure: boolean;
  pullFromMirror: PullFromMirror;
  /** "FILE:LINE" of its table. */
  where: string;
}

/** A `[[registry]]`, after the file's rules were applied (prefix defaults to location, and so on). */
export interface RegistryEntry {
  prefix: string;
  /** Empty only for a wildcard prefix: names are then used as they are. */
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrorByDigestOnly: boolean;
  mirrors: MirrorEntry[];
  /** "FILE:LINE" of its table. */
  where: string;
}

/** A short-name alias: `value` is a fully qualified name without tag, or '' (erased by a later file). */
export interface ShortNameAlias {
  value: string;
  where: string;
}

/** The configuration as every file read contributes to it. */
export interface RegistriesConf {
  /** Unique prefixes, sorted. */
  registries: RegistryEntry[];
  unqualifiedSearchRegistries: string[];
  /** The file that set unqualified-search-registries, when one did. */
  searchOrigin?: string;
  aliases: Map<string, ShortNameAlias>;
  shortNameMode?: 'enforcing' | 'permissive' | 'disabled';
  /** The files read, in order (for --debug and messages). */
  files: string[];
  /** "FILE:LINE: KEY" of keys ocikit ignores (for --debug). */
  ignored: string[];
}

/** Where to look; every field defaults to the process's own. */
export interface RegistriesConfOptions {
  /** --registries-conf: this file, which MUST exist. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** The system directory (default /etc/containers): tests. */
  systemDir?: string;
}

const SYSTEM_DIR = '/etc/containers';
const USER_DIR = join('.config', 'containers');
/** A registries.conf larger than this is refused unread. */
const MAX_FILE_SIZE = 4 << 20;

/** The files registries.conf is read from, in order: the main file and the drop-in directories. */
export function registriesConfSources(o: RegistriesConfOptions = {}): { main: string; required: boolean; dirs: string[]; userMain: string } {
  const env = o.env ?? process.env;
  const system = o.systemDir ?? SYSTEM_DIR;
  const home = env.HOME || homedir();
  const userMain = join(home, USER_DIR, 'registries.conf');
  const userDir = join(home, USER_DIR, 'registries.conf.d');
  const explicit = o.path ?? env.CONTAINERS_REGISTRIES_CONF ?? env.REGISTRIES_CONFIG_PATH;
  if (explicit !== undefined && explicit !== '') return { main: explicit, required: true, dirs: [join(system, 'registries.conf.d'), userDir], userMain };
  return { main: join(system, 'registries.conf'), required: false, dirs: [join(system, 'registries.conf.d'), userDir], userMain };
}

const cache = new Map<string, Promise<RegistriesConf>>();

/** The configuration for these options, read once per process (see the module comment for the files). */
export function loadRegistriesConf(o: RegistriesConfOptions = {}): Promise<RegistriesConf> {
  const src = registriesConfSources(o);
  const key = JSON.stringify([src.main, src.dirs, src.userMain]);
  let p = cache.get(key);
  if (!p) {
    p = readAll(src);
    cache.set(key, p);
  }
  return p;
}

async function readAll(src: ReturnType<typeof registriesConfSources>): Promise<RegistriesConf> {
  const conf: RegistriesConf = { registries: [], unqualifiedSearchRegistries: [], aliases: new Map(), files: [], ignored: [] };
  let main = src.main;
  let dirs = src.dirs;
  if (!src.required) {
    // The user's own registries.conf replaces the system's, and then only the user's drop-ins apply.
    const text = await readConf(src.userMain, false);
    if (text !== undefined) {
      merge(conf, parseRegistriesConf(text, src.userMain));
      conf.files.push(src.userMain);
      main = '';
      dirs = [src.dirs[1]!];
    }
  }
  if (main !== '') {
    const text = await readConf(main, src.required);
    if (text !== undefined) {
      merge(conf, parseRegistriesConf(text, main));
      conf.files.push(main);
    }
  }
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await fsp.readdir(dir, { withFileTypes: true })).filter((d) => !d.isDirectory() && d.name.endsWith('.conf')).map((d) => d.name);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw new OcikitError('E_IO', `reading registries.conf drop-ins in ${dir}: ${(err as Error).message}`, { cause: err });
    }
    for (const name of names.sort()) {
      const file = join(dir, name);
      const text = await readConf(file, false);
      if (text === undefined) continue;
      merge(conf, parseRegistriesConf(text, file));
      conf.files.push(file);
    }
  }
  return conf;
}

/** A file's text; undefined when it is missing and not required. */
async function readConf(file: string, required: boolean): Promise<string | undefined> {
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) throw new OcikitError('E_BAD_INPUT', `reading registries configuration ${file}: not a regular file`);
    if (st.size > MAX_FILE_SIZE) throw new OcikitError('E_BAD_INPUT', `reading registries configuration ${file}: larger than ${MAX_FILE_SIZE >> 20} MiB`);
    return await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (isOcikitError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    throw new OcikitError(code === 'ENOENT' ? 'E_USAGE' : 'E_IO', `reading registries configuration ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {
      cause: err,
    });
  }
}

/** What one file says, before it is merged with the others. */
export interface RegistriesConfFile {
  file: string;
  registries: RegistryEntry[];
  /** Absent when the file does not set it (an empty list is a setting). */
  unqualifiedSearchRegistries?: string[];
  aliases: Map<string, ShortNameAlias>;
  shortNameMode?: 'enforcing' | 'permissive' | 'disabled';
  ignored: string[];
}

/** Apply one file over what the files before it said, as containers/image merges drop-ins. */
function merge(conf: RegistriesConf, f: RegistriesConfFile): void {
  const byPrefix = new Map(conf.registries.map((r) => [r.prefix, r]));
  for (const r of f.registries) byPrefix.set(r.prefix, r);
  conf.registries = [...byPrefix.keys()].sort().map((k) => byPrefix.get(k)!);
  if (f.unqualifiedSearchRegistries !== undefined) {
    conf.unqualifiedSearchRegistries = f.unqualifiedSearchRegistries;
    conf.searchOrigin = f.file;
  }
  for (const [k, v] of f.aliases) conf.aliases.set(k, v);
  if (f.shortNameMode !== undefined) conf.shortNameMode = f.shortNameMode;
  conf.ignored.push(...f.ignored);
}

// === Parsing one file

/** Top-level keys ocikit reads, and those it knows and leaves to others (credential helpers, layer stores). */
const TOP_KEYS = new Set(['unqualified-search-registries', 'registry', 'aliases', 'short-name-mode']);
const OTHERS_KEYS = new Set(['credential-helpers', 'additional-layer-store-auth-helper']);
const REGISTRY_KEYS = new Set(['prefix', 'location', 'insecure', 'blocked', 'mirror', 'mirror-by-digest-only']);
const MIRROR_KEYS = new Set(['location', 'insecure', 'pull-from-mirror']);

/**
 * Parse and check one file's text. Throws E_BAD_INPUT naming
 * `file` and the line for a TOML error, a value of the wrong type, a rule of the format broken
 * (a location with a URL scheme, a wildcard prefix with a path, a mirror without a location, two
 * entries for one registry that disagree on `insecure` or `blocked`, a bad alias), and for the
 * version 1 format (`[registries.search]` and the like), which ocikit does not read.
 */
export function parseRegistriesConf(text: string, file: string): RegistriesConfFile {
  let doc: Record<string, unknown>;
  try {
    doc = toml().parse(text);
  } catch (err) {
    const e = err as { line?: number; message?: string };
    const first = String(e.message ?? err)
      .split('\n')[0]!
      .replace(/^Invalid TOML document: /, '');
    throw new OcikitError('E_BAD_INPUT', `${file}${e.line ? `:${e.line}` : ''}: ${first}`, { cause: err });
  }
  const at = locate(text);
  const bad = (line: number | undefined, what: string): OcikitError => new OcikitError('E_BAD_INPUT', `${file}${line ? `:${line}` : ''}: ${what}`);
  const out: RegistriesConfFile = { file, registries: [], aliases: new Map(), ignored: [] };

  if (doc.registries !== undefined) {
    throw bad(at.top.get('registries') ?? at.tableLine.get('registries'), 'this is the version 1 format ([registries.search], [registries.insecure], [registries.block]), which ocikit does not read');
  }
  for (const k of Object.keys(doc)) {
    if (!TOP_KEYS.has(k) && !OTHERS_KEYS.has(k)) out.ignored.push(`${file}:${at.top.get(k) ?? at.tableLine.get(k) ?? '?'}: ${k}`);
  }

  // unqualified-search-registries
  const usr = doc['unqualified-search-registries'];
  if (usr !== undefined) {
    const line = at.top.get('unqualified-search-registries');
    if (!Array.isArray(usr) || usr.some((x) => typeof x !== 'string')) throw bad(line, 'unqualified-search-registries: expected an array of strings');
    out.unqualifiedSearchRegistries = (usr as string[]).map((s) => {
      const host = s.replace(/\/+$/, '');
      if (!isRegistryDomain(host)) throw bad(line, `unqualified-search-registries: ${quoteUntrusted(s, 200)} is not a registry host[:port]`);
      return host;
    });
  }

  // short-name-mode
  const mode = doc['short-name-mode'];
  if (mode !== undefined && mode !== '') {
    if (mode !== 'enforcing' && mode !== 'permissive' && mode !== 'disabled') {
      throw bad(at.top.get('short-name-mode'), `short-name-mode: expected enforcing, permissive or disabled, got ${quoteUntrusted(typeof mode === 'string' ? mode : JSON.stringify(mode), 100)}`);
    }
    out.shortNameMode = mode;
  }

  // [aliases]
  const aliases = doc.aliases;
  if (aliases !== undefined) {
    if (typeof aliases !== 'object' || aliases === null || Array.isArray(aliases)) throw bad(at.tableLine.get('aliases') ?? at.top.get('aliases'), 'aliases: expected a table');
    for (const [name, value] of Object.entries(aliases)) {
      const line = at.aliases.get(name) ?? at.tableLine.get('aliases');
      if (typeof value !== 'string') throw bad(line, `aliases: ${quoteUntrusted(name, 100)}: expected a string`);
      const why = checkShortName(name) ?? (value === '' ? undefined : checkAliasValue(value));
      if (why) throw bad(line, `aliases: ${why}`);
      out.aliases.set(name, { value: value === '' ? '' : parseDockerReference(value).name, where: `${file}:${line ?? '?'}` });
    }
  }

  // [[registry]]
  const regs = doc.registry;
  if (regs !== undefined) {
    if (!Array.isArray(regs)) throw bad(at.top.get('registry'), 'registry: expected [[registry]] tables');
    const seen = new Set<string>();
    regs.forEach((raw, i) => {
      const loc = at.registries[i];
      const line = (key?: string): number | undefined => (key ? loc?.keys.get(key) : undefined) ?? loc?.line;
      const where = `${file}:${loc?.line ?? '?'}`;
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(line(), 'registry: expected a table');
      const r = raw as Record<string, unknown>;
      for (const k of Object.keys(r)) if (!REGISTRY_KEYS.has(k)) out.ignored.push(`${file}:${line(k) ?? '?'}: registry.${k}`);
      if (r['pull-from-mirror'] !== undefined) throw bad(line('pull-from-mirror'), 'pull-from-mirror belongs in a [[registry.mirror]], not in the [[registry]] itself');
      const location = locationValue(r.location, 'location', line('location'), bad);
      let prefix = r.prefix === undefined || r.prefix === '' ? '' : locationValue(r.prefix, 'prefix', line('prefix'), bad);
      if (prefix === '') {
        if (location === '') throw bad(line(), 'registry: neither location nor prefix is set');
        prefix = location;
      } else if (!prefix.startsWith('*.') && location === '') {
        throw bad(line('prefix'), 'registry: location is not set, and the prefix is not a wildcard (*.example.com)');
      }
      if (prefix.startsWith('*.') && /[/@:]/.test(prefix)) throw bad(line('prefix'), `prefix: a wildcard prefix is a bare domain, as *.example.com; got ${quoteUntrusted(prefix, 200)}`);
      if (prefix.includes('*', prefix.startsWith('*.') ? 1 : 0)) throw bad(line('prefix'), `prefix: "*" may only start a prefix, as *.example.com; got ${quoteUntrusted(prefix, 200)}`);
      const insecure = boolValue(r.insecure, 'insecure', line('insecure'), bad);
      const blocked = boolValue(r.blocked, 'blocked', line('blocked'), bad);
      const mirrorByDigestOnly = boolValue(r['mirror-by-digest-only'], 'mirror-by-digest-only', line('mirror-by-digest-only'), bad);
      const mirrors: MirrorEntry[] = [];
      if (r.mirror !== undefined) {
        if (!Array.isArray(r.mirror)) throw bad(line('mirror'), 'mirror: expected [[registry.mirror]] tables');
        r.mirror.forEach((rawM, j) => {
          const ml = loc?.mirrors[j];
          const mline = (key?: string): number | undefined => (key ? ml?.keys.get(key) : undefined) ?? ml?.line ?? line('mirror');
          if (typeof rawM !== 'object' || rawM === null || Array.isArray(rawM)) throw bad(mline(), 'mirror: expected a table');
          const m = rawM as Record<string, unknown>;
          for (const k of Object.keys(m)) if (!MIRROR_KEYS.has(k)) out.ignored.push(`${file}:${mline(k) ?? '?'}: registry.mirror.${k}`);
          const mloc = locationValue(m.location, 'location', mline('location'), bad);
          if (mloc === '') throw bad(mline(), 'mirror: location is not set');
          const pfm = m['pull-from-mirror'];
          if (pfm !== undefined && pfm !== '' && pfm !== 'all' && pfm !== 'digest-only' && pfm !== 'tag-only') {
            throw bad(mline('pull-from-mirror'), `pull-from-mirror: expected all, digest-only or tag-only, got ${quoteUntrusted(typeof pfm === 'string' ? pfm : JSON.stringify(pfm), 100)}`);
          }
          if (mirrorByDigestOnly && pfm !== undefined && pfm !== '') {
            throw bad(mline('pull-from-mirror'), 'pull-from-mirror: not allowed where the registry sets mirror-by-digest-only (choose one)');
          }
          mirrors.push({
            location: mloc,
            insecure: boolValue(m.insecure, 'insecure', mline('insecure'), bad),
            pullFromMirror: pfm === 'digest-only' || pfm === 'tag-only' ? pfm : 'all',
            where: `${file}:${mline() ?? '?'}`,
          });
        });
      }
      // The first entry for a prefix wins within a file, as containers/image.
      if (seen.has(prefix)) return;
      seen.add(prefix);
      out.registries.push({ prefix, location, insecure, blocked, mirrorByDigestOnly, mirrors, where });
    });
    // One registry named twice must not say two things about its security.
    const byPlace = new Map<string, RegistryEntry>();
    const lineOf = (r: RegistryEntry): string => r.where.slice(file.length + 1);
    for (const r of out.registries) {
      const place = r.location === '' ? r.prefix : r.location;
      const other = byPlace.get(place);
      if (!other) byPlace.set(place, r);
      else if (other.insecure !== r.insecure || other.blocked !== r.blocked) {
        const what = other.insecure !== r.insecure ? 'insecure' : 'blocked';
        throw new OcikitError('E_BAD_INPUT', `${r.where}: registry ${quoteUntrusted(place, 200)} is also defined at line ${lineOf(other)} with another "${what}" setting`);
      }
    }
    out.registries.sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
  }
  return out;
}

type Bad = (line: number | undefined, what: string) => OcikitError;

/** A location or prefix: a string, trailing slashes dropped, no URL scheme. */
function locationValue(v: unknown, key: string, line: number | undefined, bad: Bad): string {
  if (v === undefined) return '';
  if (typeof v !== 'string') throw bad(line, `${key}: expected a string`);
  const s = v.replace(/\/+$/, '');
  if (/^https?:\/\//.test(s)) throw bad(line, `${key}: ${quoteUntrusted(v, 200)}: write it without http:// or https:// (use insecure = true for plain http)`);
  if (/\s/.test(s)) throw bad(line, `${key}: ${quoteUntrusted(v, 200)} contains white space`);
  return s;
}

function boolValue(v: unknown, key: string, line: number | undefined, bad: Bad): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw bad(line, `${key}: expected true or false`);
  return v;
}

/** Why `name` cannot be the left side of an alias: it must be a short name without tag or digest. */
function checkShortName(name: string): string | undefined {
  const q = quoteUntrusted(name, 200);
  if (/[@]/.test(name)) return `${q}: an alias name must not contain a digest`;
  const slash = name.indexOf('/');
  const first = slash === -1 ? name : name.slice(0, slash);
  if (first.includes('.') || (slash !== -1 && first.includes(':')) || first === 'localhost') return `${q}: an alias name is a short name, without a registry`;
  if (name.slice(slash + 1).includes(':')) return `${q}: an alias name must not contain a tag`;
  try {
    parseDockerReference(name);
  } catch {
    return `${q}: not a valid image name`;
  }
  return undefined;
}

/** Why `value` cannot be the right side of an alias: it must be a fully qualified name without tag or digest. */
function checkAliasValue(value: string): string | undefined {
  const q = quoteUntrusted(value, 200);
  let ref: DockerReference;
  try {
    ref = parseDockerReference(value);
  } catch {
    return `${q}: not a valid image name`;
  }
  if (ref.digest !== undefined) return `${q}: an alias must not contain a digest`;
  if (ref.tag !== undefined) return `${q}: an alias must not contain a tag`;
  const slash = value.indexOf('/');
  const first = slash === -1 ? '' : value.slice(0, slash);
  if (!(first.includes('.') || first.includes(':') || first === 'localhost')) return `${q}: an alias must name its registry (registry.example.com/name)`;
  return undefined;
}

// === Finding lines: which line each table and key of interest is on (the TOML was parsed already)

interface TableLines {
  line: number;
  keys: Map<string, number>;
}
interface Locations {
  top: Map<string, number>;
  tableLine: Map<string, number>;
  aliases: Map<string, number>;
  registries: Array<TableLines & { mirrors: TableLines[] }>;
}

/**
 * The line of each `[[registry]]`, `[[registry.mirror]]` and `[aliases]` table and of each key in
 * them (1-based). A scan of the text that skips strings, comments and values spanning lines: the
 * parser has accepted the document already, so only its shape is needed here. Keys written inline
 * (`mirror = [{ location = "…" }]`) are found at the line of the key that holds them.
 */
export function locate(text: string): Locations {
  const out: Locations = { top: new Map(), tableLine: new Map(), aliases: new Map(), registries: [] };
  let current: Map<string, number> = out.top;
  let depth = 0; // open [ and { of a value spanning lines
  let inMulti: '"""' | "'''" | undefined;
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    let i = 0;
    if (inMulti === undefined && depth === 0) {
      const t = line.trimStart();
      const header = /^\[\[\s*([^\]]+?)\s*\]\]/.exec(t) ?? /^\[\s*([^\]]+?)\s*\]/.exec(t);
      if (header) {
        const name = header[1]!.replace(/\s*\.\s*/g, '.').replace(/["']/g, '');
        const isArray = t.startsWith('[[');
        if (isArray && name === 'registry') {
          out.registries.push({ line: n + 1, keys: new Map(), mirrors: [] });
          current = out.registries[out.registries.length - 1]!.keys;
        } else if (isArray && name === 'registry.mirror' && out.registries.length > 0) {
          const reg = out.registries[out.registries.length - 1]!;
          reg.mirrors.push({ line: n + 1, keys: new Map() });
          current = reg.mirrors[reg.mirrors.length - 1]!.keys;
        } else if (!isArray && name === 'aliases') {
          current = out.aliases;
        } else {
          current = new Map();
        }
        if (!out.tableLine.has(name.split('.')[0]!)) out.tableLine.set(name.split('.')[0]!, n + 1);
        continue;
      }
      const key = /^("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=/.exec(t);
      if (key) {
        let k = key[1]!;
        if (k.startsWith('"') || k.startsWith("'")) k = k.slice(1, -1);
        if (!current.has(k)) current.set(k, n + 1);
        i = line.length - t.length + key[0].length;
      }
    }
    // The rest of the line: strings, comments, and brackets of values that go on.
    while (i < line.length) {
      if (inMulti !== undefined) {
        const end = line.indexOf(inMulti, i);
        if (end < 0) break;
        i = end + 3;
        inMulti = undefined;
        continue;
      }
      const c = line[i]!;
      if (c === '#') break;
      if (line.startsWith('"""', i) || line.startsWith("'''", i)) {
        inMulti = line.startsWith('"""', i) ? '"""' : "'''";
        i += 3;
        continue;
      }
      if (c === '"') {
        i++;
        while (i < line.length && line[i] !== '"') i += line[i] === '\\' ? 2 : 1;
        i++;
        continue;
      }
      if (c === "'") {
        const end = line.indexOf("'", i + 1);
        i = end < 0 ? line.length : end + 1;
        continue;
      }
      if (c === '[' || c === '{') depth++;
      else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
      i++;
    }
  }
  return out;
}

// === Using it

/**
 * What registries.conf says of `name` (a repository "host/path"): its entry, after refusing a
 * blocked registry (E_BLOCKED, naming the file and line) — for pulls, pushes, deletes and tag
 * lists alike, as containers/image refuses every connection to one. The files are read on the
 * first call (lib/registry/registries-conf.ts).
 */
export async function registryEntryFor(name: string, what: string, o: Pick<RegistryOptions, 'registriesConf' | 'debug'>): Promise<{ entry: RegistryEntry | undefined; conf: RegistriesConf }> {
  const conf = await loadRegistriesConf(o.registriesConf !== undefined ? { path: o.registriesConf } : {});
  if (o.debug && !debugged.has(conf)) {
    debugged.add(conf);
    o.debug(`registries.conf: read ${conf.files.length > 0 ? conf.files.join(', ') : 'no file'}`);
    for (const k of conf.ignored) o.debug(`registries.conf: ${k}: not used by ocikit`);
  }
  const entry = findRegistry(conf, name);
  if (entry?.blocked) {
    throw new OcikitError('E_BLOCKED', `${what}: the registry ${entry.prefix} is blocked by ${entry.where} (registries.conf)`, {
      hint: 'remove "blocked = true" there to allow it',
    });
  }
  if (entry) o.debug?.(`registries.conf: ${name} falls under ${entry.where} (prefix ${entry.prefix}${entry.insecure ? ', insecure' : ''})`);
  return { entry, conf };
}

/** The configurations already described under --debug. */
const debugged = new WeakSet<RegistriesConf>();

/** Where a name (domain/path, with or without tag or digest) matches `prefix`: the length matched, or -1. */
export function prefixMatch(name: string, prefix: string): number {
  if (prefix.startsWith('*.')) {
    const rest = prefix.slice(1);
    const i = name.indexOf(rest);
    if (i < 0 || name.slice(0, i).includes('/')) return -1;
    const end = i + rest.length;
    return end === name.length || ':/@'.includes(name[end]!) ? end : -1;
  }
  if (name.length < prefix.length || !name.startsWith(prefix)) return -1;
  if (name.length === prefix.length) return prefix.length;
  return ':/@'.includes(name[prefix.length]!) ? prefix.length : -1;
}

/** The entry with the longest prefix matching `name` (a repository name "host/path"), if any. */
export function findRegistry(conf: RegistriesConf, name: string): RegistryEntry | undefined {
  let best: RegistryEntry | undefined;
  for (const r of conf.registries) {
    if (prefixMatch(name, r.prefix) >= 0 && (!best || r.prefix.length > best.prefix.length)) best = r;
  }
  return best;
}

/** One place a pull may read an image from. */
export interface PullSource {
  /** The image there (rewritten by location). */
  ref: DockerReference;
  insecure: boolean;
  /** A mirror (tried before the primary location); false for the primary location. */
  mirror: boolean;
  /** "FILE:LINE" of the entry or mirror that sent it there; undefined without configuration. */
  where?: string;
}

/**
 * Where a pull of `ref` goes, in the order to try: the mirrors that may serve it (pull-from-mirror,
 * mirror-by-digest-only), then the primary location, each name rewritten from the entry's prefix
 * to its location. Without an entry: `ref` itself. Throws E_BAD_INPUT when a rewritten name is not
 * a valid reference.
 */
export function pullSources(entry: RegistryEntry | undefined, ref: DockerReference): PullSource[] {
  if (!entry) return [{ ref, insecure: false, mirror: false }];
  const digested = ref.digest !== undefined;
  const mirrors = entry.mirrors.filter((m) => {
    if (entry.mirrorByDigestOnly) return digested;
    if (m.pullFromMirror === 'digest-only') return digested;
    if (m.pullFromMirror === 'tag-only') return !digested;
    return true;
  });
  const out: PullSource[] = mirrors.map((m) => ({ ref: rewrite(ref, entry.prefix, m.location, m.where), insecure: m.insecure, mirror: true, where: m.where }));
  out.push({ ref: rewrite(ref, entry.prefix, entry.location, entry.where), insecure: entry.insecure, mirror: false, where: entry.where });
  return out;
}

function rewrite(ref: DockerReference, prefix: string, location: string, where: string): DockerReference {
  if (location === '') return ref;
  const s = ref.toString();
  const n = prefixMatch(s, prefix);
  if (n < 0) return ref;
  const rewritten = location + s.slice(n);
  try {
    return parseDockerReference(rewritten);
  } catch (err) {
    throw new OcikitError('E_BAD_INPUT', `${where}: ${s} rewritten by this entry is ${quoteUntrusted(rewritten, 300)}, not a valid image name`, { cause: err });
  }
}
