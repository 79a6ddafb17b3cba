/**
 * DockerArchiveSource: reads one image from a `docker save` archive, the legacy layout
 * (`<id>/layer.tar`, `<hex>.json`) and Docker 25+'s (`blobs/sha256/<hex>` next to an OCI layout) alike:
 * both are described by manifest.json, which is what `docker load` reads too, so it is what we read.
 *
 * The archive holds no registry manifest, so one is built from manifest.json and the config, as
 * skopeo does: a Docker v2s2 manifest (an OCI one when a layer is zstd, which v2s2 cannot name).
 * Layer files may be plain tars, gzip or zstd (docker load takes all three); each is served as the
 * bytes it is, under the digest of those bytes:
 * - a plain layer's digest IS its diff ID, so the pipeline's digest check is the diff ID check;
 * - a compressed layer's digest comes from its name (blobs/sha256/<hex>, checked by the pipeline),
 *   else from hashing it once at open; while it streams, DiffIdCheck decompresses it on the side
 *   and fails the copy if it does not match its diff ID, then records the verified pair in the
 *   store's cache, so converting it later costs nothing already done.
 * For an archive that cannot be seeked (a pipe, /dev/stdin, a gzipped tar), see ../tar/archive.ts.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OcikitError, isOcikitError } from '../../errors.js';
import { digestBytes, shortDigest, type Digest } from '../../digest/index.js';
import { DOCKER_CONFIG, MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, OCI_CONFIG, buildManifest, layerMediaTypeFor, parseConfig, type Descriptor } from '../../manifest/index.js';
import type { DockerReference } from '../../reference/index.js';
import type { BlobStore, StoreHandle } from '../../store/index.js';
import { TarArchive, type OpenArchiveOptions, type TarMember } from '../tar/archive.js';
import { DiffIdCheck, SNIFF_BYTES, sniffCompression, type SniffedCompression } from '../tar/compression.js';
import { digestFromBlobName } from '../tar/names.js';
import { payloadStream } from '../payload.js';
import type { BlobInfo, BlobPayload, ImageReference, ImageSource, ManifestBlob, SystemContext } from '../types.js';
import { MANIFEST_JSON, REPOSITORIES, chooseItem, readArchiveManifest } from './manifest.js';

/**
 * How a docker-archive is opened to read an image: limits on its metadata. With the copy's
 * compressLayers, an archive that is spooled into the store (a pipe, a compressed archive, a
 * daemon's export) has its plain layers compressed as they arrive.
 */
export function dockerArchiveOptions(where: string, ctx: SystemContext): OpenArchiveOptions {
  return {
    where,
    store: ctx.store,
    ...(ctx.events?.onRead ? { onRead: ctx.events.onRead } : {}),
    ...(ctx.write?.compressLayers ? { compress: ctx.write.compressLayers } : {}),
    limits: { [MANIFEST_JSON]: MAX_MANIFEST_SIZE, [REPOSITORIES]: MAX_MANIFEST_SIZE },
  };
}

/**
 * The same, to read its manifest.json alone (list-tags; a destination adding to an archive): a
 * spooled archive keeps manifest.json, in memory, and stores nothing.
 */
export function dockerArchiveMetadata(where: string, ctx: SystemContext): OpenArchiveOptions {
  return { ...dockerArchiveOptions(where, ctx), only: (name) => name === MANIFEST_JSON };
}

interface Layer {
  /** The digest the manifest gives it: its diff ID when plain, its stored bytes' digest when compressed. */
  digest: Digest;
  member: TarMember;
  compression: SniffedCompression;
  diffID: Digest;
  index: number;
}

export class DockerArchiveSource implements ImageSource {
  readonly properties = { concurrentGetBlob: 4 };

  private constructor(
    readonly reference: ImageReference,
    private readonly archive: TarArchive,
    private readonly store: StoreHandle,
    private readonly manifest: ManifestBlob,
    private readonly config: { digest: Digest; bytes: Buffer },
    private readonly layers: Map<Digest, Layer>,
  ) {}

