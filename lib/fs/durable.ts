/**
 * Durable file writing, written once for every layer that puts files on disk (the store, the file
 * transports, auth files, bundles, the CLI's key and signature files): temp names, atomic writes,
 * fsync of a file and of its directory, staging directories, and cleaning up after a writer that
 * died. Below lib/store and lib/transports in the import order; it imports only lib/errors and
 * lib/lazy.
 *
 * THE RULES every writer here follows:
 * - A file becomes visible under its name only whole: it is written under a temp name next to its
 *   final name (same directory, so same filesystem) and renamed — or, to refuse replacing an
 *   existing file, hard-linked — into place. The temp file is removed on every failure.
 * - Before that rename, the file's data is fsynced (unless the caller was told not to: --no-sync),
 *   so that after a crash the name holds the old content or all of the new, never a hole. When the
 *   rename itself must survive a crash, the directory is fsynced after it (`syncDir`).
 * - Temp names and staging directories carry the writer's pid, so the next writer (or store gc)
 *   can tell a dead writer's leftovers from a live one's work in progress: `tempWriter` and
 *   `stagingWriter` read the pid back, `processAlive` asks whether it still runs.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OcikitError, wrapWriteError } from '../errors.js';
import { threadId } from '../lazy.js';

// ---------------------------------------------------------------------------------------------
// Temp names

const TEMP_NAME = /^(.*)\.(\d+)\.(\d+)\.([0-9a-f]+)\.tmp$/;

/** A unique temp name next to `final`: `<final>.<pid>.<threadId>.<random>.tmp`. */
export function tempNameFor(final: string): string {
  return `${final}.${process.pid}.${threadId()}.${randomBytes(4).toString('hex')}.tmp`;
}

/**
 * What a name `tempNameFor` made tells: the final name's base name and the writer's pid; undefined
 * for any other name.
 */
