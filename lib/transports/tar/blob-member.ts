/**
 * Writing blobs as `blobs/<alg>/<hex>` members of an archive being built (oci-archive: and
 * docker-archive: destinations share this).
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { OcikitError } from '../../errors.js';
import { algorithmOf, type Digest } from '../../digest/index.js';
import type { BlobStore } from '../../store/index.js';
import type { BlobInfo, BlobInput } from '../types.js';
import { blobMemberName } from './names.js';
import type { TarWriter } from './writer.js';

/**
 * Append the blob as a tar member and return its member name and size.
 * A stream input is verified into the store first: a tar member cannot be taken back once written,
 * and putBlob MUST keep nothing of a blob that does not match. A path input is the store's verified file.
 */
export async function writeBlobMember(writer: TarWriter, input: BlobInput, info: BlobInfo, store: BlobStore | undefined, where: string): Promise<{ name: string; size: number }> {
  let path: string;
  let size: number;
  if (input.kind === 'path') {
    path = input.path;
    size = info.size >= 0 ? info.size : (await fsp.stat(path)).size;
  } else {
    if (!store) throw new OcikitError('E_INTERNAL', `writing ${where}: a stream input needs the blob store`);
    const res = await store.put(input.stream, { digest: info.digest, size: info.size, what: `blob for ${where}` });
    path = res.path;
    size = res.size;
  }
  const name = blobMemberName(info.digest);
  await writer.addDirectory('blobs');
  await writer.addDirectory(`blobs/${algorithmOf(info.digest)}`);
  await writer.addStream(name, size, () => createReadStream(path, { highWaterMark: 1 << 20 }));
  return { name, size };
}

/**
 * Run `write` for a digest once: a second put of the same digest while the first is in flight waits
 * for it; one already written (`done`) returns at once.
 */
export async function writeOnce(pending: Map<Digest, Promise<void>>, d: Digest, done: () => boolean, write: () => Promise<void>): Promise<void> {
  const inFlight = pending.get(d);
  if (inFlight) return inFlight;
  if (done()) return;
  const p = write();
  pending.set(d, p);
  try {
    await p;
  } finally {
    pending.delete(d);
  }
}
