/**
 * `bundle create`: images into one OCI image layout in a tar, leaving out the blobs the receiver's
 * inventory says it has.
 *
 * Each image goes through the store first (copyImage to `store:NAME`, so every blob is verified
 * once and a source read once), then the archive is written from the store's files: `oci-layout`,
 * `index.json` (one entry per image, named by `org.opencontainers.image.ref.name`), and
 * `blobs/sha256/<hex>` for each manifest, config and layer the receiver lacks. Without `--since`
 * the bundle is a complete layout that `oci-archive:` readers (ocikit, skopeo) read as it is.
 * The archive is written next to its path and renamed into place when complete (tar/writer.ts).
 */
import { copyImage, type CopyOptions } from '../copy/index.js';
import { shortDigest, type Digest } from '../digest/index.js';
import { OcikitError, isOcikitError, wrapError } from '../errors.js';
import { MAX_MANIFEST_SIZE, OCI_INDEX, isNondistributableLayer, parseManifest, type Descriptor } from '../manifest/index.js';
import type { WorkerPool } from '../pool/index.js';
import { parseDockerReference } from '../reference/index.js';
import type { BlobStore } from '../store/index.js';
import { formatStoreName, resolveStoreName, storeNameOfDockerReference, type StoreName } from '../transports/store/names.js';
import { StoreImageReference } from '../transports/store/transport.js';
import { blobMemberName } from '../transports/tar/names.js';
import { openTarWriter } from '../transports/tar/writer.js';
import type { ImageReference } from '../transports/types.js';
import type { Inventory } from './inventory.js';

/** The annotation that names an image in an OCI layout's index.json. */
export const REF_NAME = 'org.opencontainers.image.ref.name';
const OCI_LAYOUT = '{"imageLayoutVersion":"1.0.0"}';

export interface CreateBundleOptions {
  store: BlobStore;
  pool: WorkerPool;
  /** The receiver's inventory: blobs it holds are left out. */
  since?: Inventory;
  /** How each image is copied into the store (policy, --all, platforms, registry contexts). */
  copy?: Omit<CopyOptions, 'store' | 'pool'>;
  /** Called once per image as it has been taken into the store. */
  onImage?: (name: string, digest: Digest) => void;
}

export interface BundleImage {
  /** REPOSITORY:TAG (or @DIGEST), as the receiver will know it (store:NAME). */
  name: string;
  digest: Digest;
}

export interface BundleResult {
  images: BundleImage[];
  /** Blobs written into the bundle and their bytes. */
  blobs: number;
  blobBytes: number;
  /** Blobs left out because the receiver has them, and their bytes. */
  leftOut: number;
  leftOutBytes: number;
  /** The archive's size in bytes. */
  size: number;
}

/**
 * The name an image gets in a bundle (and, once applied, in the receiver's store): a store: name
 * as it is; otherwise the image's docker reference, canonical ("docker.io/library/busybox:1").
 * E_USAGE for an image without either (oci:, dir:): copy it to store:NAME:TAG first.
 */
export function bundleName(ref: ImageReference): StoreName {
  if (ref instanceof StoreImageReference) return ref.name;
  if (ref.dockerReference) {
    const n = storeNameOfDockerReference(parseDockerReference(ref.dockerReference));
    if (n) return n;
  }
  throw new OcikitError('E_USAGE', `bundle create: ${ref} has no image name to give the receiver`, {
    hint: `copy it into the store under a name first (ocikit copy ${ref} store:NAME:TAG) and bundle store:NAME:TAG`,
  });
}

