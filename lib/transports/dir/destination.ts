/**
 * DirDestination: writes an image as a dir: directory. Everything is written to a staging directory
 * next to the target; commit() swaps it into place, so a failed copy leaves the target as it was.
 * As containers/image: a non-empty target without a `version` file is refused, not overwritten.
 */
import { join, dirname } from 'node:path';
import { promises as fsp } from 'node:fs';
import { OcikitError, wrapError } from '../../errors.js';
import { type Digest } from '../../digest/index.js';
import { DOCKER_LIST, DOCKER_V2S2_MANIFEST, OCI_INDEX, OCI_MANIFEST } from '../../manifest/index.js';
import { ensureDir } from '../../fs/dirs.js';
import { atomicWriteFile, cleanupOnExit, forgetCleanup, makeStagingDir, syncDir } from '../../fs/durable.js';
import { pathExists } from '../fs-util.js';
import { placeBlob, regularFileSize } from '../local-blobs.js';
import { sweepLeftovers } from '../leftovers.js';
import type { BlobInfo, BlobInput, DesiredCompression, ImageDestination, ImageReference, ManifestBlob, SystemContext } from '../types.js';
import { DIR_VERSION, blobFileName, manifestFileName, signatureFileName } from './names.js';

export class DirDestination implements ImageDestination {
  readonly properties;
  private wroteManifest = false;
  private readonly sync: boolean;

  private constructor(
    readonly reference: ImageReference,
    private readonly root: string,
    private readonly staging: string,
    private readonly existed: boolean,
    desiredCompression: DesiredCompression,
    noSync: boolean,
  ) {
    this.sync = !noSync;
    this.properties = {
      supportedManifestTypes: [OCI_MANIFEST, DOCKER_V2S2_MANIFEST, OCI_INDEX, DOCKER_LIST],
      desiredCompression,
      concurrentPutBlob: 8,
      supportsIndex: true,
      acceptsForeignLayers: true,
      verifiesWhileWriting: false,
    };
  }

  static async open(reference: ImageReference, root: string, ctx: SystemContext): Promise<DirDestination> {
    const where = `dir:${root}`;
    const st = await fsp.stat(root).catch(() => undefined);
    let existed = false;
    if (st) {
      if (!st.isDirectory()) throw new OcikitError('E_CONFLICT', `opening ${where}: exists and is not a directory`);
      const entries = await fsp.readdir(root);
      if (entries.length > 0) {
        if (!entries.includes('version')) {
          throw new OcikitError('E_CONFLICT', `opening ${where}: directory is not empty and is not a dir: image (no version file); refusing to overwrite it`);
        }
        const v = await fsp.readFile(join(root, 'version'), 'utf8').catch(() => '');
        if (!v.startsWith('Directory Transport Version:')) {
          throw new OcikitError('E_CONFLICT', `opening ${where}: unrecognised version file; refusing to overwrite it`);
        }
      }
      existed = true;
    } else {
      await ensureDir(dirname(root)); // HARDEN(issue 9, bug 2): bounded mkdir -p, see lib/fs/dirs.ts
    }
    await sweepLeftovers(root);
    const staging = await makeStagingDir(root);
    const desired: DesiredCompression = ctx.write?.destCompression ?? 'preserve';
    return new DirDestination(reference, root, staging, existed, desired, ctx.write?.noSync === true);
  }

  private where(): string {
    return `dir:${this.root}`;
  }

  async tryReusingBlob(info: BlobInfo): Promise<BlobInfo | undefined> {
    const name = blobFileName(info.digest);
    const staged = await regularFileSize(join(this.staging, name));
    if (staged !== undefined) return { ...info, size: staged };
    if (this.existed) {
      // The old image is replaced whole at commit; a blob it already has is linked across, not rewritten.
      const old = join(this.root, name);
      const size = await regularFileSize(old);
      if (size !== undefined && (info.size < 0 || size === info.size)) {
        try {
          await fsp.link(old, join(this.staging, name));
          return { ...info, size };
        } catch {
          return undefined;
        }
      }
    }
    return undefined;
  }

  async putBlob(input: BlobInput, info: BlobInfo): Promise<BlobInfo> {
    const dest = join(this.staging, blobFileName(info.digest));
    if ((await regularFileSize(dest)) !== undefined) return info;
    await placeBlob(input, info, dest, this.where(), this.sync);
    return info;
  }

  async putManifest(m: ManifestBlob, instance?: Digest): Promise<void> {
    await atomicWriteFile(join(this.staging, manifestFileName(instance)), m.bytes, { sync: this.sync });
    if (instance === undefined) this.wroteManifest = true;
  }

  async putSignatures(signatures: Buffer[], instance?: Digest): Promise<void> {
    for (let i = 0; i < signatures.length; i++) {
      await atomicWriteFile(join(this.staging, signatureFileName(i + 1, instance)), signatures[i]!, { sync: this.sync });
    }
  }

  async commit(): Promise<void> {
    if (!this.wroteManifest) throw new OcikitError('E_INTERNAL', `committing ${this.where()}: no manifest was written`);
    try {
      await atomicWriteFile(join(this.staging, 'version'), DIR_VERSION, { sync: this.sync });
      // Every file in the staging directory was synced as it was written; now its entries.
      if (this.sync) await syncDir(this.staging);
      // Swap: old aside, staging in, old removed. Between the two renames the path is briefly absent,
      // never half-written.
      let old: string | undefined;
      if (await pathExists(this.root)) {
        old = `${this.staging}.old`;
        await fsp.rename(this.root, old);
      }
      try {
        forgetCleanup(this.staging);
        await fsp.rename(this.staging, this.root);
        if (this.sync) await syncDir(dirname(this.root));
      } catch (err) {
        cleanupOnExit(this.staging);
        if (old) await fsp.rename(old, this.root).catch(() => undefined);
        throw err;
      }
      if (old) await fsp.rm(old, { recursive: true, force: true });
    } catch (err) {
      throw wrapError(err, `committing ${this.where()}`);
    }
  }

  async close(): Promise<void> {
    await fsp.rm(this.staging, { recursive: true, force: true });
    forgetCleanup(this.staging);
  }
}
