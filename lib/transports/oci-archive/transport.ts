/** The oci-archive: transport: `oci-archive:PATH[:REF|:@N]`, a tar (optionally gzip/zstd) of an OCI image layout. */
import { OcikitError } from '../../errors.js';
import { absolutePath, formatOciArchiveReference, parseOciArchiveReference, type OciArchiveReference } from '../../reference/index.js';
import { guardDestination } from '../write-errors.js';
import type { ImageDestination, ImageReference, ImageSource, ImageTransport, SystemContext } from '../types.js';
import { layoutRefs } from '../oci/layout.js';

export class OciArchiveImageReference implements ImageReference {
  readonly transport = ociArchiveTransport;
  readonly withinTransport: string;
  readonly path: string;

  constructor(readonly parsed: OciArchiveReference) {
    this.path = absolutePath(parsed.path, process.cwd());
    this.withinTransport = formatOciArchiveReference({ ...parsed, path: this.path });
  }

  toString(): string {
    return `oci-archive:${this.withinTransport}`;
  }

  async newSource(ctx: SystemContext): Promise<ImageSource> {
    const sel = { ...(this.parsed.ref !== undefined ? { ref: this.parsed.ref } : {}), ...(this.parsed.index !== undefined ? { index: this.parsed.index } : {}) };
    // Loaded on use, like every transport's source and destination: naming an image costs nothing more.
    const { OciArchiveSource } = await import('./source.js');
    return OciArchiveSource.open(this, this.path, sel, ctx);
  }

  async newDestination(ctx: SystemContext): Promise<ImageDestination> {
    if (this.parsed.index !== undefined) throw new OcikitError('E_USAGE', `${this}: @N selects an image to read; it cannot name a destination`);
    const { OciArchiveDestination } = await import('./destination.js');
    return guardDestination(this, () => OciArchiveDestination.open(this, this.path, this.parsed.ref, ctx));
  }

  /** The refs named in the archive's index.json, in order (nothing stored: only index.json is kept). */
  async listTags(ctx: SystemContext): Promise<string[]> {
    const [{ TarArchive }, { ociArchiveMetadata, readArchivedLayout }] = await Promise.all([import('../tar/archive.js'), import('./source.js')]);
    const ar = await TarArchive.open(this.path, ociArchiveMetadata(`oci-archive:${this.path}`, ctx));
    try {
      return layoutRefs((await readArchivedLayout(ar)).index);
    } finally {
      await ar.close();
    }
  }
}

export const ociArchiveTransport: ImageTransport = {
  name: 'oci-archive',
  parseReference: (within) => new OciArchiveImageReference(parseOciArchiveReference(within)),
};
