/**
 * OciDestination: writes an image into an OCI image layout directory, new or existing.
 *
 * New blobs are staged in a sibling directory and nothing in the layout changes before commit():
 * then staged blobs are renamed into blobs/, and index.json is rewritten (tmp + rename, under a
 * lock file so two writers into one layout both land). Writing an existing ref replaces it.
 * Referrers (putReferrer) become untagged index.json entries carrying their artifactType and
 * annotations (./referrers.ts), written in the same index.json as their subject: both appear at once.
 */
import { join, dirname } from 'node:path';
import { promises as fsp } from 'node:fs';
import { OcikitError, wrapError } from '../../errors.js';
import { digestBytes, type Digest } from '../../digest/index.js';
import { DOCKER_LIST, DOCKER_V2S2_MANIFEST, OCI_INDEX, OCI_MANIFEST, MAX_MANIFEST_SIZE, parseManifest, referrerDescriptor, type Descriptor, type OciIndex } from '../../manifest/index.js';
import { ensureDir } from '../../fs/dirs.js';
import { atomicWriteFile, forgetCleanup, makeStagingDir, placeAtomically, syncDir } from '../../fs/durable.js';
import { pathExists, readFileLimited, withLockFile } from '../fs-util.js';
import { placeBlob, regularFileSize } from '../local-blobs.js';
import { sweepLeftovers } from '../leftovers.js';
import type { BlobInfo, BlobInput, ImageDestination, ImageDestinationProperties, ImageReference, ManifestBlob, SystemContext } from '../types.js';
import { OCI_LAYOUT_CONTENT, OCI_LAYOUT_FILE, REF_NAME_ANNOTATION, layoutBlobPath, parseLayoutIndex, sharedBlobPath } from './layout.js';

export class OciDestination implements ImageDestination {
  readonly properties: ImageDestinationProperties;
  private top: { digest: Digest; size: number; mediaType: string } | undefined;
  /** index.json entries of the referrers put (putReferrer), added at commit. */
  private readonly referrers: Descriptor[] = [];

  private readonly sync: boolean;
  /** --dest-shared-blob-dir: blobs go there at commit instead of into the layout's blobs/. */
  private readonly sharedBlobDir: string | undefined;

  private constructor(
    readonly reference: ImageReference,
    private readonly root: string,
    private readonly ref: string | undefined,
    private readonly staging: string,
    ctx: SystemContext,
  ) {
    this.sync = !ctx.write?.noSync;
    this.sharedBlobDir = ctx.oci?.sharedBlobDir;
    this.properties = {
      supportedManifestTypes: [OCI_MANIFEST, OCI_INDEX],
      // Asked for (--format v2s2) or kept (--preserve-digests): a layout may hold Docker types, as skopeo writes them.
      alsoHolds: [DOCKER_V2S2_MANIFEST, DOCKER_LIST],
      // As skopeo: an OCI layout gets compressed layers; --dest-decompress / --dest-compress say
      // otherwise, and --dest-oci-accept-uncompressed-layers keeps them as they come.
      desiredCompression: ctx.write?.destCompression ?? (ctx.oci?.acceptUncompressedLayers ? 'preserve' : 'compress'),
      concurrentPutBlob: 8,
      supportsIndex: true,
      acceptsForeignLayers: true,
      verifiesWhileWriting: false,
    };
  }

  static async open(reference: ImageReference, root: string, ref: string | undefined, ctx: SystemContext): Promise<OciDestination> {
    const where = `oci:${root}`;
    const st = await fsp.stat(root).catch(() => undefined);
    if (st && !st.isDirectory()) throw new OcikitError('E_BAD_INPUT', `opening ${where}: exists and is not a directory`);
    if (st && (await pathExists(join(root, 'index.json')))) {
      // Fail early on a garbled layout, before any blob moves.
      parseLayoutIndex(await readFileLimited(join(root, 'index.json'), MAX_MANIFEST_SIZE, `reading ${where}/index.json`), where);
    }
    await ensureDir(dirname(root)); // HARDEN(issue 9, bug 2): bounded mkdir -p, see lib/fs/dirs.ts
    await sweepLeftovers(root, ['index.json', OCI_LAYOUT_FILE]);
    const staging = await makeStagingDir(root);
    await fsp.mkdir(join(staging, 'blobs', 'sha256'), { recursive: true });
    return new OciDestination(reference, root, ref, staging, ctx);
  }

  private where(): string {
    return `oci:${this.root}`;
  }

  async tryReusingBlob(info: BlobInfo): Promise<BlobInfo | undefined> {
    const rel = layoutBlobPath(info.digest);
    const places = [join(this.staging, rel), this.sharedBlobDir !== undefined ? join(this.sharedBlobDir, sharedBlobPath(info.digest)) : join(this.root, rel)];
    for (const place of places) {
      const size = await regularFileSize(place);
      if (size !== undefined && (info.size < 0 || size === info.size)) return { ...info, size };
    }
    return undefined;
  }

  async putBlob(input: BlobInput, info: BlobInfo): Promise<BlobInfo> {
    const dest = join(this.staging, layoutBlobPath(info.digest));
    await fsp.mkdir(dirname(dest), { recursive: true });
    if ((await regularFileSize(dest)) !== undefined) return info;
    await placeBlob(input, info, dest, this.where(), this.sync);
    return info;
  }

