/**
 * OciArchiveSource: reads one image (or index) from a tar of an OCI image layout, without unpacking
 * it. An uncompressed archive is indexed once and read in place (see ../tar/archive.ts); a
 * gzip- or zstd-compressed one cannot be seeked, so it is decompressed once, its blobs going
 * straight into the store (each verified against its name on the way in).
 */
import { OcikitError } from '../../errors.js';
import { parseDigest, shortDigest, verifyBytes, type Digest } from '../../digest/index.js';
import { MAX_MANIFEST_SIZE, type Descriptor } from '../../manifest/index.js';
import { TarArchive, type OpenArchiveOptions } from '../tar/archive.js';
import { blobMemberName, digestFromBlobName } from '../tar/names.js';
import type { BlobInfo, BlobPayload, ImageReference, ImageSource, ManifestBlob, SystemContext } from '../types.js';
import { OCI_LAYOUT_FILE, checkLayoutVersion, chooseFromLayout, parseLayoutIndex, type LayoutChoice } from '../oci/layout.js';
import { layoutReferrers } from '../oci/referrers.js';

const LAYOUT_FILE_LIMIT = 64 * 1024;

/** How an oci-archive is opened to read an image: limits on its metadata, and blob names checked when spooled into the store. */
export function ociArchiveOptions(where: string, ctx: SystemContext): OpenArchiveOptions {
  return {
    where,
    store: ctx.store,
    limits: { 'index.json': MAX_MANIFEST_SIZE, [OCI_LAYOUT_FILE]: LAYOUT_FILE_LIMIT },
    expectedDigest: digestFromBlobName,
    ...(ctx.events?.onRead ? { onRead: ctx.events.onRead } : {}),
  };
}

/**
 * The same, to read its index.json alone (list-tags; a destination adding to an archive): a spooled
 * archive keeps index.json and oci-layout, in memory, and stores nothing.
 */
export function ociArchiveMetadata(where: string, ctx: SystemContext): OpenArchiveOptions {
  return { ...ociArchiveOptions(where, ctx), only: (name) => name === 'index.json' || name === OCI_LAYOUT_FILE };
}

/** Read and check an archived layout's oci-layout and index.json. */
export async function readArchivedLayout(ar: TarArchive): Promise<{ bytes: Buffer; index: ReturnType<typeof parseLayoutIndex> }> {
  const layout = ar.resolve(OCI_LAYOUT_FILE);
  if (!layout) throw new OcikitError('E_BAD_INPUT', `opening ${ar.where}: not an OCI layout archive (no oci-layout member)`);
  checkLayoutVersion(await ar.readBytes(ar.file(OCI_LAYOUT_FILE), LAYOUT_FILE_LIMIT, OCI_LAYOUT_FILE), ar.where);
  const bytes = await ar.readBytes(ar.file('index.json'), MAX_MANIFEST_SIZE, 'index.json');
  return { bytes, index: parseLayoutIndex(bytes, ar.where) };
}

export class OciArchiveSource implements ImageSource {
  readonly properties;
  #referrers: Promise<Map<Digest, Descriptor[]>> | undefined;

  private constructor(
    readonly reference: ImageReference,
    private readonly archive: TarArchive,
    private readonly choice: LayoutChoice,
  ) {
    // In place every read is a positional read on one handle; spooled reads are store files.
    this.properties = { concurrentGetBlob: archive.mode === 'in-place' ? 4 : 8 };
  }

  /** Open the archive at `path` and resolve the selection; errors name the archive. */
  static async open(reference: ImageReference, path: string, sel: { ref?: string; index?: number }, ctx: SystemContext): Promise<OciArchiveSource> {
    const where = `oci-archive:${path}`;
    const ar = await TarArchive.open(path, ociArchiveOptions(where, ctx));
    try {
      const { bytes, index } = await readArchivedLayout(ar);
      return new OciArchiveSource(reference, ar, chooseFromLayout(index, bytes, sel, where));
    } catch (err) {
      await ar.close();
      throw err;
    }
  }

  async getManifest(instance?: Digest): Promise<ManifestBlob> {
    if (instance === undefined) {
      if (this.choice.kind === 'synthetic-index') return { bytes: this.choice.bytes, mediaType: this.choice.mediaType };
      const d = this.choice.descriptor;
      const bytes = await this.readVerified(parseDigest(d.digest, 'index.json entry'), d.size);
      return { bytes, mediaType: d.mediaType ?? '' };
    }
    return { bytes: await this.readVerified(instance, -1), mediaType: '' };
  }

  /** Referrers the archived layout lists for `subject`, as an oci: layout's (../oci/referrers.ts). */
  async listReferrers(subject: Digest): Promise<Descriptor[]> {
    this.#referrers ??= (async () => layoutReferrers((await readArchivedLayout(this.archive)).index, (d, size) => this.readVerified(d, size)))();
    return (await this.#referrers).get(subject) ?? [];
  }

  private async readVerified(d: Digest, size: number): Promise<Buffer> {
    const what = `manifest ${shortDigest(d)}`;
    const m = this.archive.resolve(blobMemberName(d), what);
    if (!m) throw new OcikitError('E_NOT_FOUND', `reading ${what} from ${this.archive.where}: not in the archive`);
    const bytes = await this.archive.readBytes(this.archive.file(m.name, what), MAX_MANIFEST_SIZE, what);
    verifyBytes(bytes, { digest: d, size, what: `reading ${what} from ${this.archive.where}` });
    return bytes;
  }

  async getBlob(info: BlobInfo): Promise<BlobPayload> {
    const what = `blob ${shortDigest(info.digest)}`;
    const m = this.archive.resolve(blobMemberName(info.digest), what);
    if (!m) throw new OcikitError('E_NOT_FOUND', `reading ${what} from ${this.archive.where}: not in the archive`);
    return this.archive.open(this.archive.file(m.name, what));
  }

  async close(): Promise<void> {
    await this.archive.close();
  }
}
