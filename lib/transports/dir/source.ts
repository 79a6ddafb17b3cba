/** DirSource: reads an image from a dir: directory as skopeo writes it (manifest.json, blobs named by hex). */
import { promises as fsp } from 'node:fs';
import { OcikitError, isOcikitError, quoteUntrusted, wrapError } from '../../errors.js';
import { shortDigest, verifyBytes, type Digest } from '../../digest/index.js';
import { MAX_MANIFEST_SIZE } from '../../manifest/index.js';
import { readFileLimited, safeResolve } from '../fs-util.js';
import type { BlobInfo, BlobPayload, ImageReference, ImageSource, ManifestBlob } from '../types.js';
import { DIR_VERSION_PREFIX, DIR_VERSIONS_READ, blobFileName, manifestFileName, signatureFileName } from './names.js';

/** Signatures per image a dir: source hands over, and the size of each: far above what signing produces. */
const MAX_SIGNATURES = 1000;
const MAX_SIGNATURE_SIZE = 4 * 1024 * 1024;

/**
 * Refuse a dir: image whose `version` file names a version ocikit does not read (E_UNSUPPORTED) or
 * is not a version file at all (E_BAD_INPUT). A missing version file is accepted, as skopeo does:
 * the manifest is what makes an image.
 */
async function checkVersion(root: string): Promise<void> {
  const label = `reading dir:${root}`;
  const p = await safeResolve(root, 'version', label).catch((err: unknown) => {
    if (isOcikitError(err, 'E_NOT_FOUND')) return undefined;
    throw err;
  });
  if (p === undefined) return;
  const text = (await readFileLimited(p, 1024, `${label}/version`)).toString('utf8');
  if (!text.startsWith(DIR_VERSION_PREFIX) || !text.endsWith('\n')) {
    throw new OcikitError('E_BAD_INPUT', `${label}: the version file is not a dir: transport version (${quoteUntrusted(text, 60)})`);
  }
  const version = text.slice(DIR_VERSION_PREFIX.length, -1);
  if (!DIR_VERSIONS_READ.includes(version)) {
    throw new OcikitError('E_UNSUPPORTED', `${label}: dir: transport version ${quoteUntrusted(version, 40)} is not one ocikit reads (${DIR_VERSIONS_READ.join(', ')})`, {
      hint: 'the directory was written by a newer tool; copy it with that tool into oci: or docker-archive:',
    });
  }
}

export class DirSource implements ImageSource {
  readonly properties = { concurrentGetBlob: 8, blobsAre: 'read' } as const;
  private constructor(
    readonly reference: ImageReference,
    private readonly root: string,
  ) {}

  static async open(reference: ImageReference, root: string): Promise<DirSource> {
    const st = await fsp.stat(root).catch((err) => {
      throw wrapError(err, `opening dir:${root}`);
    });
    if (!st.isDirectory()) throw new OcikitError('E_BAD_INPUT', `opening dir:${root}: not a directory`);
    await checkVersion(root);
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

  /** signature-1, signature-2, … until one is missing; each at most MAX_SIGNATURE_SIZE, at most MAX_SIGNATURES of them. */
  async getSignatures(instance?: Digest): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (let i = 1; i <= MAX_SIGNATURES + 1; i++) {
      const label = `reading signature ${i} from dir:${this.root}`;
      const p = await safeResolve(this.root, signatureFileName(i, instance), label).catch((err: unknown) => {
        if (isOcikitError(err, 'E_NOT_FOUND')) return undefined;
        throw err;
      });
      if (p === undefined) return out;
      if (i > MAX_SIGNATURES) throw new OcikitError('E_BAD_INPUT', `reading signatures from dir:${this.root}: more than ${MAX_SIGNATURES}`);
      out.push(await readFileLimited(p, MAX_SIGNATURE_SIZE, label));
    }
    return out;
  }

  async close(): Promise<void> {}
}
