/** Placing a file at a destination by reflink, hard link or copy, cheapest first. */
import { constants } from 'node:fs';
import { copyFile, link } from 'node:fs/promises';

/** How `linkOrCopy` placed the file. */
export type LinkMethod = 'reflink' | 'hardlink' | 'copy';

/** Errors meaning "this filesystem (pair) cannot do that", after which the next method is tried. */
const CANNOT_REFLINK = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY', 'EPERM']);
const CANNOT_HARDLINK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EACCES']);

/**
 * Create `dest` with the content of `src`: a reflink (copy-on-write clone) where the filesystem
 * supports it, else a hard link, else a plain copy (across filesystems, or where links are refused).
 *
 * `dest` MUST NOT exist: every method fails with EEXIST rather than replacing it, and the caller
 * (who stages destination files) decides what that means. The parent directory MUST exist.
 *
 * WARNING: a hard link shares the inode, so a later in-place write to `dest` also changes `src`.
 * Callers that own `src` (the blob store) must detect that; see BlobStore.stat.
 */
export async function linkOrCopy(src: string, dest: string): Promise<LinkMethod> {
  // COPYFILE_EXCL everywhere: never clobber an existing destination. On failure libuv removes
  // the destination it created itself, so a failed reflink leaves nothing behind.
  try {
    await copyFile(src, dest, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
    return 'reflink';
  } catch (err) {
    if (!CANNOT_REFLINK.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
  try {
    await link(src, dest);
    return 'hardlink';
  } catch (err) {
    if (!CANNOT_HARDLINK.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
  await copyFile(src, dest, constants.COPYFILE_EXCL);
  return 'copy';
}
