/**
 * The YAML source file of `sync --src yaml`, in skopeo sync's format (skopeo-sync(1)):
 *
 *   registry.example.com:
 *     images:                       # repository → tags and digests to sync; [] (or nothing) = every tag
 *       busybox: []
 *       redis: ["1.0", "2.0", "sha256:0123…"]
 *     images-by-tag-regex:          # repository → a regular expression the tags must match
 *       nginx: ^1\.13\.[12]-alpine-perl$
 *     images-by-semver:             # repository → a semver range the tags must satisfy
 *       alpine: ">= 3.12.0"
 *     credentials: { username: john, password: secret }
 *     tls-verify: true
 *     cert-dir: /home/john/certs
 *
 * Read with the `yaml` package, which knows line numbers: every problem is one line naming the file,
 * the line and the key (skopeo ignores unknown keys; a typo here is an error, not a silent no-op).
 */
import { promises as fsp } from 'node:fs';
import type { Node as YamlNode, Pair } from 'yaml';
import { isMap, isScalar, isSeq, parseYamlConfig } from '../config-keys.js';
import { OcikitError } from '../errors.js';
import { semver } from '../lazy.js';
import { parseDigest, type Digest } from '../digest/index.js';
import { parseDockerReference } from '../reference/index.js';

/** One repository's selection of tags. */
export type RepoSelection =
  /** Listed tags and digests; empty = every tag. */
  | { kind: 'refs'; repository: string; refs: Array<{ tag: string } | { digest: Digest }>; line: number }
  | { kind: 'regex'; repository: string; pattern: RegExp; line: number }
  | { kind: 'semver'; repository: string; range: string; line: number };

/** One registry's entry of the YAML file. */
export interface RegistryConfig {
  /** The key: "registry.example.com", "localhost:5000". */
  registry: string;
  line: number;
  selections: RepoSelection[];
  credentials?: { username: string; password: string };
  tlsVerify?: boolean;
  certDir?: string;
}

const REGISTRY_KEYS = new Set(['images', 'images-by-tag-regex', 'images-by-semver', 'credentials', 'tls-verify', 'cert-dir']);
const TAG_RE = /^[\w][\w.-]{0,127}$/;

