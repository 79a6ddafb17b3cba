/**
 * The docker:// transport: `docker://[HOST[:PORT]/]NAME[:TAG|@DIGEST]`, an image in a registry
 * spoken to through lib/registry (distribution API on undici, auth from lib/auth).
 */
import { OcikitError, isOcikitError } from '../../errors.js';
import type { Digest } from '../../digest/index.js';
import { formatDockerTransportReference, parseDockerTransportReference, type DockerReference, type DockerTransportReference } from '../../reference/index.js';
import type { Repository } from '../../registry/index.js';
import { guardDestination } from '../write-errors.js';
import type { ImageDestination, ImageReference, ImageSource, ImageTransport, SystemContext } from '../types.js';

// The registry client, undici and the source/destination load on first use, not at start-up:
// they cost ~200 ms of module loading that local copies (oci:, dir:, archives) never need.
const loadRegistry = (): Promise<typeof import('../../registry/index.js')> => import('../../registry/index.js');

/** `docker://NAME[:TAG|@DIGEST]`: tagged or digested, never both; Docker Hub defaults applied. */
export class DockerImageReference implements ImageReference {
  readonly transport = dockerTransport;
  readonly withinTransport: string;
  readonly dockerReference: string;
  /** The parsed reference: tagged or digested, never both. */
  readonly ref: DockerReference;

  constructor(parsed: DockerTransportReference) {
    this.ref = parsed.ref;
    if (this.ref.domain === '') {
      throw new OcikitError('E_USAGE', `docker://${this.ref.toString()}: the name has no registry host`, { hint: 'write docker://HOST/NAME' });
    }
    this.withinTransport = formatDockerTransportReference(parsed);
    this.dockerReference = this.ref.toString();
  }

  toString(): string {
    return `docker:${this.withinTransport}`;
  }

  /** A repository handle for this reference with the given token actions. */
  async repository(ctx: SystemContext, actions: string[]): Promise<Repository> {
    const { RegistryClient, Repository } = await loadRegistry();
    // The registry section is the client's options as they are; only the signal lives elsewhere.
    const signal = ctx.events?.signal;
    const client = new RegistryClient(this.ref.domain, { ...ctx.registry, ...(signal ? { signal } : {}) }, this.ref.path);
    return new Repository(client, this.ref.path, actions);
  }

  async newSource(ctx: SystemContext): Promise<ImageSource> {
    const { DockerSource } = await import('./source.js');
    return new DockerSource(this, await this.repository(ctx, ['pull']), ctx.store, ctx.registry?.registriesDir);
  }

  async newDestination(ctx: SystemContext): Promise<ImageDestination> {
    const { DockerDestination } = await import('./destination.js');
    return guardDestination(this, async () => new DockerDestination(this, await this.repository(ctx, ['pull', 'push']), ctx));
  }

  /**
   * Delete the manifest this reference names (a tag is first resolved to its digest), as skopeo
   * delete does. WARNING: registries delete a manifest with every tag that points at it.
   */
  async delete(ctx: SystemContext): Promise<void> {
    const repo = await this.repository(ctx, ['pull', 'delete']);
    const digest = await this.resolveDigest(repo);
    try {
      await repo.deleteManifest(digest);
    } catch (err) {
      if (isOcikitError(err, 'E_UNSUPPORTED')) {
        throw new OcikitError('E_UNSUPPORTED', `deleting ${this}: the registry does not allow deleting images`, {
          cause: err,
          hint: 'a distribution registry deletes only with storage.delete.enabled: true in its configuration',
        });
      }
      throw err;
    }
  }

  /**
   * Remove the tag only (DELETE /v2/NAME/manifests/TAG, OCI distribution-spec), keeping the
   * manifest and its other tags. E_UNSUPPORTED, with nothing deleted, where the registry cannot
   * delete a tag alone (distribution 2.x answers 400 DIGEST_INVALID).
   */
  async untag(ctx: SystemContext): Promise<void> {
    if (this.ref.tag === undefined) {
      throw new OcikitError('E_USAGE', `${this}: --untag needs a reference with a tag`);
    }
    const repo = await this.repository(ctx, ['pull', 'delete']);
    // Tell "no such tag" from "cannot delete tags": registries answer both with 4xx.
    if (!(await repo.headManifest(this.ref.tag))) {
      throw new OcikitError('E_NOT_FOUND', `removing tag ${this}: the registry has no such tag`);
    }
    try {
      await repo.deleteManifest(this.ref.tag);
    } catch (err) {
      if (isOcikitError(err) && err.code !== 'E_AUTH' && err.code !== 'E_NETWORK' && err.code !== 'E_ABORTED' && err.code !== 'E_NOT_FOUND') {
        throw new OcikitError('E_UNSUPPORTED', `removing tag ${this}: the registry cannot delete a tag without deleting the image; nothing was deleted`, {
          cause: err,
          hint: `"ocikit delete ${this}" (without --untag) deletes the image and every tag that points at it`,
        });
      }
      throw err;
    }
  }

  /** One HEAD (a GET when the registry gives no digest); undefined when the registry has no such manifest. */
  async manifestDigest(ctx: SystemContext): Promise<Digest | undefined> {
    if (this.ref.digest !== undefined) {
      const repo = await this.repository(ctx, ['pull']);
      return (await repo.headManifest(this.ref.digest)) ? this.ref.digest : undefined;
    }
    const repo = await this.repository(ctx, ['pull']);
    const head = await repo.headManifest(this.ref.tag!);
    if (!head) return undefined;
    return head.digest ?? (await repo.getManifest(this.ref.tag!)).digest;
  }

  async listTags(ctx: SystemContext): Promise<string[]> {
    return (await this.repository(ctx, ['pull'])).listTags();
  }

  private async resolveDigest(repo: Repository): Promise<Digest> {
    if (this.ref.digest !== undefined) return this.ref.digest;
    const head = await repo.headManifest(this.ref.tag!);
    if (!head) throw new OcikitError('E_NOT_FOUND', `reading manifest of ${this}: the registry has no such tag`);
    // A registry that omits Docker-Content-Digest on HEAD: hash the manifest itself.
    return head.digest ?? (await repo.getManifest(this.ref.tag!)).digest;
  }
}

/** The docker transport (registered by lib/transports/index.ts). */
export const dockerTransport: ImageTransport = {
  name: 'docker',
  parseReference: (within) => new DockerImageReference(parseDockerTransportReference(within)),
};
