/**
 * Store maintenance: verify (re-hash everything), gc (remove what no ref reaches), du and ls.
 * Safe to run while other processes copy through the same store (see gc for how).
 */
import { readdirSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestBytes, digestFile, isDigest, algorithmOf, type Digest } from '../digest/index.js';
import { processAlive, tempWriter } from '../fs/durable.js';
import type { BlobStore } from './blob-store.js';

/** Tmp files untouched for this long belong to a dead writer (a live one keeps writing). */
const STALE_TMP_MS = 60 * 60 * 1000;
/** True when a tmp file name (`<stem>.<pid>.<threadId>.<random>.tmp`, lib/fs/durable.ts) names a live process. */
function writerAlive(name: string): boolean {
  const writer = tempWriter(name);
  return writer !== undefined && processAlive(writer.pid);
}

/** Manifests above this are not walked by gc (registries refuse far smaller ones). */
const MANIFEST_LIMIT = 8 << 20;
/** Blobs removed per gc write transaction: short transactions keep other processes moving. */
const GC_BATCH = 500;

export interface VerifyResult {
  /** blob files hashed */
  checked: number;
  /** files whose content does not match their name */
  corrupt: Digest[];
  /** index rows without a file */
  missing: Digest[];
  /** corrupt files and missing rows removed, and good files re-indexed (only with repair) */
  repaired: number;
}

/**
 * Re-hash every blob file (1 MiB reads) and compare with its name; report index rows without a
 * file. With `repair`, remove corrupt files with their rows, drop rows without files, and
 * (re-)index good files whose row is absent or stale. Without `repair`, nothing is changed.
 */
export async function verify(store: BlobStore, opts: { repair?: boolean } = {}): Promise<VerifyResult> {
  const repair = opts.repair === true;
  const idx = store.index;
  const rows = new Map(idx.allBlobs.all().map((r) => [r.digest, r] as const));
  const files = blobFiles(store);
  const result: VerifyResult = { checked: 0, corrupt: [], missing: [], repaired: 0 };

  for (const d of rows.keys()) {
    if (files.has(d)) continue;
    result.missing.push(d);
    if (repair) {
      idx.deleteBlob.run(d);
      result.repaired++;
    }
  }

  for (const d of [...files].sort()) {
    const path = store.pathOf(d);
    const before = statOrUndefined(path);
    if (!before) continue; // removed meanwhile (gc, another verify)
    let got: Digest;
    try {
      got = (await digestFile(path, algorithmOf(d))).digest;
    } catch {
      continue; // vanished while hashing
    }
    result.checked++;
    const after = statOrUndefined(path);
    // Replaced while we hashed (a concurrent put renamed a fresh copy in): what we hashed is gone.
    const unchanged = after !== undefined && sameFile(before, after);
    if (got !== d) {
      result.corrupt.push(d);
      if (repair && unchanged) {
        unlinkQuiet(path);
        idx.deleteBlob.run(d);
        result.repaired++;
      }
      continue;
    }
    const row = rows.get(d);
    if (repair && unchanged && (!row || row.size !== after.size || row.mtime_ms !== after.mtimeMs || row.ino !== after.ino)) {
      idx.upsertBlob.run({ digest: d, size: after.size, mediaType: row?.media_type ?? null, now: row?.last_used ?? store.now(), mtimeMs: after.mtimeMs, ino: after.ino });
      result.repaired++;
    }
  }
  result.corrupt.sort();
  result.missing.sort();
  return result;
}

export interface GcResult {
  /** blobs removed (files, or index rows whose file was already gone) */
  removed: Digest[];
  /** bytes released on disk: removed files that had no other hard link */
  freedBytes: number;
  /** blobs left in the index */
  kept: number;
  /** stale tmp files removed */
  tmpRemoved: number;
  /** leases of dead processes removed */
  leasesRemoved: number;
}

/**
 * Remove every blob no ref reaches.
 *
 * Reachable: each ref's manifest and, recursively, what manifests and indexes reference
 * (`config`, `layers[]`, `blobs[]`, `manifests[]`, `subject`; a referenced digest missing from
 * the store is fine), plus every variant the blob-info cache links to a reachable blob (its
 * uncompressed form and the other compressions of it), so that a later conversion need not redo
 * that work. Also removes tmp files of processes that no longer run (others' untouched for an hour)
 * and leases of dead processes.
 *
 * CONCURRENT COPIES: a copy holds `store.lease()`. Every blob whose last use is at or after the
 * start of the oldest live lease (its pid answers `kill(pid, 0)`) is kept. Rows are deleted in
 * short IMMEDIATE transactions that recheck leases, last use and refs under the write lock, and
 * the file is unlinked inside the same transaction; a `stat` racing with that sees its touch
 * update no row and reports the blob absent rather than handing out a path about to vanish.
 * If the refs change during gc, reachability is recomputed before continuing.
 *
 * WARNING: lease liveness is judged by pid; processes in another pid namespace sharing the
 * store (containers) look dead. Do not gc a store shared that way while they copy.
 */
