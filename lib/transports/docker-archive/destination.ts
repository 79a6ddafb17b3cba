/**
 * DockerArchiveDestination: writes what `docker load` (and `podman load`) accept: uncompressed
 * layers and the config as `blobs/sha256/<hex>` (the paths Docker 25+'s `docker save` uses),
 * manifest.json naming them with the image's tags, and the legacy `repositories` file.
 *
 * - Tags: the reference's NAME:TAG plus WriteOptions.additionalTags (--additional-tag), written
 *   in full ("docker.io/library/busybox:latest"), as skopeo does. No name: an untagged image
 *   (docker load prints its ID).
 * - Several images per archive: writing into an existing archive adds the image. Its members are
 *   streamed across from their offsets, each layer already there (by diff ID) or config is reused
 *   rather than written again, a tag the new image takes is removed from the image that had it (as
 *   `docker load` moves it), and an image already in the archive (same config) just gains the tags.
 *   A stale index.json / oci-layout of a Docker 25+ archive is dropped: manifest.json stays the one
 *   description, so no reader sees an image list that misses the new image.
 * - Atomicity, streaming and /dev/stdout: as oci-archive (see ../tar/writer.ts).
 */
import { promises as fsp } from 'node:fs';
import { OcikitError, isOcikitError, wrapError } from '../../errors.js';
import { digestBytes, hexOf, type Digest } from '../../digest/index.js';
import { DOCKER_V2S2_MANIFEST, MAX_CONFIG_SIZE, parseConfig, parseManifest } from '../../manifest/index.js';
import { parseDockerReference, withDefaultTag, type DockerReference } from '../../reference/index.js';
import { TarArchive, type TarMember } from '../tar/archive.js';
import { SNIFF_BYTES, sniffCompression } from '../tar/compression.js';
import { digestFromBlobName } from '../tar/names.js';
import { ArchiveBlobs, type HeldBlob } from '../tar/blob-member.js';
import { copyMembers, openTarWriter, unchangedSince, type FileIdentityCheck, type TarWriter } from '../tar/writer.js';
import { isStdoutPath } from '../tar/std-paths.js';
import type { BlobInfo, BlobInput, BlobReservation, ImageDestination, ImageReference, ManifestBlob, SystemContext } from '../types.js';
import { MANIFEST_JSON, REPOSITORIES, parseRepoTag, readArchiveManifest, type ArchiveManifestItem } from './manifest.js';
import { dockerArchiveMetadata } from './source.js';

/** What we know of an image already in the archive being added to. */
interface OldImage {
  item: ArchiveManifestItem;
  configDigest: Digest;
  /** Its last layer's diff ID: what `repositories` names the image by. */
  topLayer: Digest | undefined;
}

/** Tags for the destination: its name and the additional tags, as full tagged references, each once. */
export function destinationTags(name: DockerReference | undefined, additional: string[] | undefined, where: string): DockerReference[] {
  const out: DockerReference[] = [];
  const add = (r: DockerReference): void => {
    if (!out.some((o) => o.toString() === r.toString())) out.push(r);
  };
  if (name) add(name);
  for (const t of additional ?? []) {
    let r: DockerReference;
    try {
      r = withDefaultTag(parseDockerReference(t));
    } catch (err) {
      throw new OcikitError('E_USAGE', `--additional-tag ${JSON.stringify(t)} for ${where}: ${(err as Error).message}`, { cause: err });
    }
    if (r.digest !== undefined) throw new OcikitError('E_USAGE', `--additional-tag ${JSON.stringify(t)} for ${where}: a tag cannot carry a digest`);
    add(r);
  }
  return out;
}

export class DockerArchiveDestination implements ImageDestination {
  readonly properties = {
    supportedManifestTypes: [DOCKER_V2S2_MANIFEST],
    desiredCompression: 'decompress' as const,
    concurrentPutBlob: 4,
    supportsIndex: false,
    acceptsForeignLayers: false,
    verifiesWhileWriting: false,
  };
  /** Every blob the new archive holds (copied from the old one or written here). */
  private readonly blobs: ArchiveBlobs;
  private manifest: ManifestBlob | undefined;
  private committed = false;
  /** Room for a blob's member, for the pipeline's workers (FILE-mode archives; not /dev/stdout). */
  readonly reserveBlob?: (info: BlobInfo) => Promise<BlobReservation | undefined>;

  private constructor(
    readonly reference: ImageReference,
    private readonly path: string,
    private readonly tags: DockerReference[],
    private readonly writer: TarWriter,
    private readonly old: { archive: TarArchive; images: OldImage[] } | undefined,
    private readonly check: FileIdentityCheck,
    ctx: SystemContext,
    /** How messages name the destination (default `docker-archive:PATH`). */
    private readonly whereAs?: string,
  ) {
    this.blobs = new ArchiveBlobs(writer, whereAs ?? `docker-archive:${path}`, ctx.store);
    if (writer.reserve) {
      this.reserveBlob = async (info) => (await this.blobs.reserve(info))?.res;
    }
  }

