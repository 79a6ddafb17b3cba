/** The oci: transport: `oci:PATH[:REF|:@N]`, an OCI image layout directory. */
import { promises as fsp } from 'node:fs';
import { OcikitError, wrapError } from '../../errors.js';
import { digestBytes, parseDigest, shortDigest, type Digest } from '../../digest/index.js';
import { absolutePath, formatOciReference, parseOciReference, type OciReference } from '../../reference/index.js';
import { MAX_MANIFEST_SIZE, OCI_INDEX, parseManifest, type Descriptor, type OciIndex } from '../../manifest/index.js';
import { join } from 'node:path';
import { atomicWriteFile } from '../../fs/durable.js';
import { pathExists, readFileLimited, safeResolve, withLockFile } from '../fs-util.js';
import { guardDestination } from '../write-errors.js';
import type { ImageDestination, ImageReference, ImageSource, ImageTransport, SystemContext } from '../types.js';
import { REF_NAME_ANNOTATION, chooseFromLayout, layoutBlobPath, layoutRefs, parseLayoutIndex } from './layout.js';

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

  async newSource(ctx: SystemContext): Promise<ImageSource> {
    // Loaded on use, like every transport's source and destination: naming an image costs nothing more.
    const { OciSource } = await import('./source.js');
    return OciSource.open(
      this,
      this.path,
      { ...(this.parsed.ref !== undefined ? { ref: this.parsed.ref } : {}), ...(this.parsed.index !== undefined ? { index: this.parsed.index } : {}) },
      ctx.oci?.sharedBlobDir,
    );
  }

  async newDestination(ctx: SystemContext): Promise<ImageDestination> {
    if (this.parsed.index !== undefined) throw new OcikitError('E_USAGE', `${this}: @N selects an image to read; it cannot name a destination`);
    const { OciDestination } = await import('./destination.js');
    return guardDestination(this, () => OciDestination.open(this, this.path, this.parsed.ref, ctx));
  }

  /** The digest of the manifest this reference names in index.json; undefined when the layout or the ref is absent. */
  async manifestDigest(_ctx: SystemContext): Promise<Digest | undefined> {
    const where = `oci:${this.path}`;
    const indexPath = join(this.path, 'index.json');
    if (!(await pathExists(indexPath))) return undefined;
    const bytes = await readFileLimited(indexPath, MAX_MANIFEST_SIZE, `reading ${where}/index.json`);
    const index = parseLayoutIndex(bytes, where);
    let choice;
    try {
      choice = chooseFromLayout(index, bytes, { ...(this.parsed.ref !== undefined ? { ref: this.parsed.ref } : {}), ...(this.parsed.index !== undefined ? { index: this.parsed.index } : {}) }, where);
    } catch (err) {
      if ((err as OcikitError).code === 'E_NOT_FOUND') return undefined;
      throw err;
    }
    if (choice.kind !== 'descriptor') return choice.digest;
    const d = parseDigest(choice.descriptor.digest, `${where}/index.json`);
    // A ref whose manifest blob is gone is not an image the layout has.
    const reachable = await reachableBlobs(this.path, [choice.descriptor], where).catch(() => undefined);
    if (!reachable) return undefined;
    for (const b of reachable) {
      const st = await fsp.stat(join(this.path, layoutBlobPath(b))).catch(() => undefined);
      if (!st?.isFile()) return undefined;
    }
    return d;
  }

  /**
   * Remove the image this reference names from the layout (as skopeo 1.22 does): its entries leave
   * index.json, then the blobs that only it reached are deleted. Blobs another entry reaches stay.
   * index.json is rewritten first, so an interruption leaves unreferenced blobs, never a dangling ref.
   */
  async delete(_ctx: SystemContext): Promise<void> {
    const where = `oci:${this.path}`;
    const indexPath = join(this.path, 'index.json');
    if (!(await pathExists(indexPath))) throw new OcikitError('E_NOT_FOUND', `deleting ${this}: ${this.path} is not an OCI layout (no index.json)`);
    await withLockFile(join(this.path, 'index.json.lock'), async () => {
      const bytes = await readFileLimited(indexPath, MAX_MANIFEST_SIZE, `reading ${where}/index.json`);
      const index = parseLayoutIndex(bytes, where);
      let removed: Descriptor[];
      if (this.parsed.ref !== undefined) {
        removed = index.manifests.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] === this.parsed.ref);
        if (removed.length === 0) chooseFromLayout(index, bytes, { ref: this.parsed.ref }, where); // throws E_NOT_FOUND naming the refs
      } else {
        const choice = chooseFromLayout(index, bytes, this.parsed.index !== undefined ? { index: this.parsed.index } : {}, where);
        removed = choice.kind === 'descriptor' ? [choice.descriptor] : index.manifests.filter((d) => !d.annotations?.[REF_NAME_ANNOTATION]);
      }
      const kept = index.manifests.filter((d) => !removed.includes(d));
      const keep = await reachableBlobs(this.path, kept, where);
      // Blobs of the removed image that cannot be read are simply not deleted.
      const gone = await reachableBlobs(this.path, removed, where, true);
      const next: OciIndex = { ...index, schemaVersion: 2, mediaType: OCI_INDEX, manifests: kept };
      await atomicWriteFile(indexPath, JSON.stringify(next));
      for (const d of gone) {
        if (keep.has(d)) continue;
        await fsp.rm(join(this.path, layoutBlobPath(d)), { force: true }).catch((err) => {
          throw wrapError(err, `deleting ${this}: removing blob ${shortDigest(d)}`);
        });
      }
    });
  }

  async listTags(_ctx: SystemContext): Promise<string[]> {
    const where = `oci:${this.path}`;
    return layoutRefs(parseLayoutIndex(await readFileLimited(join(this.path, 'index.json'), MAX_MANIFEST_SIZE, `reading ${where}/index.json`), where));
  }
}

/**
 * Every blob the descriptors reach in the layout at `root`: manifests, indexes (recursively),
 * configs and layers. `lenient`: a manifest that cannot be read ends its branch instead of failing.
 */
async function reachableBlobs(root: string, descs: Descriptor[], where: string, lenient = false): Promise<Set<Digest>> {
  const out = new Set<Digest>();
  const queue = [...descs];
  while (queue.length > 0) {
    const d = queue.pop()!;
    const digest = parseDigest(d.digest, `${where}/index.json`);
    if (out.has(digest)) continue;
    out.add(digest);
    const mt = d.mediaType ?? '';
    if (!/manifest|index|list/.test(mt)) continue;
    try {
      const label = `reading manifest ${shortDigest(digest)} from ${where}`;
      const bytes = await readFileLimited(await safeResolve(root, layoutBlobPath(digest), label), MAX_MANIFEST_SIZE, label);
      if (digestBytes(bytes) !== digest) throw new OcikitError('E_DIGEST_MISMATCH', `${label}: content does not match its digest`);
      const m = parseManifest(bytes, mt);
      if (m.kind === 'oci-index' || m.kind === 'docker-list') queue.push(...(m.value.manifests as Descriptor[]));
      else if (m.kind === 'oci-manifest' || m.kind === 'docker-v2s2') queue.push(m.value.config, ...m.value.layers);
    } catch (err) {
      if (!lenient) throw err;
    }
  }
  return out;
}

export const ociTransport: ImageTransport = {
  name: 'oci',
  parseReference: (within) => new OciImageReference(parseOciReference(within)),
};
