/**
 * The store: transport: `store:REPOSITORY[:TAG|@DIGEST]`, an image held in ocikit's blob store
 * under a name of its own (see names.ts for which refs give which names). It is what `ocikit
 * serve` serves, what pushes to it and `bundle apply` record, and what `copy` reads and writes
 * without any file or network in between.
 */
import { OcikitError } from '../../errors.js';
import { parseDockerReference } from '../../reference/index.js';
import type { ImageDestination, ImageReference, ImageSource, ImageTransport, SystemContext } from '../types.js';
import { canonicalRepository, formatStoreName, parseStoreName, refsToDelete, servedTags, type StoreName } from './names.js';

export class StoreImageReference implements ImageReference {
  readonly transport = storeTransport;
  readonly withinTransport: string;
  readonly dockerReference?: string;

  constructor(readonly name: StoreName) {
    this.withinTransport = formatStoreName(name);
    // A canonical name ("docker.io/library/busybox:1", "quay.io/x/y:2") is also a docker reference;
    // a short one ("team/app:1") is not: docker would read it as Docker Hub's, which it need not be.
    try {
      const ref = parseDockerReference(this.withinTransport);
      if (canonicalRepository(ref) === name.repository) this.dockerReference = ref.toString();
    } catch {
      // no docker reference
    }
  }

  toString(): string {
    return `store:${this.withinTransport}`;
  }

  async newSource(ctx: SystemContext): Promise<ImageSource> {
    const { StoreSource } = await import('./source.js');
    return StoreSource.open(this, this.name, ctx.store.get());
  }

  async newDestination(ctx: SystemContext): Promise<ImageDestination> {
    const { StoreDestination } = await import('./destination.js');
    return new StoreDestination(this, this.name, ctx.store.get());
  }

  async listTags(ctx: SystemContext): Promise<string[]> {
    const tags = servedTags(ctx.store.get(), this.name.repository);
    if (tags === undefined) throw new OcikitError('E_NOT_FOUND', `${this}: the store has no repository ${this.name.repository}`);
    return tags;
  }

  /** Forget the refs that give this name: a tag's own ref(s), or every ref of the repository at that digest. gc removes what only they reached. */
  async delete(ctx: SystemContext): Promise<void> {
    const store = ctx.store.get();
    const refs = refsToDelete(store, this.name.repository, this.name);
    if (refs.length === 0) throw new OcikitError('E_NOT_FOUND', `deleting ${this}: the store has no image of that name`);
    for (const r of refs) store.deleteRef(r);
  }

  /** Forget this tag only (a store: tag names one image; other tags of it stay). */
  async untag(ctx: SystemContext): Promise<void> {
    if (this.name.tag === undefined) throw new OcikitError('E_USAGE', `delete --untag ${this}: name a tag, not a digest`);
    await this.delete(ctx);
  }
}

export const storeTransport: ImageTransport = {
  name: 'store',
  parseReference(within: string): ImageReference {
    try {
      return new StoreImageReference(parseStoreName(within, 'store: image name'));
    } catch (err) {
      const e = err as OcikitError;
      throw new OcikitError('E_USAGE', `invalid image name ${JSON.stringify(`store:${within}`.slice(0, 300))}: ${e.message}`, { cause: err, ...(e.hint ? { hint: e.hint } : {}) });
    }
  },
};
