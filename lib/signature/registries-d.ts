/**
 * containers-registries.d(5): where signatures of docker:// images live. YAML files (*.yaml) in one
 * directory (--registries.d, else $HOME/.config/containers/registries.d if it exists, else
 * /etc/containers/registries.d), merged; each says, for `default-docker` or a `docker:` namespace:
 *
 *   lookaside / sigstore (old name)                 base URL to read simple signatures from (http, https, file)
 *   lookaside-staging / sigstore-staging (old name) base URL to write them to (file only)
 *   use-sigstore-attachments                        read and write sigstore signatures as `sha256-<hex>.sig` tags
 *
 * Namespaces are matched like policy scopes (most specific first, see scopes.ts). Without any
 * lookaside configuration the built-in default is used, as containers/image does:
 * /var/lib/containers/sigstore for root, $HOME/.local/share/containers/sigstore for anyone else.
 */
import { existsSync, promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { duplicateYamlKey } from '../config-keys.js';
import { OcikitError, quoteUntrusted, wrapError } from '../errors.js';
import { yaml } from '../lazy.js';
import { algorithmOf, hexOf, parseDigest, type Digest } from '../digest/index.js';
import type { DockerReference } from '../reference/index.js';
import { dockerReferenceIdentity, dockerReferenceNamespaces } from './scopes.js';

interface Namespace {
  lookaside?: string;
  lookasideStaging?: string;
  sigstore?: string;
  sigstoreStaging?: string;
  useSigstoreAttachments?: boolean;
}

/** The merged configuration of one registries.d directory. */
export interface RegistriesConfig {
  /** The directory it was read from. */
  dir: string;
  defaultDocker?: Namespace;
  docker: Record<string, Namespace>;
}

/** The directory to read: `dir` when given (--registries.d), else the user's if it exists, else the system's. */
export function registriesDir(dir?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (dir) return dir;
  const user = join(env.HOME || homedir(), '.config', 'containers', 'registries.d');
  return existsSync(user) ? user : '/etc/containers/registries.d';
}

function namespace(v: unknown, where: string): Namespace {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new OcikitError('E_BAD_INPUT', `${where}: expected a mapping`);
  const o = v as Record<string, unknown>;
  const s = (k: string): string | undefined => {
    const x = o[k];
    if (x === undefined || x === null || x === '') return undefined;
    if (typeof x !== 'string') throw new OcikitError('E_BAD_INPUT', `${where}: ${k} must be a string`);
    return x;
  };
  const ns: Namespace = {};
  const set = <K extends keyof Namespace>(k: K, v: Namespace[K] | undefined): void => {
    if (v !== undefined) ns[k] = v;
  };
  set('lookaside', s('lookaside'));
  set('lookasideStaging', s('lookaside-staging'));
  set('sigstore', s('sigstore'));
  set('sigstoreStaging', s('sigstore-staging'));
  const u = o['use-sigstore-attachments'];
  if (u !== undefined && u !== null) {
    if (typeof u !== 'boolean') throw new OcikitError('E_BAD_INPUT', `${where}: use-sigstore-attachments must be true or false`);
    ns.useSigstoreAttachments = u;
  }
  return ns;
}

/** Read and merge every *.yaml in the directory; a namespace defined twice is an error, as in containers/image. */
export async function loadRegistriesConfig(dirOpt?: string): Promise<RegistriesConfig> {
  const dir = registriesDir(dirOpt);
  const cfg: RegistriesConfig = { dir, docker: {} };
  let names: string[];
  try {
    names = (await fsp.readdir(dir)).filter((n) => n.endsWith('.yaml')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return cfg;
    throw wrapError(err, `reading registries.d directory ${dir}`);
  }
  let defaultFrom = '';
  const from: Record<string, string> = {};
  for (const name of names) {
    const path = join(dir, name);
    const text = await fsp.readFile(path, 'utf8').catch((err) => {
      throw wrapError(err, `reading ${path}`);
    });
    const parsed = yaml().parseDocument(text, { uniqueKeys: true });
    const err = parsed.errors[0];
    if (err) {
      const dup = duplicateYamlKey(parsed, err);
      if (dup) throw new OcikitError('E_BAD_INPUT', `reading ${path}: line ${dup.line}: duplicate key ${quoteUntrusted(dup.key)}`);
      throw new OcikitError('E_BAD_INPUT', `reading ${path}: not valid YAML: ${err.message.split('\n')[0]}`, { cause: err });
    }
    const doc: unknown = parsed.toJS();
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new OcikitError('E_BAD_INPUT', `reading ${path}: expected a mapping at the top`);
    const d = doc as Record<string, unknown>;
    if (d['default-docker'] !== undefined && d['default-docker'] !== null) {
      if (cfg.defaultDocker) throw new OcikitError('E_BAD_INPUT', `registries.d: "default-docker" is defined both in ${defaultFrom} and ${path}`);
      cfg.defaultDocker = namespace(d['default-docker'], `${path}: default-docker`);
      defaultFrom = path;
    }
    if (d.docker !== undefined && d.docker !== null) {
      if (typeof d.docker !== 'object' || Array.isArray(d.docker)) throw new OcikitError('E_BAD_INPUT', `${path}: docker: expected a mapping of namespaces`);
      for (const [ns, v] of Object.entries(d.docker as Record<string, unknown>)) {
        if (from[ns]) throw new OcikitError('E_BAD_INPUT', `registries.d: namespace ${JSON.stringify(ns)} is defined both in ${from[ns]} and ${path}`);
        cfg.docker[ns] = namespace(v, `${path}: docker: ${ns}`);
        from[ns] = path;
      }
    }
  }
  return cfg;
}

function topLevel(ns: Namespace, write: boolean): string | undefined {
  if (write) {
    if (ns.lookasideStaging) return ns.lookasideStaging;
    if (ns.sigstoreStaging) return ns.sigstoreStaging;
  }
  return ns.lookaside ?? ns.sigstore;
}

function scopesOf(ref: DockerReference): string[] {
  return [dockerReferenceIdentity(ref), ...dockerReferenceNamespaces(ref)];
}

/** The built-in lookaside base when nothing is configured. */
export function builtinLookaside(env: NodeJS.ProcessEnv = process.env): URL {
  const root = typeof process.geteuid === 'function' && process.geteuid() === 0;
  return pathToFileURL(root ? '/var/lib/containers/sigstore' : join(env.HOME || homedir(), '.local', 'share', 'containers', 'sigstore'));
}

/**
 * The lookaside base URL for `ref`'s repository, for reading or (write) writing: the configured
 * top level with the repository path (without host) appended.
 */
export function lookasideBase(cfg: RegistriesConfig, ref: DockerReference, write: boolean): URL {
  let top: string | undefined;
  for (const s of scopesOf(ref)) {
    const ns = cfg.docker[s];
    if (ns && (top = topLevel(ns, write))) break;
  }
  if (!top && cfg.defaultDocker) top = topLevel(cfg.defaultDocker, write);
  let url: URL;
  if (top) {
    try {
      url = new URL(top);
    } catch (err) {
      throw new OcikitError('E_BAD_INPUT', `registries.d ${cfg.dir}: invalid signature storage URL ${JSON.stringify(top)}`, { cause: err });
    }
  } else {
    url = builtinLookaside();
  }
  url.pathname = `${url.pathname.replace(/\/$/, '')}/${ref.path}`;
  return url;
}

/** Whether sigstore signatures of `ref` are kept as attachments (`sha256-<hex>.sig` tags). */
export function useSigstoreAttachments(cfg: RegistriesConfig, ref: DockerReference): boolean {
  for (const s of scopesOf(ref)) {
    const v = cfg.docker[s]?.useSigstoreAttachments;
    if (v !== undefined) return v;
  }
  return cfg.defaultDocker?.useSigstoreAttachments ?? false;
}

/** The URL of signature number `index` (0-based) of `manifestDigest` under a lookaside base. */
export function lookasideSignatureURL(base: URL, manifestDigest: Digest, index: number): URL {
  const d = parseDigest(manifestDigest, 'manifest digest');
  const u = new URL(base.href);
  u.pathname = `${base.pathname}@${algorithmOf(d)}=${hexOf(d)}/signature-${index + 1}`;
  return u;
}

/** The tag sigstore attachments of `manifestDigest` live under: "sha256-<hex>.sig". */
export function sigstoreAttachmentTag(manifestDigest: Digest): string {
  const d = parseDigest(manifestDigest, 'manifest digest');
  return `${algorithmOf(d)}-${hexOf(d)}.sig`;
}
