/**
 * OciArchiveDestination: writes an image into a tar of an OCI image layout, new or existing.
 *
 * The archive is streamed: oci-layout first, then each blob as the pipeline hands it over (from
 * the store's file, straight into the tar), then index.json at commit. It goes to a temp file next
 * to the target, renamed over it at commit: nothing is visible before, and a failed copy leaves the
 * target as it was. Writing into an existing archive keeps its images: its members are streamed
 * across from their offsets (never unpacked), its blobs are reused, and index.json gains the new
 * entry (an existing entry of the same ref is replaced, as for oci:). The rename happens only if
 * the archive is still the file read at the start (E_CONFLICT otherwise), so two concurrent writers
 * never lose an image silently.
 *
 * The rewrite keeps only the blobs a kept index.json entry reaches (its manifest, and for an index
 * its instances, their configs and layers), so replacing an image does not leave the old one's
 * blobs behind to grow the archive with every re-copy. Old blobs no kept entry reaches are still
 * reused when the new image needs them: they are copied from the old archive at commit. When the
 * reach of a kept entry cannot be told (a manifest missing, garbled or of a type ocikit does not
 * read), every old blob is kept: nothing is dropped that something might still need.
 *
 * /dev/stdout (or a pipe) is written directly, with no atomicity: a failure leaves a truncated tar.
 */
import { promises as fsp } from 'node:fs';
import { OcikitError, isOcikitError, wrapError } from '../../errors.js';
import { algorithmOf, digestBytes, type Digest } from '../../digest/index.js';
import {
  DOCKER_LIST,
  DOCKER_V2S2_MANIFEST,
  MAX_MANIFEST_SIZE,
  OCI_INDEX,
  OCI_MANIFEST,
  isIndexMediaType,
  isManifestMediaType,
  manifestChildren,
  parseManifest,
  type Descriptor,
  type OciIndex,
  type ParsedManifest,
} from '../../manifest/index.js';
import { TarArchive, type TarMember } from '../tar/archive.js';
import { payloadStream } from '../payload.js';
import { blobMemberName, digestFromBlobName } from '../tar/names.js';
import { ArchiveBlobs } from '../tar/blob-member.js';
import { copyMembers, openTarWriter, unchangedSince, type FileIdentityCheck, type TarWriter } from '../tar/writer.js';
import { isStdoutPath } from '../tar/std-paths.js';
import type { BlobInfo, BlobInput, BlobReservation, ImageDestination, ImageDestinationProperties, ImageReference, ManifestBlob, SystemContext } from '../types.js';
import { OCI_LAYOUT_CONTENT, OCI_LAYOUT_FILE, REF_NAME_ANNOTATION } from '../oci/layout.js';
import { ociArchiveMetadata, readArchivedLayout } from './source.js';

export class OciArchiveDestination implements ImageDestination {
  readonly properties: ImageDestinationProperties;
  /** Blobs in the new archive (copied from the old one or written here). */
  private readonly blobs: ArchiveBlobs;
  private top: { digest: Digest; size: number; mediaType: string } | undefined;
  private committed = false;
  /** Blobs of the old archive that no kept entry reaches, not copied up front: by digest, the member named so and the file holding its bytes. */
  private readonly unreached = new Map<Digest, { name: string; file: TarMember }>();
  /** Unreached old blobs the new image reuses: copied from the old archive at commit. */
  private readonly revived = new Set<Digest>();
  /** Room for a blob's member, for the pipeline's workers (FILE-mode archives; not /dev/stdout). */
  readonly reserveBlob?: (info: BlobInfo) => Promise<BlobReservation | undefined>;

  private constructor(
    readonly reference: ImageReference,
    private readonly path: string,
    private readonly ref: string | undefined,
    private readonly writer: TarWriter,
    private readonly old: { archive: TarArchive; index: OciIndex } | undefined,
    private readonly check: FileIdentityCheck,
    ctx: SystemContext,
  ) {
    this.properties = {
      supportedManifestTypes: [OCI_MANIFEST, OCI_INDEX],
      // Asked for (--format v2s2) or kept (--preserve-digests): a layout may hold Docker types, as skopeo writes them.
      alsoHolds: [DOCKER_V2S2_MANIFEST, DOCKER_LIST],
      // As skopeo's oci: layouts get compressed layers; --dest-decompress / --dest-compress say otherwise.
      desiredCompression: ctx.write?.destCompression ?? 'compress',
      concurrentPutBlob: 4,
      supportsIndex: true,
      acceptsForeignLayers: true,
      verifiesWhileWriting: false,
    };
    this.blobs = new ArchiveBlobs(writer, `oci-archive:${path}`, ctx.store);
    if (writer.reserve) {
      this.reserveBlob = async (info) => (await this.blobs.reserve(info))?.res;
    }
  }

