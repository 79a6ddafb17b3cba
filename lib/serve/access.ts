/**
 * `--access FILE`: who may pull, push and delete which repositories. A YAML file:
 *
 *   admins: [alice]               # may do everything, everywhere
 *   repositories:
 *     - match: "team/**"          # the first entry whose pattern matches a repository decides
 *       pull: [bob, carol]
 *       push: [bob]
 *       delete: [bob]
 *     - match: "public/**"
 *       pull: [anonymous]         # anyone, with or without credentials
 *     - match: "**"
 *       pull: [users]             # anyone who logged in
 *
 * Patterns: `*` matches within one path component, `**` across components ("team/**" matches
 * "team/app" and "team/a/b", not "team"); anything else matches itself. Names: users of
 * `--htpasswd`, and the two reserved words `users` (every authenticated user) and `anonymous`
 * (every client, credentials or not). push and delete include pull (a client that pushes reads
 * what it pushed). A repository no entry matches is for admins only.
 *
 * Every problem is one line naming the file, the line and the key, as for sync YAML; a name that is
 * not a user of the htpasswd file is refused too (a typo would otherwise lock someone out silently).
 */
import { readFileSync } from 'node:fs';
import type { Pair } from 'yaml';
import { isMap, isScalar, isSeq, parseYamlConfig } from '../config-keys.js';
import { quoteUntrusted, wrapError } from '../errors.js';

export type Action = 'pull' | 'push' | 'delete';
export const ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];

/** Who is asking: a user of the htpasswd file, or nobody (no credentials). */
export type Principal = { user: string } | { user?: undefined };

/** The reserved names of the file. */
export const EVERY_USER = 'users';
export const ANONYMOUS = 'anonymous';

interface Rule {
  pattern: string;
  re: RegExp;
  grants: Record<Action, Set<string>>;
}

/** A parsed access policy. */
export class AccessPolicy {
  private constructor(
    readonly admins: ReadonlySet<string>,
    private readonly rules: Rule[],
  ) {}

  /** Read `path`; `users` are the htpasswd file's users (every name in the file must be one). */
  static load(path: string, users: ReadonlySet<string>): AccessPolicy {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw wrapError(err, `reading --access ${path}`);
    }
    return AccessPolicy.parse(text, path, users);
  }

  /** Parse the YAML text of an access file (`file` names it in messages). */
  static parse(text: string, file: string, users: ReadonlySet<string>): AccessPolicy {
    const { doc, lineOf, fail } = parseYamlConfig(text, file);
    const root = doc.contents;
    if (!isMap(root)) fail(lineOf(root), 'expected a mapping with "admins" and "repositories"');
    const names = (n: unknown, key: string, allowReserved: boolean): Set<string> => {
      if (n === null || (isScalar(n) && n.value === null)) return new Set();
      if (!isSeq(n)) fail(lineOf(n), `${key}: expected a list of user names`);
      const out = new Set<string>();
      for (const item of (n as { items: unknown[] }).items) {
        if (!isScalar(item) || typeof item.value !== 'string' || item.value === '') fail(lineOf(item), `${key}: a user name must be a non-empty string`);
        const name = (item as { value: string }).value;
        const reserved = name === EVERY_USER || name === ANONYMOUS;
        if (reserved && !allowReserved) fail(lineOf(item), `${key}: ${quoteUntrusted(name)} cannot be an admin`);
        if (!reserved && !users.has(name)) fail(lineOf(item), `${key}: ${quoteUntrusted(name)} is not a user of the --htpasswd file`);
        out.add(name);
      }
      return out;
    };
    let admins = new Set<string>();
    const rules: Rule[] = [];
    for (const p of (root as { items: Pair[] }).items) {
      const key = isScalar(p.key) ? String(p.key.value) : '';
      if (key === 'admins') admins = names(p.value, 'admins', false);
      else if (key === 'repositories') {
        if (!isSeq(p.value)) fail(lineOf(p.value ?? p.key), 'repositories: expected a list of entries with "match"');
        for (const entry of (p.value as { items: unknown[] }).items) {
          if (!isMap(entry)) fail(lineOf(entry), 'repositories: each entry must be a mapping with "match"');
          const rule: Rule = { pattern: '', re: /$^/, grants: { pull: new Set(), push: new Set(), delete: new Set() } };
          for (const q of (entry as { items: Pair[] }).items) {
            const k = isScalar(q.key) ? String(q.key.value) : '';
            if (k === 'match') {
              if (!isScalar(q.value) || typeof q.value.value !== 'string' || !/^[a-z0-9._/*-]+$/.test(q.value.value)) {
                fail(lineOf(q.value ?? q.key), 'match: expected a repository pattern (lower-case name characters, "/", "*" and "**")');
              }
              rule.pattern = (q.value as { value: string }).value;
              rule.re = patternToRegExp(rule.pattern);
            } else if ((ACTIONS as readonly string[]).includes(k)) {
              rule.grants[k as Action] = names(q.value, k, true);
            } else fail(lineOf(q.key), `${quoteUntrusted(k)}: unknown key (known: match, pull, push, delete)`);
          }
          if (rule.pattern === '') fail(lineOf(entry), 'repositories: an entry has no "match"');
          rules.push(rule);
        }
      } else fail(lineOf(p.key), `${quoteUntrusted(key)}: unknown key (known: admins, repositories)`);
    }
    return new AccessPolicy(admins, rules);
  }

  /** What `who` may do in `repository`. */
  rights(who: Principal, repository: string): Set<Action> {
    if (who.user !== undefined && this.admins.has(who.user)) return new Set(ACTIONS);
    const rule = this.rules.find((r) => r.re.test(repository));
    const out = new Set<Action>();
    if (!rule) return out;
    for (const a of ACTIONS) {
      const g = rule.grants[a];
      if (g.has(ANONYMOUS) || (who.user !== undefined && (g.has(EVERY_USER) || g.has(who.user)))) out.add(a);
    }
    // push and delete include pull.
    if (out.size > 0) out.add('pull');
    return out;
  }

  /** Whether anyone without credentials may do anything at all (then /v2/ needs no credentials). */
  get anonymousAllowed(): boolean {
    return this.rules.some((r) => ACTIONS.some((a) => r.grants[a].has(ANONYMOUS)));
  }
}

/** A repository pattern as a regular expression: `**` any characters, `*` any but "/". */
export function patternToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('**')
    .map((part) =>
      part
        .split('*')
        .map((s) => s.replace(/[.]/g, '\\.'))
        .join('[^/]*'),
    )
    .join('.+');
  return new RegExp(`^${body}$`);
}
