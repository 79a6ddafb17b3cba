/**
 * The store's image names: which refs give which `REPOSITORY:TAG`, as `store:` reads them and
 * `ocikit serve` serves them. One scheme, written once here (and in lib/serve/README.md):
 *
 *   ref in the store (as `store ls` shows it)     served as
 *   store:REPO:TAG, store:REPO@DIGEST              REPO:TAG, REPO@DIGEST   (pushes, bundle apply, copy to store:)
 *   docker://NAME:TAG, docker://NAME@DIGEST        CANONICAL-NAME:TAG      (what copy and sync record for a registry)
 *
 * CANONICAL-NAME is the docker reference's full name, Docker Hub's defaults filled in
 * ("busybox" -> "docker.io/library/busybox"), with a registry port written `HOST_PORT`
 * ("localhost:5000/app" -> "localhost_5000/app"): a repository name cannot hold a colon. Refs of
 * other transports (oci:, dir:, archives) name files, not images, and are not served; copy them to
 * `store:NAME:TAG` to serve them.
 *
 * Looking a name up tries, in this order: `store:REPO:TAG`; `docker://` of REPO read as a
 * canonical name; and, for a REPO whose first component is not a registry host, Docker Hub's
 * `docker://docker.io/REPO:TAG` — the name a Docker daemon configured with `registry-mirrors`
 * asks a mirror for ("library/busybox"). So a push or bundle wins over what a copy recorded.
 *
 * Pure string work over BlobStore's public ref methods; no I/O of its own.
 */
import type { Digest } from '../../digest/index.js';
import { DEFAULT_DOMAIN, familiarString, formatStoreName, isRepositoryName, parseDockerReference, parseStoreName, type DockerReference, type StoreName } from '../../reference/index.js';

// The syntax of a store: name lives with every transport's syntax, in lib/reference.
export { formatStoreName, isRepositoryName, isTagName, parseStoreName, type StoreName } from '../../reference/index.js';
import type { BlobStore } from '../../store/index.js';

/** The prefix of the refs the store holds under its own names. */
export const STORE_REF_PREFIX = 'store:';
const DOCKER_REF_PREFIX = 'docker://';

/** The ref name the store keeps for one of its own names: `store:REPO:TAG` or `store:REPO@DIGEST`. */
export function storeRefName(n: StoreName): string {
  return STORE_REF_PREFIX + formatStoreName(n);
}

/**
 * The repository a docker reference is served as: its full name with `HOST:PORT` written
 * `HOST_PORT`; undefined when that is no valid repository name (an IPv6 or upper-case host).
 */
export function canonicalRepository(ref: DockerReference): string | undefined {
  if (ref.domain === '') return undefined;
  const repo = `${ref.domain.replace(/:(\d+)$/, '_$1')}/${ref.path}`;
  return isRepositoryName(repo) ? repo : undefined;
}

/** The served name of a docker reference (tagged or digested); undefined when it cannot be served. */
export function storeNameOfDockerReference(ref: DockerReference): StoreName | undefined {
  const repository = canonicalRepository(ref);
  if (repository === undefined) return undefined;
  if (ref.digest !== undefined && ref.tag === undefined) return { repository, digest: ref.digest };
  if (ref.tag !== undefined && ref.digest === undefined) return { repository, tag: ref.tag };
  return undefined;
}

/** The name a store ref is served as, or undefined for refs that are not served (see the module comment). */
export function storeNameOfRef(refName: string): StoreName | undefined {
  try {
    if (refName.startsWith(STORE_REF_PREFIX)) return parseStoreName(refName.slice(STORE_REF_PREFIX.length), 'ref');
    if (refName.startsWith(DOCKER_REF_PREFIX)) return storeNameOfDockerReference(parseDockerReference(refName.slice(DOCKER_REF_PREFIX.length)));
  } catch {
    // A ref written by another tool or version that does not parse: not served.
  }
  return undefined;
}