  private get where(): string {
    return this.whereAs ?? `docker-archive:${this.path}`;
  }

  static async open(reference: ImageReference, path: string, name: DockerReference | undefined, ctx: SystemContext): Promise<DockerArchiveDestination> {
    const where = `docker-archive:${path}`;
    const tags = destinationTags(name, ctx.write?.additionalTags, where);
    let old: { archive: TarArchive; images: OldImage[] } | undefined;
    let check: FileIdentityCheck = async () => undefined;
    const written = new Map<Digest, HeldBlob>();
    if (!isStdoutPath(path)) {
      const st = await fsp.stat(path).catch(() => undefined);
      if (st?.isFile() && st.size > 0) {
        // Something that is not an archive of this kind is not ours to replace.
        const notOurs = (err: unknown): unknown =>
          isOcikitError(err, 'E_BAD_INPUT') || isOcikitError(err, 'E_NOT_FOUND')
            ? new OcikitError('E_CONFLICT', `writing ${where}: the file exists and is not a docker-archive (${(err as Error).message}); refusing to overwrite it`, { cause: err })
            : err;
        const archive = await TarArchive.open(path, dockerArchiveMetadata(where, ctx)).catch((err) => {
          throw notOurs(err);
        });
        try {
          if (archive.mode !== 'in-place') {
            throw new OcikitError('E_UNSUPPORTED', `writing ${where}: the existing archive is ${archive.compression}-compressed; ocikit adds images only to uncompressed archives`, {
              hint: 'decompress it first, or write to a new path',
            });
          }
          const items = await readArchiveManifest(archive).catch((err) => {
            throw notOurs(err);
          });
          old = {
            archive,
            images: await indexOldImages(archive, items, written).catch((err) => {
              throw notOurs(err);
            }),
          };
          check = unchangedSince(path, archive.identity, where);
        } catch (err) {
          await archive.close();
          throw err;
        }
      } else if (st?.isFile()) {
        check = unchangedSince(path, { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs }, where);
      } else if (!st) {
        check = unchangedSince(path, undefined, where);
      }
    }
    let writer: TarWriter | undefined;
    try {
      writer = await openTarWriter(path, where, { sync: !ctx.write?.noSync });
      const dest = new DockerArchiveDestination(reference, path, tags, writer, old, check, ctx);
      for (const [d, w] of written) dest.blobs.held.set(d, w);
      if (old) {
        const dropped = new Set([MANIFEST_JSON, REPOSITORIES, 'index.json', 'oci-layout']);
        await copyMembers(old.archive, writer, (n) => dropped.has(n));
      }
      return dest;
    } catch (err) {
      await writer?.abort();
      await old?.archive.close();
      throw err;
    }
  }

  // --- HOOK (docker-daemon, issue 11): a new archive into a writer the caller made. ---
  /**
   * A destination writing one new archive through `writer` (a stream writer into docker-daemon's
   * load request), with the tags of `name` and ctx.write.additionalTags. `where` names it in messages.
   * commit() finishes the archive (manifest.json last); close() without commit aborts the writer.
   */
  static toWriter(reference: ImageReference, writer: TarWriter, where: string, name: DockerReference | undefined, ctx: SystemContext): DockerArchiveDestination {
    return new DockerArchiveDestination(reference, where, destinationTags(name, ctx.write?.additionalTags, where), writer, undefined, async () => undefined, ctx, where);
  }
  // --- end HOOK ---

  tryReusingBlob(info: BlobInfo): Promise<BlobInfo | undefined> {
    return this.blobs.reuse(info);
  }

  async putBlob(input: BlobInput, info: BlobInfo): Promise<BlobInfo> {
    await this.blobs.put(input, info);
    return info;
  }

  async putManifest(m: ManifestBlob, instance?: Digest): Promise<void> {
    if (instance !== undefined) throw new OcikitError('E_UNSUPPORTED', `writing ${this.where}: a docker-archive cannot hold a multi-image index`);
    // Read at commit: the archive keeps no manifest, only what manifest.json says of it.
    this.manifest = m;
  }