/** Write the bundle of `images` to `out`. */
export async function createBundle(images: ImageReference[], out: string, opts: CreateBundleOptions): Promise<BundleResult> {
  const { store } = opts;
  const have = new Set<string>(opts.since?.blobs ?? []);
  const lease = store.lease();
  try {
    // === 1. every image into the store, under its bundle name
    const named: Array<{ name: StoreName; digest: Digest }> = [];
    const seen = new Set<string>();
    for (const ref of images) {
      const name = bundleName(ref);
      const key = formatStoreName(name);
      if (seen.has(key)) throw new OcikitError('E_USAGE', `bundle create: two images would both be named ${key}`);
      seen.add(key);
      let digest: Digest;
      if (ref instanceof StoreImageReference) {
        const r = resolveStoreName(store, name.repository, name);
        const d = r?.digest ?? (name.digest !== undefined && store.has(name.digest) ? name.digest : undefined);
        if (d === undefined) throw new OcikitError('E_NOT_FOUND', `bundle create: the store has no image ${key}`, { hint: 'ocikit store ls lists what it holds' });
        digest = d;
      } else {
        const res = await copyImage(ref, new StoreImageReference(name), { ...opts.copy, store, pool: opts.pool, removeSignatures: true });
        digest = res.manifestDigest;
      }
      opts.onImage?.(key, digest);
      named.push({ name, digest });
    }

    // === 2. what the images need, and what the receiver lacks of it
    const needed = new Map<Digest, number>();
    const tops: Descriptor[] = [];
    for (const img of named) {
      const key = formatStoreName(img.name);
      const mediaType = await collect(store, img.digest, have, needed, key);
      tops.push({ mediaType, digest: img.digest, size: needed.get(img.digest) ?? (await store.readBytes(img.digest, MAX_MANIFEST_SIZE)).length, annotations: { [REF_NAME]: key } });
    }
    const result: BundleResult = { images: named.map((n) => ({ name: formatStoreName(n.name), digest: n.digest })), blobs: 0, blobBytes: 0, leftOut: 0, leftOutBytes: 0, size: 0 };
    const members: Array<[Digest, number]> = [];
    for (const [d, size] of needed) {
      if (have.has(d)) {
        result.leftOut++;
        result.leftOutBytes += size;
      } else {
        members.push([d, size]);
        result.blobs++;
        result.blobBytes += size;
      }
    }
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: tops }));

    // === 3. the archive, next to its path, renamed into place
    result.size = await writeArchive(out, index, members, store);
    return result;
  } finally {
    lease.release();
  }
}

/**
 * Walk an image from its manifest: record every manifest, config and layer (digest -> size) in
 * `needed`. A blob the store lacks is fine when the receiver has it (or it is a non-distributable
 * layer with URLs); otherwise the image is incomplete here (E_BAD_INPUT). Returns the top
 * manifest's media type.
 */
async function collect(store: BlobStore, top: Digest, have: Set<string>, needed: Map<Digest, number>, what: string): Promise<string> {
  let topType = '';
  const queue: Digest[] = [top];
  while (queue.length > 0) {
    const d = queue.shift()!;
    if (needed.has(d)) continue;
    let bytes: Buffer;
    try {
      bytes = await store.readBytes(d, MAX_MANIFEST_SIZE);
    } catch (err) {
      if (isOcikitError(err, 'E_NOT_FOUND') && have.has(d) && d !== top) continue;
      throw wrapError(err, `bundle create: reading manifest ${shortDigest(d)} of ${what}`);
    }
    const parsed = parseManifest(bytes);
    if (d === top) topType = parsed.mediaType;
    needed.set(d, bytes.length);
    if (parsed.kind === 'oci-index' || parsed.kind === 'docker-list') {
      for (const c of parsed.value.manifests) {
        if (!store.has(c.digest) && !have.has(c.digest)) {
          throw new OcikitError('E_BAD_INPUT', `bundle create: ${what}: image ${shortDigest(c.digest)} of its index is not in the store`, {
            hint: 'copy the image with --all to bundle every image of an index',
          });
        }
        queue.push(c.digest);
      }
      continue;
    }
    for (const b of [parsed.value.config, ...parsed.value.layers]) {
      const st = store.stat(b.digest);
      if (st && st.size !== b.size) throw new OcikitError('E_BAD_INPUT', `bundle create: ${what}: blob ${shortDigest(b.digest)} has ${st.size} bytes, its manifest says ${b.size}`);
      if (st) {
        needed.set(b.digest, st.size);
      } else if (have.has(b.digest)) {
        needed.set(b.digest, b.size);
      } else if (!(isNondistributableLayer(b.mediaType) && (b.urls?.length ?? 0) > 0)) {
        throw new OcikitError('E_BAD_INPUT', `bundle create: ${what}: blob ${shortDigest(b.digest)} is not in the store`);
      }
    }
  }
  return topType;
}

/**
 * Write the layout tar with the archive transports' writer (lib/transports/tar/writer.ts): a temp
 * file beside `out`, fsynced with its directory unless the store is not durable (--no-sync), renamed
 * onto `out` when complete; to a pipe or standard output, in order. Member times and owners are
 * fixed, so the same images and inventory give the same bytes. Returns the archive's size.
 */
async function writeArchive(out: string, index: Buffer, members: Array<[Digest, number]>, store: BlobStore): Promise<number> {
  const where = `bundle ${out}`;
  const writer = await openTarWriter(out, where, { sync: store.durable });
  try {
    await writer.addBuffer('oci-layout', Buffer.from(OCI_LAYOUT));
    await writer.addBuffer('index.json', index);
    await writer.addDirectory('blobs/');
    await writer.addDirectory('blobs/sha256/');
    for (const [d, size] of members) await writer.addStream(blobMemberName(d), size, () => store.open(d));
    await writer.commit();
    return writer.size;
  } catch (err) {
    await writer.abort();
    throw isOcikitError(err) ? err : wrapError(err, `bundle create: writing ${out}`);
  }
}