  /** Open the archive at `path` and build the manifest of the selected image. */
  static async open(reference: ImageReference, path: string, sel: { name?: DockerReference; index?: number }, ctx: SystemContext): Promise<DockerArchiveSource> {
    const ar = await TarArchive.open(path, dockerArchiveOptions(`docker-archive:${path}`, ctx));
    return DockerArchiveSource.fromArchive(reference, ar, sel, ctx);
  }

  /**
   * The selected image of an archive already indexed (docker-daemon: hands over the daemon's
   * export, spooled as it streamed). Takes ownership of `ar`: closed by close(), or here on failure.
   * Messages name the archive as `ar.where` does.
   */
  static async fromArchive(reference: ImageReference, ar: TarArchive, sel: { name?: DockerReference; index?: number }, ctx: SystemContext): Promise<DockerArchiveSource> {
    const where = ar.where;
    try {
      const { item, index } = chooseItem(await readArchiveManifest(ar), sel, where);
      const what = `image @${index}`;
      const cfgBytes = await ar.readBytes(listedMember(ar, item.Config, `config of ${what}`), MAX_CONFIG_SIZE, `config of ${what}`);
      const cfg = parseConfig(cfgBytes, `reading the config of ${what} from ${where}`);
      if (!cfg.rootfs) throw new OcikitError('E_BAD_INPUT', `reading ${where}: the config of ${what} has no rootfs`);
      const diffIDs = cfg.rootfs.diff_ids;
      if (diffIDs.length !== item.Layers.length) {
        throw new OcikitError('E_BAD_INPUT', `reading ${where}: manifest.json lists ${item.Layers.length} layers for ${what}, its config ${diffIDs.length} diff IDs`);
      }

      const layers = new Map<Digest, Layer>();
      const descs: Array<{ digest: Digest; size: number; compression: SniffedCompression }> = [];
      for (const [i, p] of item.Layers.entries()) {
        const member = listedMember(ar, p, `layer ${i} of ${what}`);
        const compression = sniffCompression(await ar.head(member, SNIFF_BYTES), `reading layer ${i} of ${what} from ${where}`);
        const diffID = diffIDs[i]!;
        const digest = compression === 'none' ? diffID : (member.digest ?? digestFromBlobName(member.name) ?? (await hashMember(ar, member)));
        // One layer may appear twice in an image (docker save links the copies); the first file
        // serves both, and its bytes are verified against the digest whichever it is.
        if (!layers.has(digest)) layers.set(digest, { digest, member, compression, diffID, index: i });
        descs.push({ digest, size: member.size, compression });
      }
      for (const l of layers.values()) {
        if (l.compression === 'none') continue;
        await checkStoredDiffId(ctx.store.get(), l, `layer ${l.index} (${l.member.name}) of ${where}`);
      }

      // v2s2 has no zstd layer type: an image with one is described as OCI.
      const family = descs.some((d) => d.compression === 'zstd') ? 'oci' : 'docker';
      const configDigest = digestBytes(cfgBytes);
      const configDesc: Descriptor = { mediaType: family === 'oci' ? OCI_CONFIG : DOCKER_CONFIG, size: cfgBytes.length, digest: configDigest };
      const layerDescs: Descriptor[] = descs.map((d) => ({ mediaType: layerMediaTypeFor(family, d.compression), size: d.size, digest: d.digest }));
      const built = buildManifest(family === 'oci' ? 'oci' : 'v2s2', configDesc, layerDescs);
      return new DockerArchiveSource(reference, ar, ctx.store, { bytes: built.bytes, mediaType: built.mediaType }, { digest: configDigest, bytes: cfgBytes }, layers);
    } catch (err) {
      await ar.close();
      throw err;
    }
  }

  async getManifest(instance?: Digest): Promise<ManifestBlob> {
    if (instance !== undefined && instance !== digestBytes(this.manifest.bytes)) {
      throw new OcikitError('E_NOT_FOUND', `reading manifest ${shortDigest(instance)} from ${this.archive.where}: a docker-archive image has no other manifests`);
    }
    return this.manifest;
  }

