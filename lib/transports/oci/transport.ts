/** The oci: transport: `oci:PATH[:REF|:@N]`, an OCI image layout directory. */
import { OcikitError } from '../../errors.js';
import { absolutePath, formatOciReference, parseOciReference, type OciReference } from '../../reference/index.js';
import { MAX_MANIFEST_SIZE } from '../../manifest/index.js';
import { join } from 'node:path';
import { readFileLimited } from '../fs-util.js';
import { registerTransport } from '../registry.js';
import { guardDestination } from '../write-errors.js';
import type { ImageDestination, ImageReference, ImageSource, ImageTransport, SystemContext } from '../types.js';
import { OciDestination } from './destination.js';
import { layoutRefs, parseLayoutIndex } from './layout.js';
import { OciSource } from './source.js';

export class OciImageReference implements ImageReference {
  readonly transport = ociTransport;
  readonly withinTransport: string;
  readonly path: string;

  constructor(readonly parsed: OciReference) {
    this.path = absolutePath(parsed.path, process.cwd());
    this.withinTransport = formatOciReference({ ...parsed, path: this.path });
  }

  toString(): string {
    return `oci:${this.withinTransport}`;
  }

  newSource(_ctx: SystemContext): Promise<ImageSource> {
    return OciSource.open(this, this.path, { ...(this.parsed.ref !== undefined ? { ref: this.parsed.ref } : {}), ...(this.parsed.index !== undefined ? { index: this.parsed.index } : {}) });
  }

  newDestination(_ctx: SystemContext): Promise<ImageDestination> {
    if (this.parsed.index !== undefined) throw new OcikitError('E_USAGE', `${this}: @N selects an image to read; it cannot name a destination`);
    return guardDestination(this, () => OciDestination.open(this, this.path, this.parsed.ref));
  }

  async listTags(_ctx: SystemContext): Promise<string[]> {
    const where = `oci:${this.path}`;
    return layoutRefs(parseLayoutIndex(await readFileLimited(join(this.path, 'index.json'), MAX_MANIFEST_SIZE, `reading ${where}/index.json`), where));
  }
}

export const ociTransport: ImageTransport = {
  name: 'oci',
  parseReference: (within) => new OciImageReference(parseOciReference(within)),
};

registerTransport(ociTransport);
