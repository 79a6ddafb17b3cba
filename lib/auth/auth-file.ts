/**
 * Auth files, as containers-auth.json(5) and docker's config.json define them:
 *
 *   { "auths": { "registry.example": { "auth": base64("user:password") },
 *                "registry.example/team/app": { "auth": "…" } },      // namespaced keys (containers)
 *     "credHelpers": { "registry.example": "pass" },                    // docker-credential-pass
 *     "credsStore": "secretservice" }                                   // every other registry
 *
 * Which files are read, in order (the first that knows the registry wins):
 *   --authfile F            only F
 *   otherwise               $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, or
 *                           with XDG_RUNTIME_DIR unset /run/containers/$UID/auth.json (where root's
 *                           podman and skopeo logins live); then
 *                           $XDG_CONFIG_HOME/containers/auth.json (~/.config/…); $DOCKER_CONFIG/config.json
 *                           (~/.docker/config.json); ~/.dockercfg (the legacy format: no "auths" level)
 * login and logout write the first of those (or --authfile): mode 0600 in a 0700 directory,
 * tmp + rename so a reader never sees half a file.
 *
 * WARNING: the files hold secrets. Errors name the file and the registry, never an entry's content.
 */
import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { duplicateJsonKey } from '../config-keys.js';
import { ensureDir } from '../fs/dirs.js';
import { atomicWriteFile } from '../fs/durable.js';
import { OcikitError, quoteUntrusted } from '../errors.js';
import { helperErase, helperGet, helperStore } from './cred-helper.js';

/** Credentials for one registry: a user name and password, or an identity (OAuth2 refresh) token. */
export type Credentials = { kind: 'basic'; username: string; password: string } | { kind: 'identity-token'; username: string; token: string };

/** One entry of "auths". */
export interface AuthEntry {
  auth?: string;
  identitytoken?: string;
  [k: string]: unknown;
}

/** The parts of an auth file ocikit reads and writes; other keys are kept as they are. */
export interface AuthFileContent {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [k: string]: unknown;
}

type Env = NodeJS.ProcessEnv;

interface AuthFileLocation {
  path: string;
  /** 'legacy' is ~/.dockercfg: the entries sit at the top level. */
  format: 'auths' | 'legacy';
}

const MAX_AUTH_FILE = 4 * 1024 * 1024;

function configHome(env: Env): string {
  return env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
}

/**
 * The file login writes and logout edits when no --authfile is given: as containers/image,
 * $XDG_RUNTIME_DIR/containers/auth.json, or on Linux without that variable /run/containers/$UID/auth.json.
 */
export function defaultAuthFile(env: Env = process.env): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json');
  if (process.platform === 'linux' && typeof process.getuid === 'function') return `/run/containers/${process.getuid()}/auth.json`;
  return join(configHome(env), 'containers', 'auth.json');
}

/** The files consulted for credentials, in order. */
export function authFileLocations(authFile: string | undefined, env: Env = process.env): AuthFileLocation[] {
  if (authFile) return [{ path: authFile, format: 'auths' }];
  const home = env.HOME || homedir();
  const out: AuthFileLocation[] = [{ path: defaultAuthFile(env), format: 'auths' }];
  const add = (path: string, format: AuthFileLocation['format']): void => {
    if (!out.some((l) => l.path === path)) out.push({ path, format });
  };
  add(join(configHome(env), 'containers', 'auth.json'), 'auths');
  add(join(env.DOCKER_CONFIG || join(home, '.docker'), 'config.json'), 'auths');
  add(join(home, '.dockercfg'), 'legacy');
  return out;
}

/** Read and parse an auth file; a missing file is empty. E_BAD_INPUT for a file that is not a JSON object. */
export async function readAuthFile(path: string, format: AuthFileLocation['format'] = 'auths'): Promise<AuthFileContent> {
  let text: string;
  try {
    const st = await fsp.stat(path);
    if (st.size > MAX_AUTH_FILE) throw new OcikitError('E_BAD_INPUT', `reading auth file ${path}: larger than ${MAX_AUTH_FILE} bytes`);
    text = await fsp.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    if (err instanceof OcikitError) throw err;
    throw new OcikitError('E_IO', `reading auth file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'failed'}`);
  }
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    // The JSON parser's message may quote the file's content: leave it out.
    throw new OcikitError('E_BAD_INPUT', `reading auth file ${path}: not valid JSON`);
  }
  // A key twice (two entries for one registry): which one a reader sees would be a guess. Keys are
  // registry names, never secrets, so the message may name one.
  const dup = duplicateJsonKey(text);
  if (dup) throw new OcikitError('E_BAD_INPUT', `reading auth file ${path}: line ${dup.line}: duplicate key ${quoteUntrusted(dup.key)}`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new OcikitError('E_BAD_INPUT', `reading auth file ${path}: not a JSON object`);
  if (format === 'legacy') return { auths: v as Record<string, AuthEntry> };
  const c = v as AuthFileContent;
  if (c.auths !== undefined && (typeof c.auths !== 'object' || c.auths === null || Array.isArray(c.auths))) {
    throw new OcikitError('E_BAD_INPUT', `reading auth file ${path}: "auths" is not an object`);
  }
  return c;
}

