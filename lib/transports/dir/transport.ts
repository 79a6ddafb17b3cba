/** The dir: transport: `dir:PATH`, a directory of manifest.json and blobs named by hex (as skopeo). */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { digestBytes, type Digest } from '../../digest/index.js';
import { MAX_MANIFEST_SIZE, parseManifest, type Descriptor } from '../../manifest/index.js';
import { absolutePath, formatDirReference, parseDirReference } from '../../reference/index.js';
import { readFileLimited } from '../fs-util.js';
import { blobFileName, manifestFileName } from './names.js';
import { guardDestination } from '../write-errors.js';
import type { ImageDestination, ImageReference, ImageSource, ImageTransport, SystemContext } from '../types.js';

export class DirImageReference implements ImageReference {
  readonly transport = dirTransport;
  readonly withinTransport: string;
  readonly path: string;

  constructor(path: string) {
    this.path = absolutePath(path, process.cwd());
    this.withinTransport = formatDirReference({ path: this.path });
  }

  toString(): string {
    return `dir:${this.withinTransport}`;
  }

  async newSource(_ctx: SystemContext): Promise<ImageSource> {
    // Loaded on use, like every transport's source and destination: naming an image costs nothing more.
    const { DirSource } = await import('./source.js');
    return DirSource.open(this, this.path);
  }

  async newDestination(ctx: SystemContext): Promise<ImageDestination> {
    const { DirDestination } = await import('./destination.js');
    return guardDestination(this, () => DirDestination.open(this, this.path, ctx));
  }

  /**
   * The digest of manifest.json, when it and every blob it (and, for an index, each instance it
   * holds here) names are on disk with their sizes; else undefined.
   */
  async manifestDigest(_ctx: SystemContext): Promise<Digest | undefined> {
    const read = (instance?: Digest): Promise<Buffer | undefined> => readFileLimited(join(this.path, manifestFileName(instance)), MAX_MANIFEST_SIZE, `reading ${this}`).catch(() => undefined);
    const top = await read();
    if (!top) return undefined;
    const hasBlob = async (d: Descriptor): Promise<boolean> => {
      const st = await fsp.stat(join(this.path, blobFileName(d.digest))).catch(() => undefined);
      return !!st?.isFile() && st.size === d.size;
    };
    const complete = async (bytes: Buffer): Promise<boolean> => {
      let m;
      try {
        m = parseManifest(bytes);
      } catch {
        return false;
      }
      if (m.kind === 'oci-manifest' || m.kind === 'docker-v2s2') {
        for (const d of [m.value.config, ...m.value.layers]) if (!(await hasBlob(d))) return false;
        return true;
      }
      if (m.kind === 'oci-index' || m.kind === 'docker-list') {
        // A dir: image of an index holds only the instances that were copied: check those.
        for (const d of m.value.manifests as Descriptor[]) {
          const inst = await read(d.digest);
          if (inst && (digestBytes(inst) !== d.digest || !(await complete(inst)))) return false;
        }
        return true;
      }
      return false;
    };
    return (await complete(top)) ? digestBytes(top) : undefined;
  }
}

export const dirTransport: ImageTransport = {
  name: 'dir',
  parseReference: (within) => new DirImageReference(parseDirReference(within).path),
};
