/**
 * OciDestination: writes an image into an OCI image layout directory, new or existing.
 *
 * New blobs are staged in a sibling directory and nothing in the layout changes before commit():
 * then staged blobs are renamed into blobs/, and index.json is rewritten (tmp + rename, under a
 * lock file so two writers into one layout both land). Writing an existing ref replaces it.
 */
import { join, dirname } from 'node:path';
import { promises as fsp } from 'node:fs';
import { OcikitError, wrapError } from '../../errors.js';
import { digestBytes, shortDigest, type Digest } from '../../digest/index.js';
import { OCI_INDEX, OCI_MANIFEST, MAX_MANIFEST_SIZE, type Descriptor, type OciIndex } from '../../manifest/index.js';
import { atomicWriteFile, ensureDir, forgetCleanup, makeStagingDir, pathExists, readFileLimited, withLockFile } from '../fs-util.js';
import { placeBlob, regularFileSize } from '../local-blobs.js';
import type { BlobInfo, BlobInput, ImageDestination, ImageReference, ManifestBlob } from '../types.js';
import { OCI_LAYOUT_CONTENT, OCI_LAYOUT_FILE, REF_NAME_ANNOTATION, layoutBlobPath, parseLayoutIndex } from './layout.js';

export class OciDestination implements ImageDestination {
  readonly properties = {
    supportedManifestTypes: [OCI_MANIFEST, OCI_INDEX],
    desiredCompression: 'preserve' as const,
    concurrentPutBlob: 8,
    supportsIndex: true,
    acceptsForeignLayers: true,
  };
  private top: { digest: Digest; size: number; mediaType: string } | undefined;
  private committed = false;

  private constructor(
    readonly reference: ImageReference,
    private readonly root: string,
    private readonly ref: string | undefined,
    private readonly staging: string,
  ) {}

  static async open(reference: ImageReference, root: string, ref: string | undefined): Promise<OciDestination> {
    const where = `oci:${root}`;
    const st = await fsp.stat(root).catch(() => undefined);
    if (st && !st.isDirectory()) throw new OcikitError('E_BAD_INPUT', `opening ${where}: exists and is not a directory`);
    if (st && (await pathExists(join(root, 'index.json')))) {
      // Fail early on a garbled layout, before any blob moves.
      parseLayoutIndex(await readFileLimited(join(root, 'index.json'), MAX_MANIFEST_SIZE, `reading ${where}/index.json`), where);
    }
    await ensureDir(dirname(root)); // HARDEN(issue 9, bug 2): bounded mkdir -p, see lib/dirs.ts
    const staging = await makeStagingDir(root);
    await fsp.mkdir(join(staging, 'blobs', 'sha256'), { recursive: true });
    return new OciDestination(reference, root, ref, staging);
  }

  private where(): string {
    return `oci:${this.root}`;
  }

  async tryReusingBlob(info: BlobInfo): Promise<BlobInfo | undefined> {
    const rel = layoutBlobPath(info.digest);
    for (const base of [this.staging, this.root]) {
      const size = await regularFileSize(join(base, rel));
      if (size !== undefined && (info.size < 0 || size === info.size)) return { ...info, size };
    }
    return undefined;
  }

  async putBlob(input: BlobInput, info: BlobInfo): Promise<BlobInfo> {
    const dest = join(this.staging, layoutBlobPath(info.digest));
    await fsp.mkdir(dirname(dest), { recursive: true });
    if ((await regularFileSize(dest)) !== undefined) return info;
    await placeBlob(input, info, dest, this.where());
    return info;
  }

  async putManifest(m: ManifestBlob, instance?: Digest): Promise<void> {
    const digest = instance ?? digestBytes(m.bytes);
    const dest = join(this.staging, layoutBlobPath(digest));
    if ((await regularFileSize(dest)) === undefined) await atomicWriteFile(dest, m.bytes);
    if (instance === undefined) this.top = { digest, size: m.bytes.length, mediaType: m.mediaType };
  }

  async commit(): Promise<void> {
    if (!this.top) throw new OcikitError('E_INTERNAL', `committing ${this.where()}: no manifest was written`);
    const top = this.top;
    const desc: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.size };
    if (this.ref !== undefined) desc.annotations = { [REF_NAME_ANNOTATION]: this.ref };
    try {
      await ensureDir(this.root); // HARDEN(issue 9, bug 2)
      await withLockFile(join(this.root, 'index.json.lock'), async () => {
        // Blobs first, index.json last: a reader never sees an entry whose blobs are missing.
        await this.moveStagedBlobs();
        if (!(await pathExists(join(this.root, OCI_LAYOUT_FILE)))) {
          await atomicWriteFile(join(this.root, OCI_LAYOUT_FILE), OCI_LAYOUT_CONTENT);
        }
        const indexPath = join(this.root, 'index.json');
        let index: OciIndex = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] } as OciIndex;
        if (await pathExists(indexPath)) {
          index = parseLayoutIndex(await readFileLimited(indexPath, MAX_MANIFEST_SIZE, `reading ${this.where()}/index.json`), this.where());
        }
        const kept = index.manifests.filter((d) => {
          const name = d.annotations?.[REF_NAME_ANNOTATION];
          // Writing an existing ref replaces it; an untagged write replaces an identical untagged entry.
          return this.ref !== undefined ? name !== this.ref : !(name === undefined && d.digest === desc.digest);
        });
        const next = { ...index, schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...kept, desc] };
        await atomicWriteFile(indexPath, JSON.stringify(next));
      });
      this.committed = true;
    } catch (err) {
      throw wrapError(err, `committing ${this.where()}`);
    }
  }

  private async moveStagedBlobs(): Promise<void> {
    const algs = await fsp.readdir(join(this.staging, 'blobs'));
    for (const alg of algs) {
      const dir = join(this.staging, 'blobs', alg);
      const destDir = join(this.root, 'blobs', alg);
      await fsp.mkdir(destDir, { recursive: true });
      for (const name of await fsp.readdir(dir)) {
        if (name.endsWith('.tmp')) continue;
        const dest = join(destDir, name);
        // Content-addressed: an existing file of that name is the same content; keep it.
        if ((await regularFileSize(dest)) !== undefined) continue;
        await fsp.rename(join(dir, name), dest);
      }
    }
  }

  async close(): Promise<void> {
    await fsp.rm(this.staging, { recursive: true, force: true });
    forgetCleanup(this.staging);

  }
}