  async putManifest(m: ManifestBlob, instance?: Digest): Promise<void> {
    const digest = instance ?? digestBytes(m.bytes);
    const dest = join(this.staging, layoutBlobPath(digest));
    if ((await regularFileSize(dest)) === undefined) await atomicWriteFile(dest, m.bytes, { sync: this.sync });
    if (instance === undefined) this.top = { digest, size: m.bytes.length, mediaType: m.mediaType };
  }

  /** A referrer: its manifest staged like any blob, its index.json entry added at commit(). */
  async putReferrer(m: ManifestBlob, digest: Digest, _subject: Digest): Promise<void> {
    await this.putManifest(m, digest);
    if (!this.referrers.some((d) => d.digest === digest)) this.referrers.push(referrerDescriptor(parseManifest(m.bytes, m.mediaType || undefined), digest, m.bytes.length));
  }

  async commit(): Promise<void> {
    if (!this.top) throw new OcikitError('E_INTERNAL', `committing ${this.where()}: no manifest was written`);
    const top = this.top;
    const desc: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.size };
    if (this.ref !== undefined) desc.annotations = { [REF_NAME_ANNOTATION]: this.ref };
    try {
      // Blobs of a shared blob directory go there first: index.json is written after them.
      if (this.sharedBlobDir !== undefined) await this.moveStagedBlobs(this.sharedBlobDir);
      // A new layout appears whole: completed in the staging directory, then renamed into place.
      if (!(await pathExists(this.root)) && (await this.commitFresh(desc))) return;
      await ensureDir(this.root); // HARDEN(issue 9, bug 2)
      await withLockFile(join(this.root, 'index.json.lock'), async () => {
        // Blobs first, index.json last: a reader never sees an entry whose blobs are missing.
        await this.moveStagedBlobs(join(this.root, 'blobs'));
        if (!(await pathExists(join(this.root, OCI_LAYOUT_FILE)))) {
          await atomicWriteFile(join(this.root, OCI_LAYOUT_FILE), OCI_LAYOUT_CONTENT, { sync: this.sync });
        }
        const indexPath = join(this.root, 'index.json');
        let index: OciIndex = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
        if (await pathExists(indexPath)) {
          index = parseLayoutIndex(await readFileLimited(indexPath, MAX_MANIFEST_SIZE, `reading ${this.where()}/index.json`), this.where());
        }
        const kept = index.manifests.filter((d) => {
          const name = d.annotations?.[REF_NAME_ANNOTATION];
          // A referrer written again replaces its untagged entry.
          if (name === undefined && this.referrers.some((r) => r.digest === d.digest)) return false;
          // Writing an existing ref replaces it; an untagged write replaces an identical untagged entry.
          return this.ref !== undefined ? name !== this.ref : !(name === undefined && d.digest === desc.digest);
        });
        const next = { ...index, schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...kept, desc, ...this.referrers] };
        await atomicWriteFile(indexPath, JSON.stringify(next), { sync: this.sync });
        // The new index.json (and the blobs under it) survive a power loss from here on.
        if (this.sync) await syncDir(this.root);
      });
    } catch (err) {
      throw wrapError(err, `committing ${this.where()}`);
    }
  }

  /**
   * Commit into a layout that does not exist yet: write oci-layout and index.json into the staging
   * directory and rename it onto the layout's path, so that a crash at any point leaves either no
   * layout or all of it. False when the path appeared meanwhile (another writer): merge instead.
   */
  private async commitFresh(desc: Descriptor): Promise<boolean> {
    await atomicWriteFile(join(this.staging, OCI_LAYOUT_FILE), OCI_LAYOUT_CONTENT, { sync: this.sync });
    await atomicWriteFile(join(this.staging, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [desc, ...this.referrers] }), { sync: this.sync });
    if (this.sync) {
      for (const alg of await fsp.readdir(join(this.staging, 'blobs'))) await syncDir(join(this.staging, 'blobs', alg));
      await syncDir(join(this.staging, 'blobs'));
      await syncDir(this.staging);
    }
    try {
      await fsp.rename(this.staging, this.root);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        // Someone made the layout meanwhile: ours must not be read as blobs there.
        await fsp.rm(join(this.staging, 'index.json'), { force: true });
        await fsp.rm(join(this.staging, OCI_LAYOUT_FILE), { force: true });
        return false;
      }
      throw err;
    }
    forgetCleanup(this.staging);
    if (this.sync) await syncDir(dirname(this.root));
    return true;
  }

  /** Move the staged blobs into `blobsDir` (the layout's blobs/, or the shared blob directory). */
  private async moveStagedBlobs(blobsDir: string): Promise<void> {
    const algs = await fsp.readdir(join(this.staging, 'blobs'));
    for (const alg of algs) {
      const dir = join(this.staging, 'blobs', alg);
      const destDir = join(blobsDir, alg);
      await fsp.mkdir(destDir, { recursive: true });
      for (const name of await fsp.readdir(dir)) {
        if (name.endsWith('.tmp')) continue;
        const dest = join(destDir, name);
        // Content-addressed: an existing file of that name is the same content; keep it.
        if ((await regularFileSize(dest)) !== undefined) continue;
        try {
          await fsp.rename(join(dir, name), dest);
        } catch (err) {
          // A shared blob directory on another filesystem than the layout: copied, made durable, then named.
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          await placeAtomically(dest, (tmp) => fsp.copyFile(join(dir, name), tmp), { sync: this.sync });
        }
      }
      // The blobs' new names are durable before index.json names them (each file was synced when staged).
      if (this.sync) await syncDir(destDir);
    }
  }

  async close(): Promise<void> {
    await fsp.rm(this.staging, { recursive: true, force: true });
    forgetCleanup(this.staging);
  }
}