/** Parse the YAML file at `path`. E_BAD_INPUT (exit 1) with file, line and key for every problem. */
export async function readSyncConfig(path: string): Promise<RegistryConfig[]> {
  let text: string;
  try {
    const st = await fsp.stat(path);
    if (!st.isFile()) throw new OcikitError('E_BAD_INPUT', `reading ${path}: not a regular file`);
    if (st.size > 16 << 20) throw new OcikitError('E_BAD_INPUT', `reading ${path}: larger than 16 MiB`);
    text = await fsp.readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof OcikitError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new OcikitError(code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO', `reading ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return parseSyncConfig(text, path);
}

/** Parse YAML text (`file` names it in messages). */
export function parseSyncConfig(text: string, file: string): RegistryConfig[] {
  // uniqueKeys: a key given twice is an error (YAML says so; skopeo's parser agrees).
  const { doc, lineOf, fail } = parseYamlConfig(text, file);
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) fail(1, 'the file is empty: expected registries as keys');
  if (!isMap(root)) fail(lineOf(root), 'expected a mapping of registry names to their settings');

  const keyText = (p: Pair, where: string): string => {
    if (!isScalar(p.key) || typeof p.key.value !== 'string' || p.key.value === '') fail(lineOf(p.key), `${where}: a key must be a non-empty string`);
    return (p.key as { value: string }).value;
  };
  const str = (n: unknown, line: number, key: string): string => {
    if (!isScalar(n) || (typeof n.value !== 'string' && typeof n.value !== 'number')) fail(line, `${key}: expected a string`);
    return String((n as { value: string | number }).value);
  };

  const out: RegistryConfig[] = [];
  for (const p of (root as { items: Pair[] }).items) {
    const registry = keyText(p, 'top level');
    const rline = lineOf(p.key);
    const cfg: RegistryConfig = { registry, line: rline, selections: [] };
    // The registry must be a host[:port] a docker reference can start with.
    try {
      const r = parseDockerReference(`${registry}/x`);
      if (r.domain !== registry) throw new Error('not a registry host');
    } catch {
      fail(rline, `${registry}: not a registry name (host or host:port)`);
    }
    if (p.value === null || (isScalar(p.value) && p.value.value === null)) fail(rline, `${registry}: no settings (expected images, images-by-tag-regex or images-by-semver)`);
    if (!isMap(p.value)) fail(lineOf(p.value), `${registry}: expected a mapping of settings`);
    for (const q of (p.value as { items: Pair[] }).items) {
      const key = keyText(q, registry);
      const line = lineOf(q.key);
      const at = `${registry}.${key}`;
      if (!REGISTRY_KEYS.has(key)) fail(line, `${at}: unknown key (known: ${[...REGISTRY_KEYS].join(', ')})`);
      const v = q.value as YamlNode | null;
      switch (key) {
        case 'tls-verify':
          if (!isScalar(v) || typeof v.value !== 'boolean') fail(line, `${at}: expected true or false`);
          cfg.tlsVerify = (v as { value: boolean }).value;
          break;
        case 'cert-dir':
          cfg.certDir = str(v, line, at);
          break;
        case 'credentials': {
          if (!isMap(v)) fail(line, `${at}: expected a mapping with username and password`);
          const c: Record<string, string> = {};
          for (const r of (v as { items: Pair[] }).items) {
            const k = keyText(r, at);
            if (k !== 'username' && k !== 'password') fail(lineOf(r.key), `${at}.${k}: unknown key (known: username, password)`);
            c[k] = str(r.value, lineOf(r.key), `${at}.${k}`);
          }
          if (!c.username || c.password === undefined) fail(line, `${at}: needs both username and password`);
          cfg.credentials = { username: c.username!, password: c.password! };
          break;
        }
        default:
          if (v === null || (isScalar(v) && v.value === null)) break;
          if (!isMap(v)) fail(line, `${at}: expected a mapping of repositories`);
          for (const r of (v as { items: Pair[] }).items) {
            const repo = keyText(r, at);
            const rl = lineOf(r.key);
            const where = `${at}.${repo}`;
            try {
              const ref = parseDockerReference(`${registry}/${repo}`);
              if (ref.tag !== undefined || ref.digest !== undefined || ref.domain !== registry) throw new Error('x');
            } catch {
              fail(rl, `${where}: not a repository name`);
            }
            cfg.selections.push(selection(key, repo, r.value as YamlNode | null, rl, where, fail, lineOf));
          }
      }
    }
    if (cfg.selections.length === 0 && !(p.value as { items: Pair[] }).items.some((q) => isScalar(q.key) && String(q.key.value).startsWith('images'))) {
      fail(rline, `${registry}: no images, images-by-tag-regex or images-by-semver`);
    }
    out.push(cfg);
  }
  return out;
}

function selection(
  key: string,
  repository: string,
  v: YamlNode | null,
  line: number,
  where: string,
  fail: (line: number, msg: string) => never,
  lineOf: (n: YamlNode | null | undefined) => number,
): RepoSelection {
  if (key === 'images') {
    if (v === null || (isScalar(v) && v.value === null)) return { kind: 'refs', repository, refs: [], line };
    if (!isSeq(v)) fail(line, `${where}: expected a list of tags and digests ([] for every tag)`);
    const refs: Array<{ tag: string } | { digest: Digest }> = [];
    for (const item of (v as { items: YamlNode[] }).items) {
      const il = lineOf(item);
      if (!isScalar(item) || (typeof item.value !== 'string' && typeof item.value !== 'number')) fail(il, `${where}: expected a tag or a digest`);
      const s = String((item as { value: string | number }).value);
      if (s.includes(':')) {
        try {
          refs.push({ digest: parseDigest(s, 'digest') });
        } catch (err) {
          fail(il, `${where}: ${JSON.stringify(s)} is not a digest: ${(err as Error).message}`);
        }
      } else if (TAG_RE.test(s)) {
        refs.push({ tag: s });
      } else {
        fail(il, `${where}: ${JSON.stringify(s)} is not a valid tag`);
      }
    }
    return { kind: 'refs', repository, refs, line };
  }
  if (!isScalar(v) || typeof v.value !== 'string') fail(line, `${where}: expected a ${key === 'images-by-semver' ? 'semver range' : 'regular expression'} as a string`);
  const text = (v as { value: string }).value;
  if (key === 'images-by-tag-regex') return { kind: 'regex', repository, pattern: goRegexp(text, line, where, fail), line };
  const range = semverRange(text);
  if (range === undefined) fail(line, `${where}: ${JSON.stringify(text)} is not a semver range`);
  return { kind: 'semver', repository, range: range, line };
}

/**
 * A Go (RE2) regular expression as a JavaScript one. Go's leading flag group `(?i)` / `(?s)` / `(?m)`
 * becomes JS flags (Node 20 has no inline flags); the rest of RE2's syntax is JavaScript's too.
 * Matching is unanchored, as Go's MatchString.
 */
function goRegexp(text: string, line: number, where: string, fail: (line: number, msg: string) => never): RegExp {
  let src = text;
  let flags = 'u';
  const m = /^\(\?([ims]+)\)/.exec(src);
  if (m) {
    flags += [...new Set(m[1])].join('');
    src = src.slice(m[0].length);
  }
  try {
    return new RegExp(src, flags);
  } catch (err) {
    return fail(line, `${where}: not a regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
}

/**
 * A range as Masterminds/semver (skopeo's library) writes it, in the `semver` package's syntax:
 * commas (AND) become spaces. undefined when it is not a range.
 */
export function semverRange(text: string): string | undefined {
  const r = text.replace(/\s*,\s*/g, ' ').trim();
  if (r === '') return undefined;
  return semver().validRange(r) === null ? undefined : r;
}

/**
 * A tag read as a version the way Masterminds/semver's NewVersion reads it: an optional "v", one to
 * three numbers (missing ones are 0), an optional pre-release and build. undefined for anything else.
 */
export function tagVersion(tag: string): string | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/.exec(tag);
  if (!m) return undefined;
  const v = `${Number(m[1])}.${Number(m[2] ?? 0)}.${Number(m[3] ?? 0)}${m[4] ?? ''}${m[5] ?? ''}`;
  return semver().valid(v) ?? undefined;
}

/** Whether `tag` satisfies `range` (pre-releases only when the range names one, as both libraries do). */
export function tagMatchesRange(tag: string, range: string): boolean {
  const v = tagVersion(tag);
  return v !== undefined && semver().satisfies(v, range);
}
