/**
 * StorageDestination: an image written into containers-storage through podman.
 *
 * The copy writes a dir: image into a staging directory inside the blob store's tmp/ (blobs
 * arrive there by hard link from the store: no bytes are copied), and commit() has podman take
 * it: `podman pull dir:STAGING` stores the image under containers/storage's locks (layers it
 * already has are not applied again), keeping the manifest exactly as copied, so its digest is
 * the digest of what was copied; then `podman tag ID NAME` names it (moving the name from any
 * image that had it, as a pull does). Until commit() nothing is in the store; if naming fails,
 * an image that was not there before is removed again, so no unnamed image is left behind.
 *
 * Layers keep their compression (podman decompresses as it applies them), so what podman keeps
 * is the source's own manifest wherever no conversion was asked for.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { OcikitError, isOcikitError } from '../../errors.js';
import type { Digest } from '../../digest/index.js';
import { DOCKER_V2S2_MANIFEST, OCI_MANIFEST, parseManifest } from '../../manifest/index.js';
import type { DockerReference, StorageReference } from '../../reference/index.js';
import { DirImageReference } from '../dir/transport.js';
import { cleanupOnExit, forgetCleanup } from '../../fs/durable.js';
import type { BlobInfo, BlobInput, ImageDestination, ImageReference, ManifestBlob, SystemContext } from '../types.js';
import { Podman } from './podman.js';

/** An image staged as dir: and handed to podman at commit (see the module comment). */
export class StorageDestination implements ImageDestination {
  readonly properties = {
    supportedManifestTypes: [OCI_MANIFEST, DOCKER_V2S2_MANIFEST],
    desiredCompression: 'preserve' as const,
    concurrentPutBlob: 8,
    supportsIndex: false,
    acceptsForeignLayers: false,
    verifiesWhileWriting: false,
  };
  private manifest: ManifestBlob | undefined;
  private closed = false;

  private constructor(
    readonly reference: ImageReference,
    /** The name the image gets in containers-storage. */
    private readonly name: DockerReference,
    private readonly podman: Podman,
    private readonly staging: string,
    private readonly inner: ImageDestination,
    private readonly imageDir: string,
    private readonly ctx: SystemContext,
  ) {}

  /** Check podman is there (naming the package when not) and open the staging directory. */
  static async open(ref: ImageReference, parsed: StorageReference, ctx: SystemContext): Promise<StorageDestination> {
    const podman = Podman.for(parsed, `writing ${ref}`);
    // In the store's tmp/: the blobs the copy puts through the store arrive by hard link.
    const staging = mkdtempSync(join(ctx.store.get().root, 'tmp', `containers-storage.${process.pid}.`));
    cleanupOnExit(staging);
    const imageDir = join(staging, 'image');
    try {
      // dir: is the layout podman reads most directly (blobs named by digest, any manifest type).
      const inner = await new DirImageReference(imageDir).newDestination({ ...ctx, write: { ...ctx.write, destCompression: undefined } });
      return new StorageDestination(ref, parsed.ref!, podman, staging, inner, imageDir, ctx);
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      forgetCleanup(staging);
      throw err;
    }
  }

  tryReusingBlob(info: BlobInfo): Promise<BlobInfo | undefined> {
    // Only what this copy staged: podman itself skips layers its store has when it pulls.
    return this.inner.tryReusingBlob(info);
  }

  putBlob(input: BlobInput, info: BlobInfo): Promise<BlobInfo> {
    return this.inner.putBlob(input, info);
  }

  async putManifest(m: ManifestBlob, instance?: Digest): Promise<void> {
    if (instance !== undefined) throw new OcikitError('E_UNSUPPORTED', `writing ${this.reference}: containers-storage holds one image per name here, not an index`);
    this.manifest = m;
    await this.inner.putManifest(m);
  }

  async commit(): Promise<void> {
    const context = `writing ${this.reference}`;
    if (!this.manifest) throw new OcikitError('E_INTERNAL', `${context}: no manifest was written`);
    const parsed = parseManifest(this.manifest.bytes, this.manifest.mediaType || undefined);
    if (parsed.kind !== 'oci-manifest' && parsed.kind !== 'docker-v2s2') throw new OcikitError('E_INTERNAL', `${context}: expected an image manifest, got ${parsed.mediaType}`);
    const id = parsed.value.config.digest.replace(/^sha256:/, '');
    const sig = this.ctx.events?.signal ? { signal: this.ctx.events.signal } : {};
    await this.inner.commit();
    // Whether an image of this ID is there already: if so, it is not ours to remove on failure.
    const existed = (await this.podman.run(['image', 'exists', id], context, { ...sig, check: false })).code === 0;
    const pulled = (await this.podman.run(['pull', '--quiet', `dir:${this.imageDir}`], context, sig)).stdout.trim().split('\n').pop() ?? '';
    const storedId = /^[a-f0-9]{64}$/.test(pulled) ? pulled : id;
    const name = this.name.toString();
    try {
      await this.podman.run(['tag', storedId, name], context, sig);
    } catch (err) {
      if (!existed) await this.podman.run(['rmi', '--force', storedId], context, { check: false }).catch(() => undefined);
      throw err;
    }
    this.ctx.events?.onStatus?.(`Stored image ${name} (${storedId.slice(0, 12)}) in containers-storage`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.inner.close().catch((err: unknown) => {
      if (!isOcikitError(err)) throw err;
    });
    rmSync(this.staging, { recursive: true, force: true });
    forgetCleanup(this.staging);
  }
}
