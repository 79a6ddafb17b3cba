/** The dir: transport: `dir:PATH`, a directory of manifest.json and blobs named by hex (as skopeo). */
import { absolutePath, formatDirReference, parseDirReference } from '../../reference/index.js';
import { registerTransport } from '../registry.js';
import type { ImageDestination, ImageReference, ImageSource, ImageTransport, SystemContext } from '../types.js';

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

  async newSource(_ctx: SystemContext): Promise<ImageSource> {
    // Loaded on use, like every transport's source and destination: naming an image costs nothing more.
    const { DirSource } = await import('./source.js');
    return DirSource.open(this, this.path);
  }

  async newDestination(ctx: SystemContext): Promise<ImageDestination> {
    const { DirDestination } = await import('./destination.js');
    return DirDestination.open(this, this.path, ctx);
  }
}

export const dirTransport: ImageTransport = {
  name: 'dir',
  parseReference: (within) => new DirImageReference(parseDirReference(within).path),
};

registerTransport(dirTransport);
