/**
 * The store's SQLite index: schema, connection settings and every prepared statement.
 *
 * The index is a cache of facts about the blob files, not the source of truth for content: a blob
 * exists when its file exists and hashes to its name. Rows add what a file cannot say cheaply
 * (size and mtime at put, for the tamper check; last use, for gc; refs; the blob-info cache).
 *
 * VERSIONING: there is no schema version inside the file and no migration. An incompatible schema
 * change MUST use a new file name (`index-v2.sqlite`); old ocikit versions keep using theirs.
 */
import type Database from 'better-sqlite3';
import { OcikitError } from '../errors.js';
import { sqlite, sqliteAddon } from '../lazy.js';

/** The index file name inside the store root; the version is part of the name (see above). */
export const INDEX_FILE = 'index-v1.sqlite';

export interface BlobRow {
  digest: string;
  size: number;
  media_type: string | null;
  /** ms since the epoch */
  added: number;
  /** ms since the epoch; gc keeps blobs used after the oldest live lease started */
  last_used: number;
  /** the file's mtimeMs as recorded when the store last trusted it */
  mtime_ms: number;
  /** the file's inode number as recorded when the store last trusted it */
  ino: number;
}

export interface RefRow {
  name: string;
  digest: string;
  updated: number;
}

export interface VariantRow {
  uncompressed: string;
  format: string;
  level: number;
  compressed: string;
  recorded: number;
}

