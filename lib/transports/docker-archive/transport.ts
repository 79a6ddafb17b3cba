/** The docker-archive: transport: `docker-archive:PATH[:NAME[:TAG]|:@N]`, the `docker save` / `docker load` format. */
import { OcikitError } from '../../errors.js';
import { absolutePath, formatDockerArchiveReference, parseDockerArchiveReference, type DockerArchiveReference } from '../../reference/index.js';
import { guardDestination } from '../write-errors.js';
import { isStdinPath, isStdoutPath } from '../tar/std-paths.js';
import type { ImageDestination, ImageReference, ImageSource, ImageTransport, SystemContext } from '../types.js';

export class DockerArchiveImageReference implements ImageReference {
  readonly transport = dockerArchiveTransport;
  readonly withinTransport: string;
  readonly path: string;
  readonly dockerReference?: string;

  constructor(readonly parsed: DockerArchiveReference) {
    // /dev/stdin and /dev/stdout name this process's streams: keep them as written.
    this.path = isStdinPath(parsed.path) || isStdoutPath(parsed.path) ? parsed.path : absolutePath(parsed.path, process.cwd());
    this.withinTransport = formatDockerArchiveReference({ ...parsed, path: this.path });
    if (parsed.name) this.dockerReference = parsed.name.toString();
  }

  toString(): string {
    return `docker-archive:${this.withinTransport}`;
  }

  async newSource(ctx: SystemContext): Promise<ImageSource> {
    const sel = { ...(this.parsed.name !== undefined ? { name: this.parsed.name } : {}), ...(this.parsed.index !== undefined ? { index: this.parsed.index } : {}) };
    // Loaded on use, like every transport's source and destination: naming an image costs nothing more.
    const { DockerArchiveSource } = await import('./source.js');
    return DockerArchiveSource.open(this, this.path, sel, ctx);
  }

  async newDestination(ctx: SystemContext): Promise<ImageDestination> {
    if (this.parsed.index !== undefined) throw new OcikitError('E_USAGE', `${this}: @N selects an image to read; it cannot name a destination`);
    const { DockerArchiveDestination } = await import('./destination.js');
    return guardDestination(this, () => DockerArchiveDestination.open(this, this.path, this.parsed.name, ctx));
  }

  /** Every RepoTag in the archive, and "@N" for each untagged image (as skopeo list-tags). */
  async listTags(ctx: SystemContext): Promise<string[]> {
    const [{ TarArchive }, { archiveTags, readArchiveManifest }, { dockerArchiveMetadata }] = await Promise.all([import('../tar/archive.js'), import('./manifest.js'), import('./source.js')]);
    const ar = await TarArchive.open(this.path, dockerArchiveMetadata(`docker-archive:${this.path}`, ctx));
    try {
      return archiveTags(await readArchiveManifest(ar));
    } finally {
      await ar.close();
    }
  }
}

export const dockerArchiveTransport: ImageTransport = {
  name: 'docker-archive',
  parseReference: (within) => new DockerArchiveImageReference(parseDockerArchiveReference(within)),
};
