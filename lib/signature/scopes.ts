/**
 * Policy scopes: which policy.json keys an image matches, most specific first, as containers/image's
 * PolicyConfigurationIdentity / PolicyConfigurationNamespaces define them per transport
 * (containers-policy.json(5), "Supported transports and their scopes"). policy.json is keyed by
 * transport names, so this table is too.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, normalize } from 'node:path';
import { absolutePath, isKnownTransport, parseDockerReference, parseWithinTransport, type DockerReference } from '../reference/index.js';

/** The minimum policy evaluation needs of an image reference (ImageReference satisfies it). */
export interface PolicyImageRef {
  readonly transport: { readonly name: string };
  readonly withinTransport: string;
  /** The docker reference ("host/repo:tag" or "host/repo@digest") the transport knows the image by. */
  readonly dockerReference?: string;
  toString(): string;
}

/** The identity (most specific scope) and the namespaces to try after it, in order. */
export interface PolicyScopes {
  identity: string;
  namespaces: string[];
}

/** "host/repo:tag" or "host/repo@digest" (the policy identity of a docker reference). */
export function dockerReferenceIdentity(ref: DockerReference): string {
  return ref.digest !== undefined ? `${ref.name}@${ref.digest}` : `${ref.name}:${ref.tag ?? 'latest'}`;
}

/**
 * The repository, its parent namespaces, the host, then "*.domain" wildcards of the host without
 * its port: "a.example.com:5000/ns/img" → [..., "a.example.com:5000", "*.example.com", "*.com"].
 */
export function dockerReferenceNamespaces(ref: DockerReference): string[] {
  const res: string[] = [];
  let name = ref.name;
  for (;;) {
    res.push(name);
    const slash = name.lastIndexOf('/');
    if (slash < 0) break;
    name = name.slice(0, slash);
  }
  const colon = name.indexOf(':');
  if (colon >= 0) name = name.slice(0, colon);
  for (;;) {
    const dot = name.indexOf('.');
    if (dot < 0) break;
    name = name.slice(dot + 1);
    res.push(`*.${name}`);
  }
  return res;
}

/**
 * An absolute path with every symlink resolved, as far as it exists (a destination may not exist
 * yet): containers/image keys path scopes by this form.
 */
export function explicitPath(p: string): string {
  const abs = absolutePath(p, process.cwd());
  try {
    return realpathSync.native(abs);
  } catch {
    const parent = dirname(abs);
    if (parent === abs) return abs;
    const rp = explicitPath(parent);
    return rp === '/' ? `/${basename(abs)}` : `${rp}/${basename(abs)}`;
  }
}

function pathPrefixes(path: string, includeSelf: boolean): string[] {
  const res: string[] = [];
  let p = path;
  if (includeSelf) res.push(p);
  for (;;) {
    const slash = p.lastIndexOf('/');
    if (slash <= 0) break;
    p = p.slice(0, slash);
    res.push(p);
  }
  return res;
}

/** The scopes `ref` is looked up under, in its transport's section of policy.json. */
export function policyScopes(ref: PolicyImageRef): PolicyScopes {
  const t = ref.transport.name;
  if (t === 'docker' || t === 'docker-daemon') {
    if (!ref.dockerReference) return { identity: '', namespaces: [] };
    const d = parseDockerReference(ref.dockerReference);
    return { identity: dockerReferenceIdentity(d), namespaces: dockerReferenceNamespaces(d) };
  }
  if (!isKnownTransport(t)) return { identity: '', namespaces: [] };
  const parsed = parseWithinTransport(t, ref.withinTransport);
  switch (parsed.transport) {
    case 'dir': {
      // dir: namespaces start at the parent directory; oci: and oci-archive: include the path itself.
      const p = explicitPath(parsed.path);
      return { identity: p, namespaces: pathPrefixes(p, false) };
    }
    case 'oci':
    case 'oci-archive': {
      const p = explicitPath(parsed.path);
      return { identity: p, namespaces: pathPrefixes(p, true) };
    }
    default:
      // docker-archive: and the rest: only the transport's "" scope applies.
      return { identity: '', namespaces: [] };
  }
}

/**
 * Whether `scope` may appear in `transport`'s section (containers/image refuses the whole policy
 * otherwise). Returns the reason it may not, or undefined.
 */
export function invalidScope(transport: string, scope: string): string | undefined {
  switch (transport) {
    case 'dir':
    case 'oci':
    case 'oci-archive':
      if (!isAbsolute(scope)) return 'must be an absolute path';
      if (scope === '/') return 'use the transport default scope "" instead of "/"';
      if (normalize(scope) !== scope || (scope.length > 1 && scope.endsWith('/'))) return `not in canonical form (try ${JSON.stringify(normalize(scope).replace(/(.)\/$/, '$1'))})`;
      return undefined;
    case 'docker-archive':
      return 'docker-archive: supports only the default "" scope';
    case 'docker-daemon':
      return /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-f0-9]+$/.test(scope) ? 'an image ID cannot be a scope' : undefined;
    default:
      return undefined;
  }
}
