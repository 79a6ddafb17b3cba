/** OciSource: reads one image (or index) from an OCI image layout directory. */
import { join } from 'node:path';
import { promises as fsp } from 'node:fs';
import { OcikitError, wrapError } from '../../errors.js';
import { parseDigest, shortDigest, verifyBytes, type Digest } from '../../digest/index.js';
import { MAX_MANIFEST_SIZE, type Descriptor } from '../../manifest/index.js';
import { readFileLimited, safeResolve } from '../fs-util.js';
import type { BlobInfo, BlobPayload, ImageReference, ImageSource, ManifestBlob } from '../types.js';
import { checkLayoutVersion, chooseFromLayout, layoutBlobPath, parseLayoutIndex, sharedBlobPath, type LayoutChoice, OCI_LAYOUT_FILE } from './layout.js';
import { layoutReferrers } from './referrers.js';

export class OciSource implements ImageSource {
  readonly properties = { concurrentGetBlob: 8, blobsAre: 'read' } as const;
  #referrers: Promise<Map<Digest, Descriptor[]>> | undefined;
  private constructor(
    readonly reference: ImageReference,
    private readonly root: string,
    private readonly choice: LayoutChoice,
    /** SystemContext.oci.sharedBlobDir: where the blobs are, instead of the layout's blobs/. */
    private readonly sharedBlobDir?: string,
  ) {}

  /** Open the layout at `root` and resolve the selection; errors name the layout. */
  static async open(reference: ImageReference, root: string, sel: { ref?: string; index?: number }, sharedBlobDir?: string): Promise<OciSource> {
    const where = `oci:${root}`;
    const st = await fsp.stat(root).catch((err) => {
      throw wrapError(err, `opening ${where}`);
    });
    if (!st.isDirectory()) throw new OcikitError('E_BAD_INPUT', `opening ${where}: not a directory`);
    const layoutFile = await readFileLimited(join(root, OCI_LAYOUT_FILE), 64 * 1024, `reading ${where}`).catch((err) => {
      if ((err as OcikitError).code === 'E_NOT_FOUND') {
        throw new OcikitError('E_NOT_FOUND', `opening ${where}: not an OCI layout (no oci-layout file)`);
      }
      throw err;
    });
    checkLayoutVersion(layoutFile, where);
    const indexPath = await safeResolve(root, 'index.json', `reading ${where}`);
    const indexBytes = await readFileLimited(indexPath, MAX_MANIFEST_SIZE, `reading ${where}/index.json`);
    const index = parseLayoutIndex(indexBytes, where);
    return new OciSource(reference, root, chooseFromLayout(index, indexBytes, sel, where), sharedBlobDir);
  }

  async getManifest(instance?: Digest): Promise<ManifestBlob> {
    if (instance === undefined) {
      if (this.choice.kind === 'synthetic-index') return { bytes: this.choice.bytes, mediaType: this.choice.mediaType };
      const d = this.choice.descriptor;
      const bytes = await this.readVerified(parseDigest(d.digest, 'index.json entry'), d.size, 'manifest');
      return { bytes, mediaType: d.mediaType ?? '' };
    }
    return { bytes: await this.readVerified(instance, -1, 'manifest'), mediaType: '' };
  }

  /** Referrers the layout lists for `subject` (referrers.ts: index.json entries), read once per source. */
  async listReferrers(subject: Digest): Promise<Descriptor[]> {
    this.#referrers ??= (async () => {
      const where = `oci:${this.root}`;
      const indexPath = await safeResolve(this.root, 'index.json', `reading ${where}`);
      const index = parseLayoutIndex(await readFileLimited(indexPath, MAX_MANIFEST_SIZE, `reading ${where}/index.json`), where);
      return layoutReferrers(index, (d, size) => this.readVerified(d, size, 'manifest'));
    })();
    return (await this.#referrers).get(subject) ?? [];
  }

  /** Where blob `d` is: in the layout (never outside it), or in the shared blob directory. */
  private blobPath(d: Digest, label: string): Promise<string> {
    if (this.sharedBlobDir !== undefined) return safeResolve(this.sharedBlobDir, sharedBlobPath(d), label);
    return safeResolve(this.root, layoutBlobPath(d), label);
  }

  private async readVerified(d: Digest, size: number, what: string): Promise<Buffer> {
    const label = `reading ${what} ${shortDigest(d)} from oci:${this.root}`;
    const p = await this.blobPath(d, label);
    const bytes = await readFileLimited(p, MAX_MANIFEST_SIZE, label);
    verifyBytes(bytes, { digest: d, size, what: label });
    return bytes;
  }

  async getBlob(info: BlobInfo): Promise<BlobPayload> {
    const label = `reading blob ${shortDigest(info.digest)} from oci:${this.root}`;
    const path = await this.blobPath(info.digest, label);
    const st = await fsp.stat(path).catch((err) => {
      throw wrapError(err, label);
    });
    if (!st.isFile()) throw new OcikitError('E_BAD_INPUT', `${label}: not a regular file`);
    return { kind: 'path', path, size: st.size };
  }

  async close(): Promise<void> {}
}
