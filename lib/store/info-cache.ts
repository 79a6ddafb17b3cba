/**
 * The blob-info cache: what this machine has learned about blobs, kept so that no hashing,
 * compression or transfer is done twice. It lives in the store's index (same SQLite file).
 */
import { isDigest, type Digest } from '../digest/index.js';
import { isCompressionFormat, type CompressionFormat } from '../manifest/media-types.js';
import type { IndexDb } from './index-db.js';

export interface Variant {
  format: CompressionFormat;
  level: number;
  compressed: Digest;
}

/**
 * Advisory facts about blobs: uncompressed <-> compressed pairs, compressed variants by format
 * and level, and where (transport + scope, e.g. a registry repository) a blob was last seen.
 *
 * NEVER THROWS: a cache must not fail a copy. Database errors (busy, closed, corrupt, disk full)
 * are swallowed; lookups then answer "unknown" and records are dropped.
 *
 * WARNING: callers MUST record only what they verified locally (they hashed the compressed and the
 * uncompressed bytes themselves, or a registry accepted the blob under that digest). Never record
 * a pair because a manifest or a remote peer claims it; a wrong pair would make a later copy reuse
 * the wrong layer.
 */
export class BlobInfoCache {
  readonly #index: IndexDb;
  readonly #now: () => number;

  /** @internal made by BlobStore (`store.cache`) over its index, with its clock */
  constructor(index: IndexDb, now: () => number = Date.now) {
    this.#index = index;
    this.#now = now;
  }

  /** Record that `compressed` decompresses to `uncompressed`. Passing the same digest twice records "this digest is uncompressed". */
  recordUncompressed(compressed: Digest, uncompressed: Digest): void {
    if (!isDigest(compressed) || !isDigest(uncompressed)) return;
    this.#quiet(undefined, () => this.#index.putPair.run(compressed, uncompressed));
  }

  /** The uncompressed digest of `d`; `d` itself when `d` is known to be uncompressed; undefined when unknown. */
  uncompressedOf(d: Digest): Digest | undefined {
    return this.#quiet(undefined, () => {
      const row = this.#index.getPair.get(d);
      if (row) return row.uncompressed;
      // Being the uncompressed side of any pair proves d is uncompressed; no (d, d) row needed.
      return this.#index.isKnownUncompressed.get(d) ? d : undefined;
    });
  }

  /** Every digest recorded as compressing to `uncompressed` (not including `uncompressed` itself). */
  compressedOf(uncompressed: Digest): Digest[] {
    return this.#quiet([], () =>
      this.#index.compressedOf
        .all(uncompressed)
        .map((r) => r.any_digest as Digest)
        .filter((d) => d !== uncompressed),
    );
  }

  /**
   * Record that compressing `uncompressed` with `format` at `level` gave `compressed`.
   * Also records the pair (compressed -> uncompressed).
   */
  recordVariant(uncompressed: Digest, format: CompressionFormat, level: number, compressed: Digest): void {
    if (!isDigest(uncompressed) || !isDigest(compressed) || !Number.isInteger(level)) return;
    if (!isCompressionFormat(format)) return;
    this.#quiet(undefined, () =>
      this.#index.db
        .transaction(() => {
          this.#index.putVariant.run(uncompressed, format, level, compressed, this.#now());
          this.#index.putPair.run(compressed, uncompressed);
        })
        .immediate(),
    );
  }

  /**
   * A compressed digest of `uncompressed` in `format` at `level`; with `level` undefined, any level
   * (preferring a variant present in the store, then the most recently recorded).
   */
  findVariant(uncompressed: Digest, format: CompressionFormat, level?: number): Digest | undefined {
    return this.#quiet(undefined, () => {
      const row = level === undefined ? this.#index.findVariantAny.get(uncompressed, format) : this.#index.findVariantAt.get(uncompressed, format, level);
      return row?.compressed;
    });
  }

  /** Every recorded variant of `uncompressed`, by format then level. */
  variantsOf(uncompressed: Digest): Variant[] {
    return this.#quiet([], () =>
      this.#index.variantsOf.all(uncompressed).map((r) => ({
        format: r.format as CompressionFormat,
        level: r.level,
        compressed: r.compressed,
      })),
    );
  }

  /** Record that `d` is present at `scope` (e.g. "registry.example/org/repo") of `transport` ("docker"). */
  recordLocation(transport: string, scope: string, d: Digest): void {
    if (!isDigest(d) || typeof transport !== 'string' || typeof scope !== 'string') return;
    this.#quiet(undefined, () => this.#index.putLocation.run(transport, scope, d, this.#now()));
  }

  /** Scopes of `transport` where `d` was seen, most recent first. */
  locations(transport: string, d: Digest): string[] {
    return this.#quiet([], () => this.#index.locationsOf.all(transport, d).map((r) => r.scope));
  }

  /** Run `fn`; on any error answer `fallback`. The one place where "never throws" is enforced. */
  #quiet<T>(fallback: T, fn: () => T): T {
    try {
      return fn();
    } catch {
      return fallback;
    }
  }
}
