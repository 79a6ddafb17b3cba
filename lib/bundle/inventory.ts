/**
 * The receiver's inventory: the digests of the blobs its store holds, as a small JSON file that
 * `ocikit bundle inventory` prints on the far side and `bundle create --since` reads here.
 *
 *   {"ocikitInventory": 1, "created": "2026-12-04T00:00:00.000Z", "blobs": ["sha256:…", …]}
 */
import { readFile, stat } from 'node:fs/promises';
import { isDigest, type Digest } from '../digest/index.js';
import { OcikitError, wrapError } from '../errors.js';
import { reachableBlobs, type BlobStore } from '../store/index.js';

/** The inventory format's version; another version is refused rather than misread. */
export const INVENTORY_VERSION = 1;
/** Far above any real store (a million digests is ~72 MB), far below exhausting memory. */
const MAX_INVENTORY_BYTES = 256 << 20;

export interface Inventory {
  ocikitInventory: typeof INVENTORY_VERSION;
  /** When it was made (ISO 8601). */
  created: string;
  /** The digests of the blobs the receiver's store holds, sorted. */
  blobs: Digest[];
}

/**
 * The inventory of `store`: the blobs it holds (see BlobStore.blobDigests) that a ref reaches, with
 * their cache-linked variants: what `store gc` keeps. A blob no ref reaches is left out, so a gc on
 * the receiving side between inventory and apply cannot remove a blob the bundle then lacks.
 */
export async function makeInventory(store: BlobStore): Promise<Inventory> {
  const keep = await reachableBlobs(store);
  return { ocikitInventory: INVENTORY_VERSION, created: new Date().toISOString(), blobs: store.blobDigests().filter((d) => keep.has(d)) };
}

/** Read and check an inventory file; E_BAD_INPUT naming the file when it is not one. */
export async function readInventory(path: string): Promise<Inventory> {
  const what = `reading the inventory ${path}`;
  let text: string;
  try {
    const st = await stat(path);
    if (st.size > MAX_INVENTORY_BYTES) throw new OcikitError('E_BAD_INPUT', `${what}: ${st.size} bytes, more than any inventory`);
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw wrapError(err, what);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new OcikitError('E_BAD_INPUT', `${what}: not JSON`, { hint: 'make it with ocikit bundle inventory on the receiving side' });
  }
  const o = v as Partial<Inventory> | null;
  if (typeof o !== 'object' || o === null || o.ocikitInventory !== INVENTORY_VERSION || !Array.isArray(o.blobs)) {
    throw new OcikitError('E_BAD_INPUT', `${what}: not an ocikit inventory (version ${INVENTORY_VERSION})`, { hint: 'make it with ocikit bundle inventory on the receiving side' });
  }
  const bad = o.blobs.find((d) => !isDigest(d));
  if (bad !== undefined) throw new OcikitError('E_BAD_INPUT', `${what}: ${JSON.stringify(String(bad).slice(0, 100))} is not a digest`);
  return { ocikitInventory: INVENTORY_VERSION, created: typeof o.created === 'string' ? o.created : '', blobs: o.blobs };
}
