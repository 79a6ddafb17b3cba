/**
 * `bundle apply`: take a bundle's images into the store — all of them, verified, or nothing.
 *
 * 1. Read the archive's headers in place (nothing is unpacked) and its index.json; every image
 *    must be named `REPOSITORY:TAG` or `REPOSITORY@DIGEST`.
 * 2. Walk every image: each manifest (from the bundle, verified in memory, else from the store),
 *    config and layer must be in the bundle or already in the store. Anything missing is refused
 *    here, before any byte is written.
 * 3. Hash every blob the bundle carries, in the pool's workers, one pass each: those the store
 *    lacks are written to the store's tmp directory in that same pass; those it has are only
 *    checked. One mismatch, or a truncated member, and every tmp file is removed: nothing changed.
 * 4. Place the staged blobs (BlobStore.adopt: the workers hashed exactly what they wrote), then
 *    point `store:NAME` at each image. Applying the same bundle again stores nothing new and sets
 *    the same refs.
 *
 * A lease is held throughout, so a concurrent `store gc` cannot remove a blob step 2 counted on.
 */
import { promises as fsp } from 'node:fs';
import { shortDigest, verifyBytes, type Digest } from '../digest/index.js';
import { OcikitError, isOcikitError, wrapError } from '../errors.js';
import { MAX_MANIFEST_SIZE, isNondistributableLayer, parseManifest, type Descriptor } from '../manifest/index.js';
import type { WorkerPool } from '../pool/index.js';
import type { BlobStore } from '../store/index.js';
import { Semaphore } from '../semaphore.js';
import { readArchivedLayout } from '../transports/oci-archive/source.js';
import { TarArchive, type TarMember } from '../transports/tar/archive.js';
import { SNIFF_BYTES, sniffCompression } from '../transports/tar/compression.js';
import { blobMemberName, digestFromBlobName } from '../transports/tar/names.js';
import { formatStoreName, parseStoreName, storeRefName, type StoreName } from '../transports/store/names.js';
import { REF_NAME } from './create.js';

export interface ApplyOptions {
  store: BlobStore;
  pool: WorkerPool;
}

export interface ApplyResult {
  images: Array<{ name: string; digest: Digest }>;
  /** Blobs the bundle carried and the store did not have, now stored, and their bytes. */
  stored: number;
  storedBytes: number;
  /** Blobs the bundle carried that were only checked: the store had them (or no image needs them). */
  present: number;
}

