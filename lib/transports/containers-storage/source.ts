/**
 * StorageSource: an image read out of containers-storage through podman.
 *
 * Two ways, the first that applies:
 * 1. FROM THE STORE. podman reports the image's ID (its config digest), its diff IDs and the
 *    digest of the manifest it keeps (`podman image inspect`). When the blob store already holds
 *    that manifest, that config, and for every layer a blob that decompresses to the layer's diff
 *    ID (known from an earlier verification on this machine, else checked now by decompressing the
 *    stored blob once), those are the image: the manifest podman keeps, served with the original
 *    blobs, and nothing is exported. This is what keeps oci: -> containers-storage: -> docker://
 *    faithful to the byte, although containers-storage keeps only uncompressed layers. (Which
 *    manifest, when podman keeps several for one image: see manifestCandidates.)
 * 2. EXPORTED. `podman push IMAGE dir:STAGING` writes the manifest, config and uncompressed layers
 *    (gzip layers, and a manifest naming them, when the copy would gzip them anyway: see
 *    podmanCompression) into a staging directory inside the store's tmp/ (same filesystem); each
 *    file is moved into the store, hashed on the way (a wrong one is E_DIGEST_MISMATCH), and the
 *    staging directory is removed. podman keeps the manifest it stored when nothing had to change (an image podman
 *    built: uncompressed layers), so that manifest digest survives. A pulled image's manifest
 *    names compressed layers the store no longer has: podman then names the uncompressed layers,
 *    but keeps the compressed media types (containers/image 5.23); such a layer is relabelled as
 *    the uncompressed type it is, and the manifest re-encoded.
 */
