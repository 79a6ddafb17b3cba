/** DirSource: reads an image from a dir: directory as skopeo writes it (manifest.json, blobs named by hex). */
import { join } from 'node:path';
import { promises as fsp } from 'node:fs';
import { OcikitError, wrapError } from '../../errors.js';
import { shortDigest, verifyBytes, type Digest } from '../../digest/index.js';
import { MAX_MANIFEST_SIZE } from '../../manifest/index.js';
import { readFileLimited, safeResolve } from '../fs-util.js';
import type { BlobInfo, BlobPayload, ImageReference, ImageSource, ManifestBlob } from '../types.js';
import { blobFileName, manifestFileName, signatureFileName } from './names.js';

export class DirSource implements ImageSource {
  readonly properties = { concurrentGetBlob: 8 };
  private constructor(
    readonly reference: ImageReference,
    private readonly root: string,
  ) {}

  static async open(reference: ImageReference, root: string): Promise<DirSource> {
    const st = await fsp.stat(root).catch((err) => {
      throw wrapError(err, `opening dir:${root}`);
    });
    if (!st.isDirectory()) throw new OcikitError('E_BAD_INPUT', `opening dir:${root}: not a directory`);
    return new DirSource(reference, root);
  }

  async getManifest(instance?: Digest): Promise<ManifestBlob> {
    const label = `reading manifest${instance ? ' ' + shortDigest(instance) : ''} from dir:${this.root}`;
    const p = await safeResolve(this.root, manifestFileName(instance), label);
    const bytes = await readFileLimited(p, MAX_MANIFEST_SIZE, label);
    if (instance) verifyBytes(bytes, { digest: instance, what: label });
    return { bytes, mediaType: '' };
  }

  async getBlob(info: BlobInfo): Promise<BlobPayload> {
    const label = `reading blob ${shortDigest(info.digest)} from dir:${this.root}`;
    const path = await safeResolve(this.root, blobFileName(info.digest), label);
    const st = await fsp.stat(path).catch((err) => {
      throw wrapError(err, label);
    });
    if (!st.isFile()) throw new OcikitError('E_BAD_INPUT', `${label}: not a regular file`);
    return { kind: 'path', path, size: st.size };
  }

  async getSignatures(instance?: Digest): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (let i = 1; ; i++) {
      const p = join(this.root, signatureFileName(i, instance));
      const data = await fsp.readFile(p).catch(() => undefined);
      if (!data) return out;
      out.push(data);
    }
  }

  async close(): Promise<void> {}
}