  /** The config and layers of the manifest written, from the manifest itself. */
  private image(): { config: Digest; layers: Digest[] } {
    if (!this.manifest) throw new OcikitError('E_INTERNAL', `committing ${this.where}: no manifest was written`);
    const parsed = parseManifest(this.manifest.bytes, this.manifest.mediaType || undefined);
    if (parsed.kind !== 'docker-v2s2') throw new OcikitError('E_INTERNAL', `committing ${this.where}: expected a Docker v2s2 manifest, got ${parsed.mediaType}`);
    return { config: parsed.value.config.digest, layers: parsed.value.layers.map((l) => l.digest) };
  }

  private memberOf(d: Digest): string {
    const w = this.blobs.held.get(d);
    // A foreign layer the source does not carry is the one way a manifest names a blob never put.
    if (!w) throw new OcikitError('E_UNSUPPORTED', `committing ${this.where}: blob ${d} is not available (a foreign layer?); docker load needs every layer in the archive`);
    return w.name;
  }

  async commit(): Promise<void> {
    const img = this.image();
    const ours = new Set(this.tags.map((t) => t.toString()));
    const images: Array<{ item: ArchiveManifestItem; topLayer: Digest | undefined; configDigest: Digest }> = (this.old?.images ?? []).map((o) => ({
      ...o,
      // A tag names one image: the new image takes it from any other (as docker load does).
      item: { ...o.item, RepoTags: (o.item.RepoTags ?? []).filter((t) => !ours.has(parseRepoTag(t)?.toString() ?? '')) },
    }));
    // Full names ("docker.io/library/busybox:latest"), as skopeo writes them: docker load reads them
    // as "busybox:latest", and podman load keeps the registry instead of guessing localhost/.
    const tagStrings = this.tags.map((t) => t.toString());
    const same = images.find((o) => o.configDigest === img.config);
    if (same) {
      same.item.RepoTags = [...(same.item.RepoTags ?? []), ...tagStrings];
    } else {
      images.push({
        item: { Config: this.memberOf(img.config), RepoTags: tagStrings, Layers: img.layers.map((l) => this.memberOf(l)) },
        topLayer: img.layers[img.layers.length - 1],
        configDigest: img.config,
      });
    }
    // `repositories`: {name: {tag: id}}, as docker save writes it. Docker 25+ puts the top
    // layer's diff ID there; only docker before 1.10 (which nothing here targets) reads it.
    const repositories: Record<string, Record<string, string>> = {};
    for (const { item, topLayer } of images) {
      if (!topLayer) continue;
      for (const t of item.RepoTags ?? []) {
        const r = parseRepoTag(t);
        if (!r || r.tag === undefined) continue;
        (repositories[r.name] ??= {})[r.tag] = hexOf(topLayer);
      }
    }
    try {
      await this.writer.addBuffer(MANIFEST_JSON, Buffer.from(JSON.stringify(images.map((i) => i.item))));
      await this.writer.addBuffer(REPOSITORIES, Buffer.from(JSON.stringify(repositories)));
      await this.writer.commit(this.check);
      this.committed = true;
    } catch (err) {
      throw wrapError(err, `committing ${this.where}`);
    }
  }

  async close(): Promise<void> {
    if (!this.committed) await this.writer.abort();
    await this.old?.archive.close();
  }
}

/**
 * What an existing archive already holds, for reuse: each image's config (by digest), each plain
 * layer (by its diff ID) and every blobs/<alg>/<hex> member. A compressed layer file is not
 * reusable: a manifest we write names uncompressed layers by diff ID.
 */
async function indexOldImages(ar: TarArchive, items: ArchiveManifestItem[], written: Map<Digest, HeldBlob>): Promise<OldImage[]> {
  const out: OldImage[] = [];
  const note = (d: Digest, m: TarMember): void => {
    if (!written.has(d)) written.set(d, { name: m.name, size: m.size });
  };
  for (const [i, item] of items.entries()) {
    const what = `image @${i}`;
    const cfgMember = ar.file(item.Config, `config of ${what}`);
    const cfgBytes = await ar.readBytes(cfgMember, MAX_CONFIG_SIZE, `config of ${what}`);
    const configDigest = digestBytes(cfgBytes);
    note(configDigest, cfgMember);
    const diffIDs = parseConfig(cfgBytes).rootfs?.diff_ids ?? [];
    if (diffIDs.length === item.Layers.length) {
      for (const [j, p] of item.Layers.entries()) {
        const m = ar.file(p, `layer ${j} of ${what}`);
        if (sniffCompression(await ar.head(m, SNIFF_BYTES), `reading ${ar.where}`) === 'none') note(diffIDs[j]!, m);
      }
    }
    out.push({ item, configDigest, topLayer: diffIDs[diffIDs.length - 1] });
  }
  for (const m of ar.list()) {
    const d = digestFromBlobName(m.name);
    const f = d ? ar.resolve(m.name) : undefined;
    if (d && f?.type === 'file') note(d, f);
  }
  return out;
}