import { createReadStream, mkdtempSync, promises as fsp, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { OcikitError, isOcikitError } from '../../errors.js';
import { digestBytes, hexOf, shortDigest, type Digest } from '../../digest/index.js';
import { MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, layerCompression, layerMediaTypeFor, parseConfig, parseManifest, updateLayers, type Descriptor, type ParsedImageManifest } from '../../manifest/index.js';
import type { StorageReference } from '../../reference/index.js';
import type { BlobStore } from '../../store/index.js';
import { cleanupOnExit, forgetCleanup } from '../../fs/durable.js';
import { readFileLimited } from '../fs-util.js';
import { DiffIdCheck, SNIFF_BYTES, sniffCompression } from '../tar/compression.js';
import type { BlobInfo, BlobPayload, ImageReference, ImageSource, ManifestBlob, SystemContext, WriteOptions } from '../types.js';
import { Podman } from './podman.js';

/** What `podman image inspect` says about an image (the fields used here). */
interface PodmanImage {
  Id: string;
  Digest?: string;
  RepoDigests?: string[];
  RootFS?: { Layers?: string[] };
}

/** An image read out of containers-storage: from the blob store when it holds it exactly, else exported by podman. */
export class StorageSource implements ImageSource {
  readonly properties = { concurrentGetBlob: 8 };

  private constructor(
    readonly reference: ImageReference,
    private readonly manifest: ManifestBlob,
    /** Where each blob is: a file in the store. */
    private readonly blobs: Map<Digest, { path: string; size: number }>,
    private readonly signatures: Buffer[],
  ) {}

  /**
   * Read the image: from the store when it already holds it exactly (see the module comment),
   * else exported by podman. E_NOT_FOUND (exit 2) when the store has no such image;
   * E_UNSUPPORTED naming the package when podman is not installed.
   */
  static async open(ref: ImageReference, parsed: StorageReference, ctx: SystemContext): Promise<StorageSource> {
    const context = `reading ${ref}`;
    const podman = Podman.for(parsed, context);
    const sig = ctx.events?.signal ? { signal: ctx.events.signal } : {};
    // Which image podman is asked for: the ID (or ID prefix) when one is given, as containers/image
    // resolves NAME@ID by its ID; else the full name with tag and/or digest.
    const podmanName = parsed.id ?? parsed.ref!.toString();
    const out = (await podman.run(['image', 'inspect', podmanName], context, sig)).stdout;
    let img: PodmanImage | undefined;
    try {
      img = (JSON.parse(out) as PodmanImage[])[0];
    } catch {
      // handled below
    }
    if (!img || typeof img.Id !== 'string' || !/^[a-f0-9]{64}$/.test(img.Id)) {
      throw new OcikitError('E_IO', `${context}: podman image inspect gave no image ID`);
    }

    // === 1. the store already holds the image podman keeps?
    const store = ctx.store.get();
    for (const want of manifestCandidates(ref, parsed, img, store)) {
      const known = await fromStore(store, want, img);
      if (known) return new StorageSource(ref, known.manifest, known.blobs, []);
    }

    // === 2. export with podman into a staging directory in the store's tmp/ (one filesystem: each file is moved in)
    const staging = mkdtempSync(join(store.root, 'tmp', `containers-storage.${process.pid}.`));
    cleanupOnExit(staging);
    try {
      const dir = join(staging, 'image');
      // By ID: the image inspected above, even if the name moves to another image meanwhile.
      await podman.run(['push', '--quiet', ...podmanCompression(ctx.write?.compressLayers), img.Id, `dir:${dir}`], context, sig);
      const src = await readStaged(ref, dir, store, context);
      return new StorageSource(ref, src.manifest, src.blobs, src.signatures);
    } catch (err) {
      if (isOcikitError(err, 'E_NOT_FOUND') && /podman:/.test(err.message)) {
        // The image was there a moment ago (inspect found it): deleted while it was exported.
        throw new OcikitError('E_NOT_FOUND', `${context}: the image was removed while it was being read: ${err.message}`, { cause: err });
      }
      throw err;
    } finally {
      rmSync(staging, { recursive: true, force: true });
      forgetCleanup(staging);
    }
  }

  async getManifest(instance?: Digest): Promise<ManifestBlob> {
    if (instance !== undefined && instance !== digestBytes(this.manifest.bytes)) {
      throw new OcikitError('E_NOT_FOUND', `reading manifest ${shortDigest(instance)} from ${this.reference}: the image has no other manifests`);
    }
    return this.manifest;
  }

  async getBlob(info: BlobInfo): Promise<BlobPayload> {
    const b = this.blobs.get(info.digest);
    if (!b) throw new OcikitError('E_NOT_FOUND', `reading blob ${shortDigest(info.digest)} from ${this.reference}: not part of this image`);
    return { kind: 'path', path: b.path, size: b.size };
  }

  async getSignatures(instance?: Digest): Promise<Buffer[]> {
    return instance === undefined ? this.signatures : [];
  }

  async close(): Promise<void> {}
}

/**
 * podman's flags for an export whose layers the copy would gzip anyway (SystemContext.write.compressLayers):
 * podman compresses them itself as it writes them (`--compress`, its own parallel gzip at its
 * default level, on every core), so the plain layers are never written down and the copy finds
 * them compressed. podman names no level: when the user named one (`exact`), or asked for zstd,
 * the layers come plain and the copy compresses them as asked.
 */
export function podmanCompression(c: WriteOptions['compressLayers']): string[] {
  return c && c.format === 'gzip' && !c.exact ? ['--compress', '--compression-format', 'gzip'] : [];
}

/**
 * Which of the manifests podman keeps for the image to serve, best first. One image (one config)
 * may hold several manifests (the same image copied as OCI and as v2s2), and podman ties names to
 * images, not to manifests; its own choice is the image's first manifest (`Digest`). A digest in
 * the reference decides; else the manifest ocikit last copied to this very reference, if podman
 * still has it for this image; else podman's choice.
 */
function manifestCandidates(ref: ImageReference, parsed: StorageReference, img: PodmanImage, store: BlobStore): Digest[] {
  if (parsed.ref?.digest !== undefined) return [parsed.ref.digest];
  const out: Digest[] = [];
  const ours = store.getRef(ref.toString());
  if (ours !== undefined && (img.RepoDigests ?? []).some((r) => r.endsWith(`@${ours}`))) out.push(ours);
  if (typeof img.Digest === 'string' && /^sha256:[a-f0-9]{64}$/.test(img.Digest) && !out.includes(img.Digest)) out.push(img.Digest);
  return out;
}

/**
 * The image as the store holds it, when it holds all of it: the manifest `want`, whose config is
 * the image podman has (ID = config digest, same diff IDs), and every layer as a blob known to
 * decompress to its diff ID. Undefined as soon as anything is missing or differs.
 */
async function fromStore(store: BlobStore, want: Digest, img: PodmanImage): Promise<{ manifest: ManifestBlob; blobs: Map<Digest, { path: string; size: number }> } | undefined> {
  if (!store.has(want)) return undefined;
  let parsed: ReturnType<typeof parseManifest>;
  let bytes: Buffer;
  let diffIDs: string[];
  try {
    bytes = await store.readBytes(want, MAX_MANIFEST_SIZE);
    parsed = parseManifest(bytes);
    if (parsed.kind !== 'oci-manifest' && parsed.kind !== 'docker-v2s2') return undefined;
    if (parsed.value.config.digest !== `sha256:${img.Id}`) return undefined;
    diffIDs = parseConfig(await store.readBytes(parsed.value.config.digest, MAX_CONFIG_SIZE)).rootfs?.diff_ids ?? [];
  } catch (err) {
    // Absent after all, or not an image manifest: the export below tells the truth instead.
    if (isOcikitError(err, 'E_NOT_FOUND') || isOcikitError(err, 'E_BAD_INPUT') || isOcikitError(err, 'E_MANIFEST_TOO_BIG') || isOcikitError(err, 'E_UNSUPPORTED')) return undefined;
    throw err;
  }
  const m = parsed.value;
  const podmanLayers = img.RootFS?.Layers ?? [];
  if (diffIDs.length !== m.layers.length || diffIDs.length !== podmanLayers.length || diffIDs.some((d, i) => d !== podmanLayers[i])) return undefined;
  const blobs = new Map<Digest, { path: string; size: number }>();
  for (const d of [m.config, ...m.layers] as Descriptor[]) {
    const st = store.stat(d.digest);
    if (!st || st.size !== d.size) return undefined;
    blobs.set(d.digest, { path: st.path, size: st.size });
  }
  for (const [i, l] of m.layers.entries()) {
    const comp = layerCompression(l.mediaType);
    if (comp === undefined) return undefined;
    const diffID = diffIDs[i] as Digest;
    if (comp === 'none') {
      if (l.digest !== diffID) return undefined;
      continue;
    }
    const known = store.cache.uncompressedOf(l.digest);
    if (known === diffID) continue;
    if (known !== undefined) return undefined;
    // Not verified on this machine yet: decompress the stored blob once and see.
    if (!(await decompressesTo(store, l.digest, comp, diffID))) return undefined;
  }
  return { manifest: { bytes, mediaType: parsed.mediaType }, blobs };
}

/**
 * Whether the stored compressed blob `digest` decompresses to `diffID`; a verified pair is
 * recorded in the store's cache (so this is done once per layer and machine). A blob that does
 * not, or does not decompress at all, is simply not the layer: false.
 */
async function decompressesTo(store: BlobStore, digest: Digest, comp: 'gzip' | 'zstd', diffID: Digest): Promise<boolean> {
  const st = store.stat(digest);
  if (!st) return false;
  const check = new DiffIdCheck(comp, diffID, `checking stored blob ${shortDigest(digest)}`);
  try {
    await pipeline(createReadStream(st.path, { highWaterMark: 1 << 20 }), check, async function (source: AsyncIterable<Buffer>) {
      for await (const _ of source) {
        // only the check's verdict matters
      }
    });
  } catch (err) {
    if (isOcikitError(err, 'E_DIGEST_MISMATCH') || isOcikitError(err, 'E_BAD_INPUT')) return false;
    throw err;
  }
  if (check.compressedDigest !== digest) return false;
  store.cache.recordUncompressed(digest, diffID);
  return true;
}

/**
 * Read what `podman push … dir:` wrote: the manifest (relabelling layers that are plain tar but
 * named compressed), the config, the layers and any signatures. Every blob is moved into the store
 * (hashed and checked against the manifest's digest on the way).
 */
async function readStaged(
  ref: ImageReference,
  dir: string,
  store: BlobStore,
  context: string,
): Promise<{ manifest: ManifestBlob; blobs: Map<Digest, { path: string; size: number }>; signatures: Buffer[] }> {
  const raw = await readFileLimited(join(dir, 'manifest.json'), MAX_MANIFEST_SIZE, `${context}: the manifest podman exported`);
  const parsed = parseManifest(raw);
  if (parsed.kind !== 'oci-manifest' && parsed.kind !== 'docker-v2s2') {
    throw new OcikitError('E_UNSUPPORTED', `${context}: podman exported a ${parsed.mediaType}; only single images are supported`);
  }
  const family = parsed.kind === 'oci-manifest' ? 'oci' : 'docker';
  const layers = parsed.value.layers;
  const relabelled: Descriptor[] = [];
  for (const [i, l] of layers.entries()) {
    const comp = layerCompression(l.mediaType);
    const head = await readHead(join(dir, hexOf(l.digest)), `${context}: layer ${i}`);
    const actual = sniffCompression(head, `${context}: layer ${i}`);
    if (comp !== undefined && comp !== 'none' && actual === 'none') {
      relabelled.push({ ...l, mediaType: layerMediaTypeFor(family, 'none', { nondistributable: l.mediaType.includes('nondistributable') || l.mediaType.includes('foreign') }) });
    } else {
      relabelled.push(l);
    }
  }
  const changed = relabelled.some((l, i) => l !== layers[i]);
  const final: ParsedImageManifest = changed ? updateLayers(parsed, relabelled) : parsed;
  const blobs = new Map<Digest, { path: string; size: number }>();
  for (const d of [final.value.config, ...final.value.layers]) {
    if (blobs.has(d.digest)) continue;
    const file = join(dir, hexOf(d.digest));
    const what = `blob ${shortDigest(d.digest)} exported from ${ref}`;
    const put = await store.put({ path: file, move: true }, { digest: d.digest, size: d.size, mediaType: d.mediaType, what });
    blobs.set(d.digest, { path: put.path, size: put.size });
  }
  const signatures: Buffer[] = [];
  for (let n = 1; ; n++) {
    const s = await fsp.readFile(join(dir, `signature-${n}`)).catch(() => undefined);
    if (!s) break;
    signatures.push(s);
  }
  return { manifest: { bytes: Buffer.from(final.bytes), mediaType: final.mediaType }, blobs, signatures };
}

async function readHead(path: string, what: string): Promise<Buffer> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(path, 'r');
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } catch (err) {
    throw new OcikitError('E_BAD_INPUT', `${what}: podman exported no readable file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  } finally {
    await fh?.close();
  }
}