/** Apply the bundle at `path` (see the module comment). */
export async function applyBundle(path: string, opts: ApplyOptions): Promise<ApplyResult> {
  const { store, pool } = opts;
  const where = `bundle ${path}`;
  await refuseCompressed(path, where);
  const lease = store.lease();
  // Read in place; a pipe is refused below, so nothing of one is kept (`only`), in the store or elsewhere.
  const ar = await TarArchive.open(path, { where, store, only: () => false, limits: { 'index.json': MAX_MANIFEST_SIZE, 'oci-layout': 64 * 1024 } });
  const staged: Array<{ tmp: string; digest: Digest; size: number }> = [];
  try {
    if (ar.mode !== 'in-place') throw new OcikitError('E_BAD_INPUT', `applying ${where}: a bundle must be a tar file, not a pipe`);

    // === 1. the images and their names
    const { index } = await readArchivedLayout(ar);
    const images = index.manifests.map((d, i) => ({ desc: d, name: imageName(d, i, where) }));
    const names = new Set<string>();
    for (const img of images) {
      const key = formatStoreName(img.name);
      if (names.has(key)) throw new OcikitError('E_BAD_INPUT', `applying ${where}: two images are named ${key}`);
      names.add(key);
    }

    // === 2. everything the images need is in the bundle or the store
    const manifests = new Map<Digest, Buffer>();
    const lacking: Digest[] = [];
    const seen = new Set<Digest>();
    const queue: Array<{ desc: Descriptor; manifest: boolean }> = images.map((i) => ({ desc: i.desc, manifest: true }));
    while (queue.length > 0) {
      const { desc, manifest } = queue.shift()!;
      const d = desc.digest;
      if (seen.has(d)) continue;
      seen.add(d);
      const member = blobMember(ar, d, desc.size, where);
      const inStore = store.stat(d);
      if (!manifest) {
        if (!member && !inStore && !(isNondistributableLayer(desc.mediaType) && (desc.urls?.length ?? 0) > 0)) lacking.push(d);
        continue;
      }
      let bytes: Buffer | undefined;
      if (member) {
        bytes = await ar.readBytes(member, MAX_MANIFEST_SIZE, `manifest ${shortDigest(d)}`);
        verifyBytes(bytes, { digest: d, size: desc.size, what: `applying ${where}: manifest ${shortDigest(d)}` });
        manifests.set(d, bytes);
      } else if (inStore) {
        bytes = await store.readBytes(d, MAX_MANIFEST_SIZE);
      } else {
        lacking.push(d);
        continue;
      }
      let parsed;
      try {
        parsed = parseManifest(bytes, desc.mediaType);
      } catch (err) {
        throw wrapError(err, `applying ${where}: manifest ${shortDigest(d)}`);
      }
      const children =
        parsed.kind === 'oci-index' || parsed.kind === 'docker-list'
          ? parsed.value.manifests.map((c) => ({ desc: c, manifest: true }))
          : [parsed.value.config, ...parsed.value.layers].map((c) => ({ desc: c, manifest: false }));
      queue.push(...children);
    }
    if (lacking.length > 0) {
      throw new OcikitError(
        'E_BAD_INPUT',
        `applying ${where}: it lacks ${lacking.length} blob${lacking.length === 1 ? '' : 's'} this store does not have either (${lacking.slice(0, 3).map(shortDigest).join(', ')}${lacking.length > 3 ? ', …' : ''}); nothing was changed`,
        {
          hint: 'make the bundle with --since an inventory of this store (ocikit bundle inventory), or without --since',
        },
      );
    }

    // === 3. every blob the bundle carries, hashed; the ones the store lacks staged in the same pass
    const blobMembers = ar.list().filter((m) => m.type === 'file' && digestFromBlobName(m.name) !== undefined);
    const result: ApplyResult = { images: images.map((i) => ({ name: formatStoreName(i.name), digest: i.desc.digest })), stored: 0, storedBytes: 0, present: 0 };
    const limit = new Semaphore(Math.max(1, pool.threads));
    const jobs = blobMembers.map(async (m) => {
      const d = digestFromBlobName(m.name)!;
      const release = await limit.acquire();
      try {
        const manifest = manifests.get(d);
        const need = seen.has(d) && !store.has(d);
        if (manifest) {
          // Already read and verified in memory (step 2): stored from there.
          if (need) staged.push({ tmp: '', digest: d, size: manifest.length });
          return;
        }
        const payload = ar.open(m);
        if (payload.kind !== 'path') throw new OcikitError('E_INTERNAL', `applying ${where}: ${m.name} is not a region of the archive`);
        const tmp = need ? store.tmpPath(`bundle-${d.slice(7, 23)}`) : undefined;
        if (tmp) staged.push({ tmp, digest: d, size: m.size });
        await pool.run({
          kind: 'blob',
          input: { kind: 'file', path: payload.path, ...(payload.fd !== undefined ? { fd: payload.fd } : {}), offset: payload.offset ?? 0, length: m.size },
          expect: { digest: d, size: m.size },
          what: `applying ${where}: blob ${shortDigest(d)}`,
          ...(tmp ? { keep: [{ kind: 'new-file' as const, path: tmp, sync: store.durable }] } : {}),
        });
      } finally {
        release();
      }
    });
    const settled = await Promise.allSettled(jobs);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      const err = failed.reason as unknown;
      throw isOcikitError(err) ? new OcikitError(err.code, `${err.message}; nothing was changed`, { cause: err }) : wrapError(err, `applying ${where}`);
    }
    result.present = blobMembers.length - staged.length;

    // === 4. place, then name
    // (A placed tmp file is renamed away: the cleanup in `finally` then removes nothing.)
    for (const s of staged) {
      const what = `blob ${shortDigest(s.digest)} from ${where}`;
      if (s.tmp === '') await store.put(manifests.get(s.digest)!, { digest: s.digest, what });
      else await store.adopt(s.tmp, { digest: s.digest, size: s.size, what });
      result.stored++;
      result.storedBytes += s.size;
    }
    for (const img of images) store.setRef(storeRefName(img.name), img.desc.digest);
    return result;
  } finally {
    await Promise.all(staged.flatMap((s) => (s.tmp ? [fsp.rm(s.tmp, { force: true }).catch(() => undefined)] : [])));
    await ar.close();
    lease.release();
  }
}

/** The name an image of the bundle gets: its ref.name, which must be REPOSITORY:TAG or REPOSITORY@DIGEST. */
function imageName(d: Descriptor, i: number, where: string): StoreName {
  const n = d.annotations?.[REF_NAME];
  if (n === undefined || (!n.includes(':') && !n.includes('@'))) {
    throw new OcikitError('E_BAD_INPUT', `applying ${where}: image ${i} is named ${n === undefined ? 'nothing' : JSON.stringify(n.slice(0, 200))}, not REPOSITORY:TAG`, {
      hint: 'bundles made by ocikit bundle create name every image',
    });
  }
  try {
    return parseStoreName(n, `image ${i} of ${where}:`);
  } catch (err) {
    throw wrapError(err, `applying ${where}`);
  }
}

/** The bundle's member for blob `d`, checked against the descriptor's size; undefined when absent. */
function blobMember(ar: TarArchive, d: Digest, size: number, where: string): TarMember | undefined {
  const m = ar.resolve(blobMemberName(d), 'blob');
  if (!m) return undefined;
  if (m.type !== 'file') throw new OcikitError('E_BAD_INPUT', `applying ${where}: ${m.name} is not a regular file`);
  if (m.size !== size) throw new OcikitError('E_BAD_INPUT', `applying ${where}: ${m.name} has ${m.size} bytes, its manifest says ${size}`);
  return m;
}

/** A bundle is a plain tar read in place: a compressed one is refused before anything is read (it would have to be unpacked). */
async function refuseCompressed(path: string, where: string): Promise<void> {
  let head: Buffer;
  try {
    const fh = await fsp.open(path, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new OcikitError('E_BAD_INPUT', `applying ${where}: not a regular file`);
      head = Buffer.alloc(SNIFF_BYTES);
      const { bytesRead } = await fh.read(head, 0, SNIFF_BYTES, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw wrapError(err, `applying ${where}`);
  }
  if (sniffCompression(head, `applying ${where}`) !== 'none') {
    throw new OcikitError('E_BAD_INPUT', `applying ${where}: the bundle is compressed`, { hint: 'decompress it first (gunzip / zstd -d): a bundle is read in place' });
  }
}
