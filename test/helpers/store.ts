/** Looking at a store from a test: everything it holds, to compare before and after. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BlobStore, LazyStore } from '../../lib/store/index.js';
import { tempDir } from './paths.js';

export interface StoreSnapshot {
  blobs: string[];
  tmp: string[];
  refs: string[];
}

/** The blob files, tmp files and refs (name and digest) of the store at `dir`. */
export function storeSnapshot(dir: string): StoreSnapshot {
  const list = (d: string): string[] => (existsSync(d) ? readdirSync(d).sort() : []);
  const s = BlobStore.open(dir);
  try {
    return { blobs: list(join(dir, 'blobs', 'sha256')), tmp: list(join(dir, 'tmp')), refs: s.refs().map((r) => `${r.name} ${r.digest}`) };
  } finally {
    s.close();
  }
}

/** The store's refs, by name (read while a server runs: SQLite WAL lets both at once). */
export function refsOf(dir: string): Map<string, string> {
  const s = BlobStore.open(dir);
  try {
    return new Map(s.refs().map((r) => [r.name, r.digest]));
  } finally {
    s.close();
  }
}

/**
 * A store handle on a fresh temp directory, opened only if something needs it: for tests that
 * hand a transport its (required) store without caring what, if anything, goes into it.
 */
export function lazyStore(): LazyStore {
  return new LazyStore(join(tempDir('ocikit-store-'), 'store'));
}