export interface LeaseRow {
  id: string;
  pid: number;
  started: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS blobs (
  digest     TEXT PRIMARY KEY NOT NULL,
  size       INTEGER NOT NULL,
  media_type TEXT,
  added      INTEGER NOT NULL,
  last_used  INTEGER NOT NULL,
  mtime_ms   REAL NOT NULL,
  ino        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS blobs_last_used ON blobs(last_used);

CREATE TABLE IF NOT EXISTS refs (
  name    TEXT PRIMARY KEY NOT NULL,
  digest  TEXT NOT NULL,
  updated INTEGER NOT NULL
);

-- any digest -> the digest of its uncompressed form; (d, d) records "d is uncompressed".
CREATE TABLE IF NOT EXISTS uncompressed_pairs (
  any_digest   TEXT PRIMARY KEY NOT NULL,
  uncompressed TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS uncompressed_pairs_by_uncompressed ON uncompressed_pairs(uncompressed);

CREATE TABLE IF NOT EXISTS variants (
  uncompressed TEXT NOT NULL,
  format       TEXT NOT NULL CHECK (format IN ('gzip', 'zstd')),
  level        INTEGER NOT NULL,
  compressed   TEXT NOT NULL,
  recorded     INTEGER NOT NULL,
  PRIMARY KEY (uncompressed, format, level)
);
CREATE INDEX IF NOT EXISTS variants_by_compressed ON variants(compressed);

CREATE TABLE IF NOT EXISTS locations (
  transport TEXT NOT NULL,
  scope     TEXT NOT NULL,
  digest    TEXT NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (transport, scope, digest)
);
CREATE INDEX IF NOT EXISTS locations_by_digest ON locations(transport, digest, last_seen);

CREATE TABLE IF NOT EXISTS leases (
  id      TEXT PRIMARY KEY NOT NULL,
  pid     INTEGER NOT NULL,
  started INTEGER NOT NULL
);
`;

type Stmt<P extends unknown[], R = unknown> = Database.Statement<P, R>;

/**
 * @internal the store's own (better-sqlite3's types are a dev dependency: kept out of the published declarations).
 * One connection to `index-v1.sqlite` with its statements prepared once.
 * Several processes may each hold one on the same file at once (WAL + busy_timeout).
 */
export class IndexDb {
  readonly db: Database.Database;
  readonly path: string;

  // blobs
  readonly getBlob: Stmt<[string], BlobRow>;
  /** insert or refresh a row; `now` sets last_used (and added, for a new row) */
  readonly upsertBlob: Stmt<[{ digest: string; size: number; mediaType: string | null; now: number; mtimeMs: number; ino: number }]>;
  readonly touchBlob: Stmt<[number, string]>;
  readonly deleteBlob: Stmt<[string]>;
  /** gc: delete a row only if it was not used at or after the cutoff (rechecked under the write lock) */
  readonly deleteBlobUnusedSince: Stmt<[string, number]>;
  readonly allBlobs: Stmt<[], BlobRow>;
  readonly blobTotals: Stmt<[], { blobs: number; bytes: number | null }>;
  // refs
  readonly setRef: Stmt<[string, string, number]>;
  readonly getRef: Stmt<[string], RefRow>;
  readonly deleteRef: Stmt<[string]>;
  readonly allRefs: Stmt<[], RefRow>;
  // blob-info cache
  readonly putPair: Stmt<[string, string]>;
  readonly getPair: Stmt<[string], { uncompressed: string }>;
  readonly isKnownUncompressed: Stmt<[string], { one: number }>;
  readonly compressedOf: Stmt<[string], { any_digest: string }>;
  readonly putVariant: Stmt<[string, string, number, string, number]>;
  readonly findVariantAt: Stmt<[string, string, number], { compressed: string }>;
  readonly findVariantAny: Stmt<[string, string], { compressed: string }>;
  readonly variantsOf: Stmt<[string], VariantRow>;
  readonly putLocation: Stmt<[string, string, string, number]>;
  readonly locationsOf: Stmt<[string, string], { scope: string }>;
  // leases
  readonly insertLease: Stmt<[string, number, number]>;
  readonly deleteLease: Stmt<[string]>;
  readonly allLeases: Stmt<[], LeaseRow>;

  /** Open (creating if needed) the index at `path`; E_STORE when SQLite cannot use it. */
  constructor(path: string) {
    this.path = path;
    try {
      // Loaded here, on the first use of a store, not when this module is imported: a command that
      // never touches the store (--version, --help, manifest-digest) never loads the native module.
      const Sqlite = sqlite();
      const addon = sqliteAddon();
      this.db = new Sqlite(path, addon ? { nativeBinding: addon } : {});
    } catch (err) {
      throw new OcikitError('E_STORE', `opening the store index ${path}: ${(err as Error).message}`, {
        cause: err,
        hint: 'set OCIKIT_STORE to a writable directory on a local filesystem',
      });
    }
    try {
      // Wait up to 10 s for another process's lock instead of failing; first, as the WAL switch needs a lock.
      this.db.pragma('busy_timeout = 10000');
      // WAL: readers never block the writer and vice versa, so parallel ocikit processes overlap.
      this.db.pragma('journal_mode = WAL');
      // NORMAL: crash-safe in WAL; a power loss may drop the last commits of blob rows and cache
      // facts, costing only a re-hash (files are the truth). Refs are different: a copy that
      // reported success must not lose its ref, so setRef/deleteRef commit with FULL (durableWrite),
      // whose WAL sync also makes every earlier commit durable.
      this.db.pragma('synchronous = NORMAL');
      // IMMEDIATE: take the write lock up front, so two openers creating the schema wait for
      // each other (busy_timeout) instead of failing a read-to-write lock upgrade.
      this.db.transaction(() => this.db.exec(SCHEMA)).immediate();

      const p = <P extends unknown[], R = unknown>(sql: string): Stmt<P, R> => this.db.prepare<P, R>(sql);
      this.getBlob = p('SELECT * FROM blobs WHERE digest = ?');
      this.upsertBlob = p(
        `INSERT INTO blobs (digest, size, media_type, added, last_used, mtime_ms, ino) VALUES (@digest, @size, @mediaType, @now, @now, @mtimeMs, @ino)
         ON CONFLICT (digest) DO UPDATE SET size = excluded.size, media_type = coalesce(excluded.media_type, blobs.media_type),
           last_used = excluded.last_used, mtime_ms = excluded.mtime_ms, ino = excluded.ino`,
      );
      this.touchBlob = p('UPDATE blobs SET last_used = max(last_used, ?) WHERE digest = ?');
      this.deleteBlob = p('DELETE FROM blobs WHERE digest = ?');
      this.deleteBlobUnusedSince = p('DELETE FROM blobs WHERE digest = ? AND last_used < ?');
      this.allBlobs = p('SELECT * FROM blobs ORDER BY digest');
      this.blobTotals = p('SELECT count(*) AS blobs, sum(size) AS bytes FROM blobs');

      this.setRef = p('INSERT OR REPLACE INTO refs (name, digest, updated) VALUES (?, ?, ?)');
      this.getRef = p('SELECT * FROM refs WHERE name = ?');
      this.deleteRef = p('DELETE FROM refs WHERE name = ?');
      this.allRefs = p('SELECT * FROM refs ORDER BY name');

      this.putPair = p('INSERT OR REPLACE INTO uncompressed_pairs (any_digest, uncompressed) VALUES (?, ?)');
      this.getPair = p('SELECT uncompressed FROM uncompressed_pairs WHERE any_digest = ?');
      this.isKnownUncompressed = p('SELECT 1 AS one FROM uncompressed_pairs WHERE uncompressed = ? LIMIT 1');
      this.compressedOf = p('SELECT any_digest FROM uncompressed_pairs WHERE uncompressed = ?');
      this.putVariant = p('INSERT OR REPLACE INTO variants (uncompressed, format, level, compressed, recorded) VALUES (?, ?, ?, ?, ?)');
      this.findVariantAt = p('SELECT compressed FROM variants WHERE uncompressed = ? AND format = ? AND level = ?');
      // Any level: prefer a variant whose blob is in this store (no transfer needed), then the newest.
      this.findVariantAny = p(
        `SELECT compressed FROM variants v WHERE uncompressed = ? AND format = ?
         ORDER BY EXISTS (SELECT 1 FROM blobs b WHERE b.digest = v.compressed) DESC, recorded DESC, rowid DESC LIMIT 1`,
      );
      this.variantsOf = p('SELECT * FROM variants WHERE uncompressed = ? ORDER BY format, level');
      this.putLocation = p(
        `INSERT INTO locations (transport, scope, digest, last_seen) VALUES (?, ?, ?, ?)
         ON CONFLICT (transport, scope, digest) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)`,
      );
      this.locationsOf = p('SELECT scope FROM locations WHERE transport = ? AND digest = ? ORDER BY last_seen DESC, scope');

      this.insertLease = p('INSERT INTO leases (id, pid, started) VALUES (?, ?, ?)');
      this.deleteLease = p('DELETE FROM leases WHERE id = ?');
      this.allLeases = p('SELECT * FROM leases ORDER BY started');
    } catch (err) {
      this.db.close();
      throw new OcikitError('E_STORE', `opening the store index ${path}: ${(err as Error).message}`, {
        cause: err,
        hint: `if the file is damaged, move ${path} away: blobs are re-adopted by re-hashing (ocikit store verify --repair), refs are lost`,
      });
    }
  }

  /** Run `fn` in a transaction whose commit is synced to disk (synchronous = FULL for it). */
  durableWrite<T>(fn: () => T): T {
    this.db.pragma('synchronous = FULL');
    try {
      return this.db.transaction(fn).immediate();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  get open(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
