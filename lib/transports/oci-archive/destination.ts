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
 * /dev/stdout (or a pipe) is written directly, with no atomicity: a failure leaves a truncated tar.
 */
import { promises as fsp } from 'node:fs';
import { OcikitError, isOcikitError, wrapError } from '../../errors.js';
import { algorithmOf, digestBytes, type Digest } from '../../digest/index.js';
import { OCI_INDEX, OCI_MANIFEST, type Descriptor, type OciIndex } from '../../manifest/index.js';
import { TarArchive } from '../tar/archive.js';
import { blobMemberName, digestFromBlobName } from '../tar/names.js';
import { ArchiveBlobs } from '../tar/blob-member.js';
import { copyMembers, isStdoutPath, openTarWriter, unchangedSince, type FileIdentityCheck, type TarWriter } from '../tar/writer.js';
import type { BlobInfo, BlobInput, BlobReservation, ImageDestination, ImageDestinationProperties, ImageReference, ManifestBlob, SystemContext } from '../types.js';
import { OCI_LAYOUT_CONTENT, OCI_LAYOUT_FILE, REF_NAME_ANNOTATION } from '../oci/layout.js';
import { ociArchiveOptions, readArchivedLayout } from './source.js';

export class OciArchiveDestination implements ImageDestination {
  readonly properties: ImageDestinationProperties;
  /** Blobs in the new archive (copied from the old one or written here). */
  private readonly blobs: ArchiveBlobs;
  private top: { digest: Digest; size: number; mediaType: string } | undefined;
  private committed = false;
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
      // As skopeo's oci: layouts get compressed layers; --dest-decompress / --dest-compress say otherwise.
      desiredCompression: ctx.destCompression ?? 'compress',
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
        // No store: an existing archive is only ever read in place, never spooled.
        const { store: _unused, ...opts } = ociArchiveOptions(where, ctx);
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
            throw new OcikitError('E_UNSUPPORTED', `writing ${where}: the existing archive is ${archive.compression}-compressed; ocikit adds images only to uncompressed archives`, { hint: 'decompress it first, or write to a new path' });
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
      writer = await openTarWriter(path, where, { sync: !ctx.noSync });
      const dest = new OciArchiveDestination(reference, path, ref, writer, old, check, ctx);
      await writer.addBuffer(OCI_LAYOUT_FILE, Buffer.from(OCI_LAYOUT_CONTENT));
      if (old) await dest.copyOld(old.archive);
      return dest;
    } catch (err) {
      await writer?.abort();
      await old?.archive.close();
      throw err;
    }
  }

  /** Stream the old archive's members across (all but oci-layout and index.json, rewritten here). */
  private async copyOld(ar: TarArchive): Promise<void> {
    await copyMembers(ar, this.writer, (name) => name === OCI_LAYOUT_FILE || name === 'index.json');
    for (const m of ar.list()) {
      const d = digestFromBlobName(m.name);
      const f = d ? ar.resolve(m.name) : undefined;
      if (d && f?.type === 'file') this.blobs.held.set(d, { name: m.name, size: f.size });
    }
  }

  tryReusingBlob(info: BlobInfo): Promise<BlobInfo | undefined> {
    return this.blobs.reuse(info);
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
    const before = this.old?.index ?? ({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] } as OciIndex);
    const kept = before.manifests.filter((d) => {
      const name = d.annotations?.[REF_NAME_ANNOTATION];
      // As oci:: writing an existing ref replaces it; an untagged write replaces an identical untagged entry.
      return this.ref !== undefined ? name !== this.ref : !(name === undefined && d.digest === desc.digest);
    });
    const next = { ...before, schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...kept, desc] };
    try {
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