/** The canonical repositories a requested repository may stand for, best first (itself, then Docker Hub's). */
export function repositoryCandidates(repository: string): string[] {
  const out = [repository];
  const first = repository.split('/')[0]!;
  // Not a registry host (as distribution's splitDockerDomain decides, with our HOST_PORT form):
  // Docker Hub's, as a daemon's registry-mirrors asks for it.
  const looksLikeHost = first === 'localhost' || first.includes('.') || /_\d+$/.test(first);
  if (!looksLikeHost || !repository.includes('/')) {
    out.push(`${DEFAULT_DOMAIN}/${repository.includes('/') ? repository : `library/${repository}`}`);
  }
  return out;
}

/** The docker:// ref name a canonical repository and tag or digest were recorded under, if the repository reads as one. */
function dockerRefName(repository: string, sel: { tag?: string; digest?: Digest }): string | undefined {
  const slash = repository.indexOf('/');
  if (slash < 0) return undefined;
  const domain = repository.slice(0, slash).replace(/_(\d+)$/, ':$1');
  const suffix = sel.digest !== undefined ? `@${sel.digest}` : `:${sel.tag}`;
  try {
    const ref = parseDockerReference(`${domain}/${repository.slice(slash + 1)}${suffix}`);
    // Only when the name round-trips: "a_1/b" must not be read as the host a:1 unless it came from one.
    if (canonicalRepository(ref) !== repository) return undefined;
    return DOCKER_REF_PREFIX + familiarString(ref);
  } catch {
    return undefined;
  }
}

/** What a name resolves to in a store: the manifest digest and the ref that gave it. */
export interface ResolvedName {
  digest: Digest;
  ref: string;
}

/**
 * Resolve `repository` with a tag (or a digest) to a manifest digest through the store's refs,
 * in the order the module comment gives. Undefined when no ref matches; callers that answer for
 * any digest the store holds (serve, the store: source) check the store for a digest themselves.
 */
export function resolveStoreName(store: BlobStore, repository: string, sel: { tag?: string; digest?: Digest }): ResolvedName | undefined {
  for (const repo of repositoryCandidates(repository)) {
    for (const ref of [storeRefName({ repository: repo, ...sel }), dockerRefName(repo, sel)]) {
      if (ref === undefined) continue;
      const d = store.getRef(ref);
      if (d !== undefined) return { digest: d, ref };
    }
  }
  return undefined;
}

/** One served image: its name and manifest digest, with the ref it comes from. */
export interface ServedRef extends StoreName {
  manifest: Digest;
  ref: string;
  updated: number;
}

/** Every ref the store serves, with its served name (refs that are not served are left out). */
export function servedRefs(store: BlobStore): ServedRef[] {
  const out: ServedRef[] = [];
  for (const r of store.refs()) {
    const n = storeNameOfRef(r.name);
    if (n) out.push({ ...n, manifest: r.digest, ref: r.name, updated: r.updated });
  }
  return out;
}

/** The repositories the store serves, sorted (canonical names only; Docker Hub aliases are not listed). */
export function servedRepositories(store: BlobStore): string[] {
  return [...new Set(servedRefs(store).map((r) => r.repository))].sort();
}

/**
 * The tags of a repository (with its Docker Hub alias, see repositoryCandidates), sorted; undefined
 * when the store serves no such repository at all (not even by digest).
 */
export function servedTags(store: BlobStore, repository: string): string[] | undefined {
  const wanted = new Set(repositoryCandidates(repository));
  const refs = servedRefs(store).filter((r) => wanted.has(r.repository));
  if (refs.length === 0) return undefined;
  return [...new Set(refs.filter((r) => r.tag !== undefined).map((r) => r.tag!))].sort();
}

/**
 * The refs a delete of `repository` with a tag or digest removes: for a tag, the ref that resolves
 * it and any other candidate ref of that exact name; for a digest, every served ref of the
 * repository (and its alias) that points at it.
 */
export function refsToDelete(store: BlobStore, repository: string, sel: { tag?: string; digest?: Digest }): string[] {
  const wanted = new Set(repositoryCandidates(repository));
  if (sel.digest !== undefined) {
    return servedRefs(store)
      .filter((r) => wanted.has(r.repository) && r.manifest === sel.digest)
      .map((r) => r.ref);
  }
  return servedRefs(store)
    .filter((r) => wanted.has(r.repository) && r.tag === sel.tag)
    .map((r) => r.ref);
}