export async function gc(store: BlobStore, opts: { dryRun?: boolean } = {}): Promise<GcResult> {
  const dryRun = opts.dryRun === true;
  const idx = store.index;
  // File ages below are the filesystem's times: measured against the real clock, not store.now.
  const now = Date.now();
  const result: GcResult = { removed: [], freedBytes: 0, kept: 0, tmpRemoved: 0, leasesRemoved: 0 };

  // === leases: forget dead processes
  for (const l of idx.allLeases.all()) {
    if (processAlive(l.pid)) continue;
    result.leasesRemoved++;
    if (!dryRun) idx.deleteLease.run(l.id);
  }

  // === mark
  let refsSeen = refsKey(store);
  let reachable = await markReachable(store, { withVariants: true });

  // === sweep
  const rows = idx.allBlobs.all();
  const rowDigests = new Set(rows.map((r) => r.digest));
  // Files without a row: a put that crashed after its rename, or one renaming right now (its
  // row follows within milliseconds). Only old ones are candidates.
  const orphanFiles = [...blobFiles(store)].filter((d) => !rowDigests.has(d));
  const candidates: Array<{ d: Digest; row: boolean }> = [...rows.map((r) => ({ d: r.digest, row: true })), ...orphanFiles.map((d) => ({ d, row: false }))];

  let pending = candidates.filter((c) => !reachable.has(c.d));
  while (pending.length > 0) {
    const batch = pending.slice(0, GC_BATCH);
    pending = pending.slice(GC_BATCH);
    let refsChanged = false;
    const sweep = (): void => {
      if (refsKey(store) !== refsSeen) {
        refsChanged = true;
        return;
      }
      const cutoff = leaseCutoff(store);
      for (const c of batch) {
        const path = store.pathOf(c.d);
        const st = statOrUndefined(path);
        if (c.row) {
          const row = idx.getBlob.get(c.d);
          if (!row || row.last_used >= cutoff) continue;
          if (dryRun) {
            result.removed.push(c.d);
            if (st && st.nlink <= 1) result.freedBytes += st.size;
            continue;
          }
          if (idx.deleteBlobUnusedSince.run(c.d, cutoff).changes !== 1) continue;
        } else {
          if (!st || now - st.ctimeMs < STALE_TMP_MS || st.ctimeMs >= cutoff) continue;
          if (idx.getBlob.get(c.d)) continue; // its put just recorded it
          if (dryRun) {
            result.removed.push(c.d);
            if (st.nlink <= 1) result.freedBytes += st.size;
            continue;
          }
        }
        if (st) {
          unlinkQuiet(path);
          if (st.nlink <= 1) result.freedBytes += st.size;
        }
        result.removed.push(c.d);
      }
    };
    if (dryRun) sweep();
    else idx.db.transaction(sweep).immediate();
    if (refsChanged) {
      // Someone set a ref meanwhile: recompute what is reachable, then continue with the rest.
      refsSeen = refsKey(store);
      reachable = await markReachable(store, { withVariants: true });
      pending = [...batch, ...pending].filter((c) => !reachable.has(c.d));
    }
  }

  // === stale tmp files
  for (const name of readdirQuiet(join(store.root, 'tmp'))) {
    const path = join(store.root, 'tmp', name);
    const st = statOrUndefined(path);
    // A name carrying a live pid is a writer still at work, however old the file looks (a tmp hard
    // link to a user's file, BlobStore.stageLink, keeps that file's old mtime). One carrying the pid
    // of a process that no longer runs is a killed writer's leftover: removed at once. A name
    // carrying none (not ours) is removed once untouched for an hour.
    if (!st || !st.isFile() || writerAlive(name)) continue;
    if (tempWriter(name) === undefined && now - st.mtimeMs < STALE_TMP_MS) continue;
    result.tmpRemoved++;
    if (!dryRun) unlinkQuiet(path);
  }

  result.removed.sort();
  const total = idx.blobTotals.get()!.blobs;
  result.kept = dryRun ? total - result.removed.filter((d) => rowDigests.has(d)).length : total;
  return result;
}

export interface DiskUsage {
  blobs: number;
  bytes: number;
  refs: number;
}

/** Blob count, their total size and the ref count, from the index. */
export function du(store: BlobStore): DiskUsage {
  const t = store.index.blobTotals.get()!;
  return { blobs: t.blobs, bytes: t.bytes ?? 0, refs: store.index.allRefs.all().length };
}

export interface RefListing {
  name: string;
  digest: Digest;
  updated: number;
  /** the manifest's size, undefined when the manifest blob is not in the store */
  size: number | undefined;
  /** bytes of every blob this ref reaches that the store holds (manifests, configs, layers) */
  totalSize: number;
}

