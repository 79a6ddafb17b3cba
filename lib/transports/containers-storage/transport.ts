/**
 * The containers-storage: transport: `containers-storage:[[DRIVER@]ROOT[+RUNROOT][:OPTIONS]]NAME[:TAG|@DIGEST]`
 * and `containers-storage:[...]IMAGE-ID` (or `NAME@ID`, `@ID-PREFIX`): an image in the store podman,
 * buildah and CRI-O share, read and written by driving the installed podman (see README.md for why).
 */
import { OcikitError } from '../../errors.js';
import { formatStorageReference, parseStorageReference, type StorageReference } from '../../reference/index.js';
import type { ImageDestination, ImageReference, ImageSource, ImageTransport, SystemContext } from '../types.js';

/** A parsed containers-storage: reference: a store (or storage.conf's) and a name and/or image ID in it. */
export class StorageImageReference implements ImageReference {
  readonly transport = containersStorageTransport;
  readonly withinTransport: string;
  readonly dockerReference?: string;

  constructor(readonly parsed: StorageReference) {
    this.withinTransport = formatStorageReference(parsed);
    if (parsed.ref) this.dockerReference = parsed.ref.toString();
  }

  toString(): string {
    return `containers-storage:${this.withinTransport}`;
  }

  async newSource(ctx: SystemContext): Promise<ImageSource> {
    const { StorageSource } = await import('./source.js');
    return StorageSource.open(this, this.parsed, ctx);
  }

  async newDestination(ctx: SystemContext): Promise<ImageDestination> {
    if (this.parsed.id !== undefined) {
      throw new OcikitError('E_USAGE', `${this}: an image ID names an image to read; a destination must be NAME[:TAG]`, { hint: 'podman gives a stored image the ID of its config' });
    }
    if (this.parsed.ref!.digest !== undefined) {
      throw new OcikitError('E_USAGE', `${this}: a destination cannot be named by digest; name it NAME[:TAG]`, { hint: 'the digest of what lands is the digest of the manifest copied' });
    }
    const { StorageDestination } = await import('./destination.js');
    return StorageDestination.open(this, this.parsed, ctx);
  }
}

/** The containers-storage transport (registered by lib/transports/index.ts). */
export const containersStorageTransport: ImageTransport = {
  name: 'containers-storage',
  parseReference: (within) => new StorageImageReference(parseStorageReference(within)),
};
