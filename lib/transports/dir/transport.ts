/** The dir: transport: `dir:PATH`, a directory of manifest.json and blobs named by hex (as skopeo). */
import { absolutePath, formatDirReference, parseDirReference } from '../../reference/index.js';
import { registerTransport } from '../registry.js';
import { guardDestination } from '../write-errors.js';
import type { ImageDestination, ImageReference, ImageSource, ImageTransport, SystemContext } from '../types.js';
import { DirDestination } from './destination.js';
import { DirSource } from './source.js';

export class DirImageReference implements ImageReference {
  readonly transport = dirTransport;
  readonly withinTransport: string;
  readonly path: string;

  constructor(path: string) {
    this.path = absolutePath(path, process.cwd());
    this.withinTransport = formatDirReference({ path: this.path });
  }

  toString(): string {
    return `dir:${this.withinTransport}`;
  }

  newSource(_ctx: SystemContext): Promise<ImageSource> {
    return DirSource.open(this, this.path);
  }

  newDestination(ctx: SystemContext): Promise<ImageDestination> {
    return guardDestination(this, () => DirDestination.open(this, this.path, ctx));
  }
}

export const dirTransport: ImageTransport = {
  name: 'dir',
  parseReference: (within) => new DirImageReference(parseDirReference(within).path),
};

registerTransport(dirTransport);
