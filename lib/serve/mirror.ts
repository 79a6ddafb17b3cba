/**
 * `--mirror REGISTRY[=ENDPOINT]`: a pull-through mirror. A pull the store cannot answer, of a
 * repository that names a mirrored registry, is fetched from it, verified, stored, and served from
 * then on: manifests by tag are looked at again upstream once they are older than `maxAgeMs`
 * (a HEAD; the new manifest is fetched only when the digest changed), manifests and blobs by digest
 * are kept (content does not change). When the upstream cannot be reached, what the store holds is
 * served as it is: a site that loses its uplink keeps working.
 *
 * Which registry a served name stands for is the store's naming (names.ts): `HOST/PATH` with a
 * registry port written `HOST_PORT`, and names without a host Docker Hub's (`library/busybox`, the
 * name a Docker daemon's `registry-mirrors` asks for; `busybox` too). What is fetched is recorded
 * as `ocikit copy` records it (`docker://HOST/PATH:TAG` or `@DIGEST`), so `store ls`, `store gc` and
 * `bundle create` see mirrored images like copied ones.
 *
 * The upstream is reached through lib/registry (its TLS, proxies, retries, and credentials from the
 * usual auth files); ENDPOINT, when given, is the host:port to reach instead of REGISTRY (a local
 * stand-in for docker.io, or a closer copy), and its credentials are looked up under ENDPOINT.
 * Concurrent misses of one thing are fetched once.
 */
import type { Digest } from '../digest/index.js';
import { isOcikitError } from '../errors.js';
import { familiarString, parseDockerReference } from '../reference/index.js';
import { RegistryClient, Repository, type RegistryOptions } from '../registry/index.js';
import type { BlobStore } from '../store/index.js';
import { canonicalRepository } from '../transports/store/names.js';

/** One `--mirror` entry. */
export interface MirrorSpec {
  /** The registry as named in references ("docker.io", "quay.io", "localhost:5000"). */
  registry: string;
  /** host[:port] to reach it at; default the registry itself. */
  endpoint?: string;
}

export interface MirrorOptions {
  /** A manifest fetched by tag is checked upstream again when older than this (default 10 min). */
  maxAgeMs?: number;
  /** Options of the upstream clients (tlsVerify false: plain http allowed). */
  registry?: RegistryOptions;
  /** Where failures to reach an upstream are said (the server's log). */
  log?: (line: string) => void;
}

/** Counters for /metrics. */
export interface MirrorStats {
  hits: number;
  misses: number;
  errors: number;
}

/** The upstream a served repository stands for. */
interface Upstream {
  repo: Repository;
  /** The registry and path as a docker reference names them ("docker.io", "library/busybox"). */
  registry: string;
  path: string;
  /** The repository the store serves it as ("docker.io/library/busybox"). */
  canonical: string;
}

/** Parse `REGISTRY[=ENDPOINT]`; undefined when it is not one. */
export function parseMirrorSpec(s: string): MirrorSpec | undefined {
  const [registry, endpoint, extra] = s.split('=');
  const hostRe = /^[A-Za-z0-9.-]+(:\d{1,5})?$/;
  if (extra !== undefined || !registry || !hostRe.test(registry) || (endpoint !== undefined && !hostRe.test(endpoint))) return undefined;
  return { registry: registry.toLowerCase(), ...(endpoint !== undefined ? { endpoint } : {}) };
}

