/**
 * What a repository holds, as the server answers it: its manifests (what its refs point at, and
 * the child manifests of those that are indexes), and the referrers among them.
 *
 * A manifest is served by digest only in a repository that holds it: after a DELETE by digest
 * removed the repository's refs to it, it is gone from that repository at once, though its bytes
 * stay in the store (another repository may hold them; `store gc` removes what nothing reaches).
 *
 * Facts about a manifest (its type, children, subject, artifact type) never change for its digest,
 * so they are read once and kept in a bounded cache; the refs are read on every question, so a push,
 * a delete or a copy in another process is seen at once.
 */
import type { Digest } from '../digest/index.js';
import { isOcikitError } from '../errors.js';
import { MAX_MANIFEST_SIZE, manifestChildren, parseManifest, referrerDescriptor, subjectOf, type Descriptor } from '../manifest/index.js';
import type { BlobStore } from '../store/index.js';
import { repositoryCandidates, servedRefs } from '../transports/store/names.js';

/** What the server needs to know about one stored manifest. */
export interface ManifestFacts {
  digest: Digest;
  size: number;
  mediaType: string;
  /** Child manifests (index and list entries); none for an image manifest. */
  children: Digest[];
  /** The blobs an image manifest names (config and layers); none for an index. */
  blobs: Digest[];
  /** The manifest this one refers to (OCI 1.1 `subject`). */
  subject?: Digest;
  /** Its entry in a referrers list (artifactType, annotations). */
  descriptor: Descriptor;
}

const CACHE_MAX = 20_000;

/** Manifest facts, read from the store once per digest. */
export class ManifestCache {
  readonly #facts = new Map<Digest, ManifestFacts | null>();
  /** "repository\ndigest" -> when a blob was pushed or mounted there. */
  readonly #recent = new Map<string, number>();

  constructor(private readonly store: BlobStore) {}

  /** The facts of a manifest the store holds; undefined when absent or not a manifest. */
  async get(digest: Digest): Promise<ManifestFacts | undefined> {
    const known = this.#facts.get(digest);
    if (known !== undefined) return known ?? undefined;
    let facts: ManifestFacts | null = null;
    try {
      const bytes = await this.store.readBytes(digest, MAX_MANIFEST_SIZE);
      const parsed = parseManifest(bytes);
      const isIndex = parsed.kind === 'oci-index' || parsed.kind === 'docker-list';
      const subject = subjectOf(parsed)?.digest;
      facts = {
        digest,
        size: bytes.length,
        mediaType: parsed.mediaType,
        children: isIndex ? manifestChildren(parsed).map((d) => d.digest) : [],
        blobs: isIndex ? [] : manifestChildren(parsed).map((d) => d.digest),
        ...(subject !== undefined ? { subject } : {}),
        descriptor: referrerDescriptor(parsed, digest, bytes.length),
      };
    } catch (err) {
      // Absent now (it may be pushed later): not remembered. Not a manifest: remembered as such.
      if (isOcikitError(err, 'E_NOT_FOUND')) return undefined;
      if (!isOcikitError(err)) throw err;
    }
    if (this.#facts.size >= CACHE_MAX) this.#facts.clear();
    this.#facts.set(digest, facts);
    return facts ?? undefined;
  }

  /**
   * Every manifest repository `name` holds (with its Docker Hub alias, as names.ts resolves it):
   * what its refs point at and, through indexes, their children, recursively.
   */
  async manifestsOf(name: string): Promise<Map<Digest, ManifestFacts>> {
    const wanted = new Set(repositoryCandidates(name));
    const todo = servedRefs(this.store)
      .filter((r) => wanted.has(r.repository))
      .map((r) => r.manifest);
    const out = new Map<Digest, ManifestFacts>();
    while (todo.length > 0) {
      const d = todo.pop()!;
      if (out.has(d)) continue;
      const f = await this.get(d);
      if (!f) continue;
      out.set(d, f);
      todo.push(...f.children);
    }
    return out;
  }

  /** Whether repository `name` holds the manifest `digest`. */
  async holds(name: string, digest: Digest): Promise<boolean> {
    return (await this.manifestsOf(name)).has(digest);
  }

  /**
   * Whether repository `name` holds the blob `digest`: one of its manifests names it, or it was
   * pushed or mounted into the repository in the last `recentMs` (its manifest has not come yet).
   * Used where access is granted per repository (`--access`): a blob is then read only through a
   * repository that holds it, as distribution links blobs into repositories.
   */
  async holdsBlob(name: string, digest: Digest, recentMs: number): Promise<boolean> {
    const at = this.#recent.get(`${name}\n${digest}`);
    if (at !== undefined && Date.now() - at < recentMs) return true;
    for (const f of (await this.manifestsOf(name)).values()) if (f.digest === digest || f.blobs.includes(digest)) return true;
    return false;
  }

  /** Remember that `digest` was pushed or mounted into `name` (see holdsBlob). */
  notePushed(name: string, digest: Digest): void {
    if (this.#recent.size >= CACHE_MAX) this.#recent.clear();
    this.#recent.set(`${name}\n${digest}`, Date.now());
  }
}
