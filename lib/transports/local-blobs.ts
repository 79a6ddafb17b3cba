/**
 * Helpers for destinations that keep blobs as files (dir:, oci:): place a blob into a staging
 * directory from the store (by link) or from a stream (verified while written).
 */
import { promises as fsp } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { VerifyingStream, shortDigest } from '../digest/index.js';
import { linkOrCopy } from '../store/index.js';
import { OcikitError, wrapError } from '../errors.js';
import { placeAtomically } from '../fs/durable.js';
import type { BlobInfo, BlobInput } from './types.js';

/**
 * Write `input` to `dest` (which must not exist yet). A path input (the store's verified file) is
 * linked or copied; a stream input is verified against `info` while written.
 * MUST leave nothing at `dest` when it fails.
 */
export async function placeBlob(input: BlobInput, info: BlobInfo, dest: string, where: string, sync = true): Promise<void> {
  try {
    // Durable before visible: a link to a store file (synced when stored) costs a no-op fsync.
    await placeAtomically(
      dest,
      async (tmp) => {
        if (input.kind === 'path') {
          if (input.verify) throw new OcikitError('E_INTERNAL', `writing ${where}: an unverified file was handed to a destination that does not verify`);
          await linkOrCopy(input.path, tmp);
        } else {
          const v = new VerifyingStream({ digest: info.digest, size: info.size, what: `writing blob ${shortDigest(info.digest)} to ${where}` });
          await pipeline(input.stream, v, createWriteStream(tmp, { flags: 'wx' }));
        }
      },
      { sync },
    );
  } catch (err) {
    throw wrapError(err, `writing blob ${shortDigest(info.digest)} to ${where}`);
  }
}

/** Size of a regular file, or undefined when absent / not a regular file. */
export async function regularFileSize(path: string): Promise<number | undefined> {
  try {
    const st = await fsp.lstat(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}
