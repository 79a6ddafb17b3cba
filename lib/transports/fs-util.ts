/**
 * Filesystem helpers shared by the file-based transports (dir:, oci:, the archives): reading
 * untrusted files with a size limit and inside a root, and a lock file for read-modify-write of a
 * shared file. Writing files durably (temp names, atomic writes, fsync, staging) is lib/fs/durable.ts.
 */
import { constants as fsc, promises as fsp } from 'node:fs';
import { dirname, join, relative, isAbsolute, sep, resolve } from 'node:path';
import { OcikitError, quoteUntrusted, wrapError, wrapWriteError } from '../errors.js';
import { processAlive } from '../fs/durable.js';

/** True when `child` is `root` or inside it (both absolute, already resolved). */
export function isInside(root: string, child: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/**
 * Resolve `rel` under `root` and make sure the result, with every symlink followed, stays inside
 * `root`. Throws E_BAD_INPUT for `..`, absolute paths and links that escape; E_NOT_FOUND when absent.
 */
export async function safeResolve(root: string, rel: string, what: string): Promise<string> {
  if (isAbsolute(rel) || rel.split(/[\\/]/).includes('..')) {
    throw new OcikitError('E_BAD_INPUT', `${what}: path ${quoteUntrusted(rel)} escapes ${root}`);
  }
  const realRoot = await fsp.realpath(root).catch((err) => {
    throw wrapError(err, `opening ${root}`);
  });
  const joined = join(realRoot, rel);
  let real: string;
  try {
    real = await fsp.realpath(joined);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      // A dangling symlink is as hostile as an escaping one when it points outside.
      const link = await fsp.readlink(joined).catch(() => undefined);
      if (link !== undefined && !isInside(realRoot, resolve(dirname(joined), link))) {
        throw new OcikitError('E_BAD_INPUT', `${what}: ${rel} is a symlink escaping ${root}`);
      }
    }
    throw wrapError(err, what);
  }
  if (!isInside(realRoot, real)) {
    throw new OcikitError('E_BAD_INPUT', `${what}: ${rel} is a symlink escaping ${root}`);
  }
  return real;
}

/**
 * Read a whole small file (a manifest, an index) refusing more than `max` bytes before reading it:
 * E_MANIFEST_TOO_BIG when larger, E_BAD_INPUT when it is not a regular file, and the wrapped OS
 * error otherwise (E_NOT_FOUND when absent). Messages start with `what`.
 */
export async function readFileLimited(path: string, max: number, what: string): Promise<Buffer> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(path, fsc.O_RDONLY);
    const st = await fh.stat();
    if (!st.isFile()) throw new OcikitError('E_BAD_INPUT', `${what}: ${path} is not a regular file`);
    if (st.size > max) {
      throw new OcikitError('E_MANIFEST_TOO_BIG', `${what}: ${path} is ${st.size} bytes, over the ${max}-byte limit`);
    }
    // Read at most max+1 bytes, in case the file grows while we read.
    const buf = Buffer.alloc(Math.min(st.size, max) + 1);
    let off = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
      if (off === buf.length) break;
    }
    if (off > max) throw new OcikitError('E_MANIFEST_TOO_BIG', `${what}: ${path} is over the ${max}-byte limit`);
    return buf.subarray(0, off);
  } catch (err) {
    throw wrapError(err, what);
  } finally {
    await fh?.close();
  }
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Exclusive lock file with retries, for read-modify-write of shared files (oci index.json). The
 * lock is created exclusively and its owner's pid written into it. A lock whose holder is dead is
 * taken over, and so is one naming nobody once it is a few seconds old: what a writer killed
 * between creating the lock and writing its pid leaves (a live writer writes its pid at once).
 * No hard link is involved, so this works on every filesystem an OCI layout may sit on (a USB
 * stick's FAT or exFAT included). Gives up with E_IO after `timeoutMs`, whatever happens in
 * between (a stale lock that keeps coming back included).
 */
export async function withLockFile<T>(lockPath: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    if (Date.now() - start > timeoutMs) {
      const holder = Number(await fsp.readFile(lockPath, 'utf8').catch(() => ''));
      throw new OcikitError('E_IO', `waiting for lock ${lockPath} held by pid ${holder || '?'}: gave up after ${Math.round(timeoutMs / 1000)} s`);
    }
    try {
      const fh = await fsp.open(lockPath, 'wx');
      try {
        await fh.writeFile(String(process.pid));
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw wrapWriteError(err, `locking ${lockPath}`);
      if (await staleLock(lockPath)) {
        await fsp.rm(lockPath, { force: true });
        continue;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(lockPath, { force: true });
  }
}

/** True when the lock at `lockPath` names a dead process, or names none and is a few seconds old. */
async function staleLock(lockPath: string): Promise<boolean> {
  const text = await fsp.readFile(lockPath, 'utf8').catch(() => undefined);
  if (text === undefined) return false; // gone already: the next attempt decides
  const pid = Number(text);
  if (Number.isInteger(pid) && pid > 0) return !processAlive(pid);
  const st = await fsp.stat(lockPath).catch(() => undefined);
  return st !== undefined && Date.now() - st.mtimeMs > 5_000;
}