  async getBlob(info: BlobInfo): Promise<BlobPayload> {
    if (info.digest === this.config.digest) return { kind: 'stream', stream: Readable.from([this.config.bytes]), size: this.config.bytes.length };
    const layer = this.layers.get(info.digest);
    if (!layer) throw new OcikitError('E_NOT_FOUND', `reading blob ${shortDigest(info.digest)} from ${this.archive.where}: not a layer of this image`);
    const what = `layer ${layer.index} (${layer.member.name}) of ${this.archive.where}`;
    if (layer.compression === 'none' && layer.member.digest !== undefined && layer.member.digest !== layer.diffID) {
      // Spooled: the store already hashed it; say so now rather than let the copy find out.
      throw new OcikitError('E_DIGEST_MISMATCH', `reading ${what}: content has digest ${layer.member.digest}, but the image config's diff ID is ${layer.diffID}`);
    }
    const payload = this.archive.open(layer.member);
    if (layer.compression === 'none') return payload;
    const raw = payloadStream(payload);
    const check = new DiffIdCheck(layer.compression, layer.diffID, `reading ${what}`);
    check.once('end', () => {
      // Both digests were computed here, from the same bytes: a verified pair, safe to cache.
      if (check.compressedDigest === info.digest) this.store.get().cache.recordUncompressed(info.digest, layer.diffID);
    });
    raw.once('error', (err: Error) => check.destroy(err));
    raw.pipe(check);
    return { kind: 'stream', stream: check, size: layer.member.size };
  }

  async close(): Promise<void> {
    await this.archive.close();
  }
}

/**
 * The diff ID check for a compressed layer the copy will not fetch from us: the pipeline takes a
 * blob the store already holds from the store, without calling getBlob, so DiffIdCheck would never
 * see it (always the case for a spooled archive). A pair verified before on this machine is
 * trusted; one that contradicts the config fails now; otherwise the stored bytes are checked now.
 */
async function checkStoredDiffId(store: BlobStore, layer: Layer, what: string): Promise<void> {
  const digest = layer.digest;
  const known = store.cache.uncompressedOf(digest);
  if (known === layer.diffID) return;
  if (known !== undefined && known !== digest) {
    throw new OcikitError('E_DIGEST_MISMATCH', `reading ${what}: it decompresses to ${known}, but the image config's diff ID is ${layer.diffID}`);
  }
  const st = store.stat(digest);
  if (!st) return; // not in the store: getBlob will stream it through DiffIdCheck
  const check = new DiffIdCheck(layer.compression as 'gzip' | 'zstd', layer.diffID, `reading ${what}`);
  await pipeline(createReadStream(st.path, { highWaterMark: 1 << 20 }), check, async function (source: AsyncIterable<Buffer>) {
    for await (const _ of source) {
      // only the check's verdict matters
    }
  });
  if (check.compressedDigest === digest) store.cache.recordUncompressed(digest, layer.diffID);
}

/**
 * A member manifest.json names. Absent, it is not "image not found" (exit 2): the image is there and
 * incomplete, as a layout missing a blob is (E_BAD_INPUT, exit 1).
 */
function listedMember(ar: TarArchive, name: string, what: string): TarMember {
  try {
    return ar.file(name, what);
  } catch (err) {
    if (!isOcikitError(err, 'E_NOT_FOUND')) throw err;
    throw new OcikitError('E_BAD_INPUT', `${(err as Error).message}, though manifest.json lists it (incomplete archive)`, { cause: err });
  }
}

/** The sha256 of a member's bytes: one read, for compressed layers whose name does not say it. */
async function hashMember(ar: TarArchive, m: TarMember): Promise<Digest> {
  const p = ar.open(m);
  const h = createHash('sha256');
  const src = payloadStream(p);
  await pipeline(src, async function (source: AsyncIterable<Buffer>) {
    for await (const c of source) h.update(c);
  });
  return `sha256:${h.digest('hex')}`;
}