export function tempWriter(name: string): { final: string; pid: number } | undefined {
  const m = TEMP_NAME.exec(basename(name));
  return m ? { final: m[1]!, pid: Number(m[2]) } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Staging directories

/**
 * A staging directory next to `target`, on the same filesystem so that the final step is a rename:
 * `.<name>.ocikit-<pid>-<random>`. It is removed at process exit unless the caller renames it away
 * and calls forgetCleanup(). Errors are E_IO with the OS reason (the parent cannot be written, does
 * not exist, ...).
 */
export async function makeStagingDir(target: string): Promise<string> {
  const dir = join(dirname(target), `.${basename(target)}.ocikit-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await fsp.mkdir(dir);
  } catch (err) {
    throw wrapWriteError(err, `creating a staging directory next to ${target}`);
  }
  cleanupOnExit(dir);
  return dir;
}

/**
 * The pid of the writer whose staging directory for `target`'s base name `base` is `entry` (as
 * makeStagingDir names it, or that name + `.old`: the previous content set aside while the staged
 * one is renamed in); undefined for any other name.
 */
export function stagingWriter(entry: string, base: string): number | undefined {
  const prefix = `.${base}.ocikit-`;
  if (!entry.startsWith(prefix)) return undefined;
  const m = /^(\d+)-[0-9a-f]+(\.old)?$/.exec(entry.slice(prefix.length));
  return m ? Number(m[1]) : undefined;
}

const pendingCleanup = new Set<string>();
/** Directories whose temp files written by this process are removed at exit (sweepOwnTempsOnExit). */
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of pendingCleanup) rmSync(p, { recursive: true, force: true });
    for (const d of tempDirs) removeOwnTemps(d);
  });
}

/** Remove the temp files (tempNameFor's names) in `dir` that carry this process's pid. */
function removeOwnTemps(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (tempWriter(n)?.pid === process.pid) rmSync(join(dir, n), { force: true });
}

/**
 * At process exit (normal, or process.exit from a SIGINT/SIGTERM handler), remove the temp files
 * this process left in `dir`: the blob store's tmp directory, where workers write blobs as they
 * copy them. Whatever is interrupted, the next run finds no half-written file of ours there.
 * Files of other (live) processes are not touched: each name carries its writer's pid.
 */
export function sweepOwnTempsOnExit(dir: string): void {
  tempDirs.add(dir);
  installExitHook();
}

/**
 * Remove `path` when the process exits (normally, or through process.exit from a signal handler)
 * unless forgetCleanup() is called first: an interrupted write leaves no temp file or staging
 * directory behind.
 */
export function cleanupOnExit(path: string): void {
  pendingCleanup.add(path);
  installExitHook();
}

export function forgetCleanup(path: string): void {
  pendingCleanup.delete(path);
}

/** Whether process `pid` runs (EPERM: it does, as another user's). A pid that is not a positive integer runs nowhere. */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------
// fsync

/** fsync a file by path: its data and size reach the disk before a rename makes it visible. */
export function syncFile(path: string): Promise<void> {
  return fsyncPath(path);
}

/** fsync a directory, so that the renames and links in it survive a power loss. */
export function syncDir(dir: string): Promise<void> {
  return fsyncPath(dir);
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await fsp.open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/** How a file is written: see the module's rules. */
export interface WriteOptions {
  /** The new file's mode (default 0o644), filtered by the umask unless `exactMode`. */
  mode?: number;
  /** Set `mode` outright, whatever the umask (a file that must be private: 0o600). */
  exactMode?: boolean;
  /** fsync the file before it gets its name (default true; false is --no-sync). */
  sync?: boolean;
  /** Also fsync the directory after the rename, so that the new name itself survives a crash (default false). */
  syncDir?: boolean;
}

/**
 * Create `path`, which MUST NOT exist (a temp name), holding `data`; fsync it unless
 * `opts.sync === false`. Errors are the OS's (the caller wraps them, naming what it writes).
 */
export async function writeNewFile(path: string, data: Uint8Array | string, opts: WriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o644;
  const fh = await fsp.open(path, 'wx', mode);
  try {
    // open's mode is filtered by the umask; an exact mode is set outright.
    if (opts.exactMode) await fh.chmod(mode);
    await fh.writeFile(data);
    if (opts.sync !== false) await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Write `path` atomically (temp name, write, fsync, rename; the directory fsynced too with
 * `syncDir`): a reader sees the old file or the whole new one, and after a crash the name holds one
 * of the two. The temp file is removed on failure. Errors are E_IO "writing PATH: …" with the OS's
 * reason.
 */
export async function atomicWriteFile(path: string, data: Uint8Array | string, opts: WriteOptions = {}): Promise<void> {
  try {
    // Synced through the handle that wrote it, not reopened.
    await placeAtomically(path, (tmp) => writeNewFile(tmp, data, opts), { sync: false, syncDir: opts.syncDir });
  } catch (err) {
    throw wrapWriteError(err, `writing ${path}`);
  }
}

/**
 * Make `final` appear whole: `fill(tmp)` creates the temp file next to it (by writing, linking or
 * copying), then it is fsynced (unless `sync: false`), renamed onto `final` (replacing it), and with
 * `syncDir` the directory is fsynced. The temp file is removed on failure, and the error is
 * rethrown as it came (the caller names what it was writing).
 */
export async function placeAtomically(final: string, fill: (tmp: string) => Promise<void>, opts: Pick<WriteOptions, 'sync' | 'syncDir'> = {}): Promise<void> {
  const tmp = tempNameFor(final);
  // An interrupted process (SIGINT, SIGTERM) removes it too.
  cleanupOnExit(tmp);
  try {
    await fill(tmp);
    if (opts.sync !== false) await syncFile(tmp);
    await fsp.rename(tmp, final);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  } finally {
    forgetCleanup(tmp);
  }
  if (opts.syncDir) await syncDir(dirname(final));
}

/**
 * Create `path` holding `data`, never replacing an existing file: written and fsynced under a temp
 * name, then hard-linked into place (the link fails when the name exists: E_CONFLICT), and the
 * directory fsynced. The file appears whole or not at all; the temp name is always removed.
 */
export async function createNewFile(path: string, data: Uint8Array | string, opts: Pick<WriteOptions, 'mode' | 'exactMode'> = {}): Promise<void> {
  const tmp = tempNameFor(path);
  cleanupOnExit(tmp);
  try {
    await writeNewFile(tmp, data, opts);
    await fsp.link(tmp, path);
    await syncDir(dirname(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new OcikitError('E_CONFLICT', `writing ${path}: refusing to overwrite an existing file`);
    throw wrapWriteError(err, `writing ${path}`);
  } finally {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    forgetCleanup(tmp);
  }
}