/** Every ref with its manifest digest and sizes. */
export async function ls(store: BlobStore): Promise<RefListing[]> {
  const out: RefListing[] = [];
  for (const ref of store.refs()) {
    const reach = await markReachable(store, { withVariants: false, roots: [ref.digest] });
    let totalSize = 0;
    for (const d of reach) totalSize += store.index.getBlob.get(d)?.size ?? 0;
    out.push({ ...ref, size: store.index.getBlob.get(ref.digest)?.size, totalSize });
  }
  return out;
}

/**
 * The child descriptors of a manifest or index, split into those that are manifests themselves
 * (walked further) and plain blobs. Tolerant: unknown shapes give no children.
 *
 * This is deliberately local (a handful of JSON fields, not lib/manifest) so that gc does not
 * depend on manifest parsing rules; it only needs to never miss a child.
 */
export function manifestChildren(bytes: Uint8Array): { manifests: Digest[]; blobs: Digest[] } {
  const out = { manifests: [] as Digest[], blobs: [] as Digest[] };
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return out;
  }
  if (typeof doc !== 'object' || doc === null) return out;
  const m = doc as Record<string, unknown>;
  const digestOf = (x: unknown): Digest | undefined => {
    const d = typeof x === 'object' && x !== null ? (x as { digest?: unknown }).digest : undefined;
    return isDigest(d) ? d : undefined;
  };
  const push = (list: Digest[], d: Digest | undefined): void => {
    if (d !== undefined) list.push(d);
  };
  push(out.blobs, digestOf(m.config));
  for (const key of ['layers', 'blobs'] as const) {
    if (Array.isArray(m[key])) for (const l of m[key] as unknown[]) push(out.blobs, digestOf(l));
  }
  // Docker schema 1
  if (Array.isArray(m.fsLayers)) {
    for (const l of m.fsLayers as unknown[]) {
      const d = typeof l === 'object' && l !== null ? (l as { blobSum?: unknown }).blobSum : undefined;
      if (isDigest(d)) out.blobs.push(d);
    }
  }
  if (Array.isArray(m.manifests)) for (const c of m.manifests as unknown[]) push(out.manifests, digestOf(c));
  push(out.manifests, digestOf(m.subject));
  return out;
}

/**
 * The blobs `gc` keeps whatever the leases: everything a ref reaches, with the variants the
 * blob-info cache links to those (as gc's mark phase computes it).
 */
export function reachableBlobs(store: BlobStore): Promise<Set<Digest>> {
  return markReachable(store, { withVariants: true });
}

/** Everything reachable from `roots` (default: every ref), optionally with cache-linked variants. */
async function markReachable(store: BlobStore, opts: { withVariants: boolean; roots?: Digest[] }): Promise<Set<Digest>> {
  const reachable = new Set<Digest>();
  const queue: Digest[] = [...(opts.roots ?? store.refs().map((r) => r.digest))];
  while (queue.length > 0) {
    const m = queue.pop()!;
    if (reachable.has(m)) continue;
    reachable.add(m);
    const bytes = await readManifestQuiet(store, m);
    if (!bytes) continue;
    const children = manifestChildren(bytes);
    for (const b of children.blobs) reachable.add(b);
    for (const c of children.manifests) if (!reachable.has(c)) queue.push(c);
  }
  if (opts.withVariants) {
    for (const d of [...reachable]) {
      const u = store.cache.uncompressedOf(d);
      if (u === undefined) continue;
      reachable.add(u);
      for (const c of store.cache.compressedOf(u)) reachable.add(c);
      for (const v of store.cache.variantsOf(u)) reachable.add(v.compressed);
    }
  }
  return reachable;
}

/** A manifest's bytes if the store holds them intact and they are small; read without touching last_used. */
async function readManifestQuiet(store: BlobStore, d: Digest): Promise<Buffer | undefined> {
  const path = store.pathOf(d);
  const st = statOrUndefined(path);
  if (!st || !st.isFile() || st.size > MANIFEST_LIMIT) return undefined;
  try {
    const data = await readFile(path);
    return digestBytes(data, algorithmOf(d)) === d ? data : undefined;
  } catch {
    return undefined;
  }
}

/** The start of the oldest lease held by a live process; +Infinity when there is none. */
function leaseCutoff(store: BlobStore): number {
  let cutoff = Number.POSITIVE_INFINITY;
  for (const l of store.index.allLeases.all()) if (processAlive(l.pid) && l.started < cutoff) cutoff = l.started;
  return cutoff;
}

function refsKey(store: BlobStore): string {
  return JSON.stringify(store.index.allRefs.all().map((r) => [r.name, r.digest]));
}

/** Digests of the files under blobs/<algorithm>/ (names that are not digests are ignored). */
function blobFiles(store: BlobStore): Set<Digest> {
  const out = new Set<Digest>();
  const base = join(store.root, 'blobs');
  for (const alg of readdirQuiet(base)) {
    for (const name of readdirQuiet(join(base, alg))) {
      const d = `${alg}:${name}`;
      if (isDigest(d)) out.add(d);
    }
  }
  return out;
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function readdirQuiet(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