export class Mirror {
  readonly stats: MirrorStats = { hits: 0, misses: 0, errors: 0 };
  readonly #specs: Map<string, MirrorSpec>;
  readonly #clients = new Map<string, RegistryClient>();
  readonly #maxAgeMs: number;
  /** "canonical:tag" -> when the tag was last checked upstream. */
  readonly #checked = new Map<string, number>();
  readonly #inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: BlobStore,
    specs: MirrorSpec[],
    private readonly opts: MirrorOptions = {},
  ) {
    this.#specs = new Map(specs.map((s) => [s.registry, s]));
    this.#maxAgeMs = opts.maxAgeMs ?? 10 * 60_000;
  }

  /** The upstream repository a served name stands for, when its registry is mirrored. */
  upstreamOf(repository: string): Upstream | undefined {
    const parts = repository.split('/');
    const first = parts[0]!;
    const isHost = parts.length > 1 && (first === 'localhost' || first.includes('.') || /_\d+$/.test(first));
    const registry = isHost ? first.replace(/_(\d+)$/, ':$1') : 'docker.io';
    const path = isHost ? parts.slice(1).join('/') : parts.length === 1 ? `library/${first}` : repository;
    const spec = this.#specs.get(registry);
    if (!spec) return undefined;
    let canonical: string | undefined;
    try {
      canonical = canonicalRepository(parseDockerReference(`${registry}/${path}`));
    } catch {
      canonical = undefined;
    }
    if (canonical === undefined) return undefined;
    const endpoint = spec.endpoint ?? spec.registry;
    let client = this.#clients.get(endpoint);
    if (!client) {
      // Fail fast: a client waits for this answer, and the store may hold what it needs (an
      // offline site serves what it has rather than retry an uplink that is down).
      client = new RegistryClient(endpoint, { retryTimes: 1, retryDelayMs: 200, timeoutMs: 15_000, ...this.opts.registry });
      this.#clients.set(endpoint, client);
    }
    return { repo: new Repository(client, path), registry, path, canonical };
  }

  /**
   * Make sure the store holds the manifest `repository:tag` (or `@digest`) as the upstream has it,
   * and its ref: fetched on a miss, checked again by tag when older than maxAge. Returns whether
   * the mirror answers for this repository at all (false: not mirrored).
   */
  async manifest(repository: string, ref: { tag: string; digest?: undefined } | { digest: Digest; tag?: undefined }, haveLocally: Digest | undefined): Promise<boolean> {
    const up = this.upstreamOf(repository);
    if (!up) return false;
    const key = `${up.canonical}${ref.tag !== undefined ? `:${ref.tag}` : `@${ref.digest}`}`;
    if (haveLocally !== undefined) {
      const checked = this.#checked.get(key) ?? 0;
      if (ref.digest !== undefined || Date.now() - checked < this.#maxAgeMs) {
        this.stats.hits++;
        return true;
      }
    }
    await this.#once(`m ${key}`, async () => {
      try {
        if (haveLocally !== undefined && ref.tag !== undefined) {
          // Still the same upstream? One HEAD; the manifest itself only when it changed.
          const head = await up.repo.headManifest(ref.tag);
          if (head?.digest === haveLocally) {
            this.#checked.set(key, Date.now());
            this.stats.hits++;
            return;
          }
          if (head === undefined) {
            // Gone upstream: what was mirrored stays served (it may be the site's only copy).
            this.#checked.set(key, Date.now());
            return;
          }
        }
        this.stats.misses++;
        const m = await up.repo.getManifest(ref.tag ?? ref.digest);
        await this.store.put(m.bytes, { digest: m.digest, what: `manifest ${key} mirrored from ${up.registry}`, ...(m.mediaType ? { mediaType: m.mediaType } : {}) });
        const named = parseDockerReference(`${up.registry}/${up.path}${ref.tag !== undefined ? `:${ref.tag}` : `@${m.digest}`}`);
        this.store.setRef(`docker://${familiarString(named)}`, m.digest);
        this.#checked.set(key, Date.now());
      } catch (err) {
        // Unreachable, or refusing: serve what the store has; a miss stays a miss.
        if (!isOcikitError(err, 'E_NOT_FOUND')) {
          this.stats.errors++;
          this.opts.log?.(`ocikit serve: mirror: ${key}: ${(err as Error).message}`);
        }
      }
    });
    return true;
  }

  /** Make sure the store holds blob `digest` of `repository`, fetched and verified on a miss; false when not mirrored or not to be had. */
  async blob(repository: string, digest: Digest): Promise<boolean> {
    const up = this.upstreamOf(repository);
    if (!up) return false;
    if (this.store.has(digest)) {
      this.stats.hits++;
      return true;
    }
    return this.#once(`b ${digest}`, async () => {
      this.stats.misses++;
      try {
        const { stream } = await up.repo.getBlob(digest, -1);
        await this.store.put(stream, { digest, what: `blob ${digest} mirrored from ${up.registry}/${up.path}` });
        return true;
      } catch (err) {
        if (!isOcikitError(err, 'E_NOT_FOUND')) {
          this.stats.errors++;
          this.opts.log?.(`ocikit serve: mirror: blob ${digest} of ${up.canonical}: ${(err as Error).message}`);
        }
        return false;
      }
    });
  }

  /** Run `fn` once for concurrent callers of one key. */
  #once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.#inFlight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const p = fn().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, p);
    return p;
  }
}
