/**
 * The docker-daemon: transport: `docker-daemon:NAME:TAG`, `docker-daemon:NAME@DIGEST` and (to read)
 * `docker-daemon:sha256:IMAGE-ID`, an image in a Docker engine reached through its API
 * (--daemon-host, DOCKER_HOST, else unix:///var/run/docker.sock).
 */
import { OcikitError } from '../../errors.js';
import { formatDockerDaemonReference, parseDockerDaemonReference, type DockerDaemonReference } from '../../reference/index.js';
import type { ImageDestination, ImageReference, ImageSource, ImageTransport, SystemContext } from '../types.js';

/** A parsed docker-daemon: reference: a NAME:TAG, NAME@DIGEST or image ID in a Docker engine. */
export class DockerDaemonImageReference implements ImageReference {
  readonly transport = dockerDaemonTransport;
  readonly withinTransport: string;
  readonly dockerReference?: string;

  constructor(readonly parsed: DockerDaemonReference) {
    this.withinTransport = formatDockerDaemonReference(parsed);
    if (parsed.ref) this.dockerReference = parsed.ref.toString();
  }

  toString(): string {
    return `docker-daemon:${this.withinTransport}`;
  }

  // The Engine client (undici) and the archive code load on first use: other commands never pay for them.
  async newSource(ctx: SystemContext): Promise<ImageSource> {
    const { DockerDaemonSource } = await import('./source.js');
    return DockerDaemonSource.open(this, this.parsed, ctx);
  }

  async newDestination(ctx: SystemContext): Promise<ImageDestination> {
    // containers/image refuses these too: `docker load` can only attach a NAME:TAG to what it loads.
    if (this.parsed.id !== undefined) {
      throw new OcikitError('E_USAGE', `${this}: an image ID names an image to read; a destination must be NAME:TAG`);
    }
    if (this.parsed.ref!.tag === undefined) {
      throw new OcikitError('E_USAGE', `${this}: a destination must be NAME:TAG (the daemon stores no image under a digest it did not compute)`);
    }
    const { DockerDaemonDestination } = await import('./destination.js');
    return DockerDaemonDestination.open(this, this.parsed.ref!, ctx);
  }
}

/** The docker-daemon transport (registered by lib/transports/index.ts). */
export const dockerDaemonTransport: ImageTransport = {
  name: 'docker-daemon',
  parseReference: (within) => new DockerDaemonImageReference(parseDockerDaemonReference(within)),
};