/**
 * The key an auth file entry is stored under, normalised as containers/image does for keys written
 * by docker: "https://index.docker.io/v1/" is "docker.io", a scheme and a trailing "/" or "/v1/" go.
 */
export function normalizeAuthKey(key: string): string {
  let k = key.trim();
  const hadScheme = /^https?:\/\//i.test(k);
  k = k.replace(/^https?:\/\//i, '');
  if (hadScheme) k = k.replace(/\/v[12]\/?$/, '');
  k = k.replace(/\/+$/, '');
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') k = 'docker.io';
  return k;
}

/** Keys to try for `registry/repo`, most specific first: "r/a/b", "r/a", "r". */
export function candidateKeys(registry: string, repoPath?: string): string[] {
  const keys: string[] = [];
  if (repoPath) {
    const parts = repoPath.split('/');
    for (let i = parts.length; i >= 1; i--) keys.push(`${registry}/${parts.slice(0, i).join('/')}`);
  }
  keys.push(registry);
  return keys;
}

/** The server URL docker credential helpers know a registry by. */
function helperServerURL(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

function decodeEntry(entry: AuthEntry, where: string): Credentials | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  let username = '';
  let password = '';
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OcikitError('E_BAD_INPUT', `${where}: the "auth" value is not base64 of user:password`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') {
    return { kind: 'identity-token', username, token: entry.identitytoken };
  }
  if (username === '' && password === '') return undefined;
  return { kind: 'basic', username, password };
}

function fromHelper(h: { username: string; secret: string }): Credentials {
  return h.username === '<token>' ? { kind: 'identity-token', username: '', token: h.secret } : { kind: 'basic', username: h.username, password: h.secret };
}

/** Where credentials were found (for --get-login and logout messages). */
export interface FoundCredentials {
  credentials: Credentials;
  /** The auth file, or "docker-credential-NAME". */
  source: string;
  key: string;
}

/**
 * Look up credentials for `registry` (e.g. "localhost:5000", "docker.io") and optionally the
 * repository path, through every auth file in order (see the module comment). Per file: credHelpers
 * for the registry, then "auths" from the most specific key, then credsStore.
 */
export async function lookupCredentials(registry: string, repoPath: string | undefined, opts: { authFile?: string; env?: Env } = {}): Promise<FoundCredentials | undefined> {
  const env = opts.env ?? process.env;
  for (const loc of authFileLocations(opts.authFile, env)) {
    const file = await readAuthFile(loc.path, loc.format);
    const helper = file.credHelpers?.[registry];
    if (typeof helper === 'string' && helper !== '') {
      const h = await helperGet(helper, helperServerURL(registry));
      if (h) return { credentials: fromHelper(h), source: `docker-credential-${helper}`, key: registry };
    }
    const auths = file.auths ?? {};
    const normalized = new Map<string, AuthEntry>();
    for (const [k, v] of Object.entries(auths)) {
      const nk = normalizeAuthKey(k);
      // An exact key wins over one that only normalises to it.
      if (!normalized.has(nk) || k === nk) normalized.set(nk, v);
    }
    for (const key of candidateKeys(registry, repoPath)) {
      const entry = normalized.get(key);
      if (!entry) continue;
      const c = decodeEntry(entry, `auth file ${loc.path}, entry ${key}`);
      if (c) return { credentials: c, source: loc.path, key };
    }
    if (typeof file.credsStore === 'string' && file.credsStore !== '') {
      const h = await helperGet(file.credsStore, helperServerURL(registry));
      if (h) return { credentials: fromHelper(h), source: `docker-credential-${file.credsStore}`, key: registry };
    }
  }
  return undefined;
}

/**
 * Write an auth file atomically with mode 0600 (its directory 0700 when created), fsynced with its
 * directory before login reports success: a crash right after leaves the old file or the new one.
 */
export async function writeAuthFile(path: string, content: AuthFileContent): Promise<void> {
  await ensureDir(dirname(path), 0o700);
  try {
    // 0600 is the promise whatever the umask, so it is set outright.
    await atomicWriteFile(path, JSON.stringify(content, null, '\t') + '\n', { mode: 0o600, exactMode: true, syncDir: true });
  } catch (err) {
    // The OS's reason only (its code): never anything that could quote the file's content.
    const code = ((err as { cause?: NodeJS.ErrnoException }).cause ?? (err as NodeJS.ErrnoException)).code;
    throw new OcikitError('E_IO', `writing auth file ${path}: ${code ?? 'failed'}`);
  }
}

/**
 * Save credentials for `key` ("host" or "host/namespace"): through the credential helper the file
 * names for that registry (credHelpers, else credsStore), else as an "auths" entry.
 * Returns where they went.
 */
export async function storeCredentials(key: string, username: string, password: string, opts: { authFile?: string; env?: Env; dockerCompat?: string } = {}): Promise<string> {
  if (opts.dockerCompat !== undefined) {
    // --compat-auth-file: Docker's config.json as docker itself writes it: no credential helper,
    // Docker Hub under its old URL key, no namespaced keys (docker has none). Other fields stay.
    const path = opts.dockerCompat;
    const file = await readAuthFile(path);
    const auths = { ...(file.auths ?? {}) };
    auths[dockerCompatKey(key)] = { auth: Buffer.from(`${username}:${password}`, 'utf8').toString('base64') };
    await writeAuthFile(path, { ...file, auths });
    return path;
  }
  const path = opts.authFile || defaultAuthFile(opts.env ?? process.env);
  const file = await readAuthFile(path);
  const registry = key.split('/')[0]!;
  const helper = file.credHelpers?.[registry] || (key === registry ? file.credsStore : undefined);
  if (typeof helper === 'string' && helper !== '') {
    await helperStore(helper, helperServerURL(registry), { username, secret: password });
    // A stale file entry would shadow nothing (helpers are asked first) but would keep an old secret on disk.
    if (file.auths && key in file.auths) {
      delete file.auths[key];
      await writeAuthFile(path, file);
    }
    return `docker-credential-${helper}`;
  }
  const auths = { ...(file.auths ?? {}) };
  auths[key] = { auth: Buffer.from(`${username}:${password}`, 'utf8').toString('base64') };
  await writeAuthFile(path, { ...file, auths });
  return path;
}

/**
 * Remove the credentials of `key` from the auth file (and its credential helper). Returns false
 * when there were none, so logout can say "not logged in".
 */
export async function removeCredentials(key: string, opts: { authFile?: string; env?: Env; dockerCompat?: string } = {}): Promise<boolean> {
  if (opts.dockerCompat !== undefined) dockerCompatKey(key);
  const path = opts.dockerCompat ?? (opts.authFile || defaultAuthFile(opts.env ?? process.env));
  const file = await readAuthFile(path);
  const registry = key.split('/')[0]!;
  let removed = false;
  const helper = opts.dockerCompat !== undefined ? undefined : file.credHelpers?.[registry] || (key === registry ? file.credsStore : undefined);
  if (typeof helper === 'string' && helper !== '') removed = await helperErase(helper, helperServerURL(registry));
  let changed = false;
  for (const k of Object.keys(file.auths ?? {})) {
    if (k === key || normalizeAuthKey(k) === key) {
      delete file.auths![k];
      changed = true;
    }
  }
  if (changed) await writeAuthFile(path, file);
  return removed || changed;
}

/**
 * The key of `key` in a Docker-format config.json (--compat-auth-file): Docker Hub under
 * "https://index.docker.io/v1/", as docker login writes it. E_USAGE for a namespaced key, which
 * docker cannot read.
 */
export function dockerCompatKey(key: string): string {
  if (key.includes('/')) throw new OcikitError('E_USAGE', `credentials for ${key} cannot be saved in Docker's format (--compat-auth-file): docker has no per-namespace credentials`);
  return key === 'docker.io' ? 'https://index.docker.io/v1/' : key;
}

/** Remove every "auths" entry of the auth file and erase what credHelpers name. Returns the keys removed. */
export async function removeAllCredentials(opts: { authFile?: string; env?: Env; dockerCompat?: string } = {}): Promise<string[]> {
  const path = opts.dockerCompat ?? (opts.authFile || defaultAuthFile(opts.env ?? process.env));
  const file = await readAuthFile(path);
  const keys = Object.keys(file.auths ?? {});
  for (const [registry, helper] of Object.entries(opts.dockerCompat !== undefined ? {} : (file.credHelpers ?? {}))) {
    if (typeof helper === 'string' && helper !== '' && (await helperErase(helper, helperServerURL(registry)))) keys.push(registry);
  }
  if (file.auths && Object.keys(file.auths).length > 0) {
    file.auths = {};
    await writeAuthFile(path, file);
  }
  return keys;
}