  private get where(): string {
    return `oci-archive:${this.path}`;
  }

  static async open(reference: ImageReference, path: string, ref: string | undefined, ctx: SystemContext): Promise<OciArchiveDestination> {
    const where = `oci-archive:${path}`;
    let old: { archive: TarArchive; index: OciIndex } | undefined;
    let check: FileIdentityCheck = async () => undefined;
    if (!isStdoutPath(path)) {
      const st = await fsp.stat(path).catch(() => undefined);
      if (st?.isFile() && st.size > 0) {
        // Only its metadata: an existing archive is added to only when it can be read in place.
        const opts = ociArchiveMetadata(where, ctx);
        // Something that is not an archive of this kind is not ours to replace.
        const notOurs = (err: unknown): unknown =>
          isOcikitError(err, 'E_BAD_INPUT') || isOcikitError(err, 'E_NOT_FOUND')
            ? new OcikitError('E_CONFLICT', `writing ${where}: the file exists and is not an OCI layout archive (${(err as Error).message}); refusing to overwrite it`, { cause: err })
            : err;
        const archive = await TarArchive.open(path, opts).catch((err) => {
          throw notOurs(err);
        });
        try {
          if (archive.mode !== 'in-place') {
            throw new OcikitError('E_UNSUPPORTED', `writing ${where}: the existing archive is ${archive.compression}-compressed; ocikit adds images only to uncompressed archives`, {
              hint: 'decompress it first, or write to a new path',
            });
          }
          const layout = await readArchivedLayout(archive).catch((err) => {
            throw notOurs(err);
          });
          old = { archive, index: layout.index };
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
      const dest = new OciArchiveDestination(reference, path, ref, writer, old, check, ctx);
      await writer.addBuffer(OCI_LAYOUT_FILE, Buffer.from(OCI_LAYOUT_CONTENT));
      if (old) await dest.copyOld(old.archive, keptEntries(old.index, ref));
      return dest;
    } catch (err) {
      await writer?.abort();
      await old?.archive.close();
      throw err;
    }
  }

  /**
   * Stream the old archive's members across (all but oci-layout and index.json, rewritten here, and
   * the blobs no kept entry reaches, which are set aside for reuse).
   */
  private async copyOld(ar: TarArchive, kept: Descriptor[]): Promise<void> {
    const reached = await reachableBlobs(ar, kept);
    for (const m of ar.list()) {
      const d = digestFromBlobName(m.name);
      const f = d ? ar.resolve(m.name) : undefined;
      if (!d || f?.type !== 'file') continue;
      if (reached === undefined || reached.has(d)) this.blobs.held.set(d, { name: m.name, size: f.size });
      else this.unreached.set(d, { name: m.name, file: f });
    }
    const dropped = new Set([...this.unreached.values()].map((u) => u.name));
    await copyMembers(ar, this.writer, (name) => name === OCI_LAYOUT_FILE || name === 'index.json' || dropped.has(name));
  }

  async tryReusingBlob(info: BlobInfo): Promise<BlobInfo | undefined> {
    const held = await this.blobs.reuse(info);
    if (held) return held;
    const old = this.unreached.get(info.digest);
    if (old && (info.size < 0 || old.file.size === info.size)) {
      this.revived.add(info.digest);
      return { ...info, size: old.file.size };
    }
    return undefined;
  }

  async putBlob(input: BlobInput, info: BlobInfo): Promise<BlobInfo> {
    await this.blobs.put(input, info);
    return info;
  }

  async putManifest(m: ManifestBlob, instance?: Digest): Promise<void> {
    const digest = instance ?? digestBytes(m.bytes);
    if (!this.blobs.held.has(digest)) {
      await this.writer.addDirectory('blobs');
      await this.writer.addDirectory(`blobs/${algorithmOf(digest)}`);
      await this.writer.addBuffer(blobMemberName(digest), m.bytes);
      this.blobs.held.set(digest, { name: blobMemberName(digest), size: m.bytes.length });
    }
    if (instance === undefined) this.top = { digest, size: m.bytes.length, mediaType: m.mediaType };
  }

  async commit(): Promise<void> {
    if (!this.top) throw new OcikitError('E_INTERNAL', `committing ${this.where}: no manifest was written`);
    const desc: Descriptor = { mediaType: this.top.mediaType, digest: this.top.digest, size: this.top.size };
    if (this.ref !== undefined) desc.annotations = { [REF_NAME_ANNOTATION]: this.ref };
    const before = this.old?.index ?? { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
    const kept = before.manifests.filter((d) => {
      const name = d.annotations?.[REF_NAME_ANNOTATION];
      // As oci:: writing an existing ref replaces it; an untagged write replaces an identical untagged entry.
      return this.ref !== undefined ? name !== this.ref : !(name === undefined && d.digest === desc.digest);
    });
    const next = { ...before, schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...kept, desc] };
    try {
      // Old blobs the new image reused, not reached by any kept entry: copied now, before index.json.
      for (const d of this.revived) {
        const u = this.unreached.get(d)!;
        if (this.blobs.held.has(d) || !this.old) continue;
        const ar = this.old.archive;
        await this.writer.addDirectory('blobs');
        await this.writer.addDirectory(`blobs/${algorithmOf(d)}`);
        await this.writer.addStream(u.name, u.file.size, () => payloadStream(ar.open(u.file)));
        this.blobs.held.set(d, { name: u.name, size: u.file.size });
      }
      await this.writer.addBuffer('index.json', Buffer.from(JSON.stringify(next)));
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
 * The entries of an existing index.json that survive a write of `ref`: writing a ref replaces the
 * entry of that ref (an untagged write replaces nothing that matters here: an identical untagged
 * entry has exactly the new image's blobs, which are reused).
 */
function keptEntries(index: OciIndex, ref: string | undefined): Descriptor[] {
  return index.manifests.filter((d) => ref === undefined || d.annotations?.[REF_NAME_ANNOTATION] !== ref);
}

/** How deep an index of indexes is followed before the archive counts as one ocikit cannot judge. */
const MAX_NESTING = 8;

/**
 * Every blob `entries` reach in `ar`: each entry's manifest, an index's instances (recursively), an
 * image manifest's config and layers. undefined when that cannot be told: a manifest that is
 * missing, garbled, too deep or of a media type ocikit does not read (the caller then keeps all).
 */
async function reachableBlobs(ar: TarArchive, entries: Descriptor[]): Promise<Set<Digest> | undefined> {
  const seen = new Set<Digest>();
  const visit = async (d: Descriptor, depth: number): Promise<boolean> => {
    const digest = d.digest;
    if (seen.has(digest)) return true;
    seen.add(digest);
    if (!isManifestMediaType(d.mediaType) && !isIndexMediaType(d.mediaType)) return false;
    if (depth > MAX_NESTING) return false;
    const m = ar.resolve(blobMemberName(digest));
    if (m?.type !== 'file') return false;
    let parsed: ParsedManifest;
    try {
      const bytes = await ar.readBytes(m, MAX_MANIFEST_SIZE, `manifest ${digest}`);
      if (digestBytes(bytes) !== digest) return false;
      parsed = parseManifest(bytes, d.mediaType);
    } catch {
      // Unreadable or garbled: its reach is unknown, so nothing may be dropped.
      return false;
    }
    if (parsed.kind === 'oci-index' || parsed.kind === 'docker-list') {
      // An instance of a type we cannot read may reach anything: visit says so.
      for (const c of manifestChildren(parsed)) if (!(await visit(c, depth + 1))) return false;
    } else {
      // A config and layers are leaves.
      for (const c of manifestChildren(parsed)) seen.add(c.digest);
    }
    return true;
  };
  for (const e of entries) if (!(await visit(e, 0))) return undefined;
  return seen;
}
