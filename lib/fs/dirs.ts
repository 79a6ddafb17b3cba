/**
 * Creating directories with a bounded number of steps, for every layer of the library (the store,
 * auth files and the file transports all create directories the user names).
 *
 * Why not fs.mkdir(p, {recursive: true}): when the kernel answers ENOENT for a directory whose
 * parent exists (`mkdir /proc/x` as root; /sys likewise), Node's recursive mkdir goes back to the
 * parent, finds it there, and tries the child again, forever, at full CPU; the synchronous variant
 * also blocks signal handling, so only SIGKILL stops it. Measured: Node 20.20.2, 22.23.5 and
 * 24.22.3 spin (async and sync); 26.12.1 returns ENOENT. Here each missing level is created once,
 * walking up at most once per path component, and a level that still fails is reported with its
 * OS reason. Errors are E_IO (never E_NOT_FOUND: creating a directory is a write), naming it.
 */
import { mkdirSync, statSync, promises as fsp } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { OcikitError, wrapWriteError } from '../errors.js';

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException)?.code;

/** Create `dir` and any missing parents (`mkdir -p`); `mode` applies to the levels created. */
export async function ensureDir(dir: string, mode?: number): Promise<void> {
  const what = `creating directory ${dir}`;
  const missing: string[] = [];
  let p = resolve(dir);
  // Bounded: each pass moves one level up, and the root (dirname(p) === p) ends the walk.
  for (;;) {
    try {
      await fsp.mkdir(p, mode);
      break;
    } catch (err) {
      if (code(err) === 'EEXIST') {
        const st = await fsp.stat(p).catch((e: unknown) => {
          throw wrapWriteError(e, what);
        });
        if (!st.isDirectory()) throw new OcikitError('E_IO', `${what}: ${p} exists and is not a directory`);
        break;
      }
      if (code(err) !== 'ENOENT' || dirname(p) === p) throw wrapWriteError(err, what);
      missing.push(p);
      p = dirname(p);
    }
  }
  // Each missing level once, top down. EEXIST: another process made it meanwhile, which is fine.
  for (const m of missing.reverse()) {
    try {
      await fsp.mkdir(m, mode);
    } catch (err) {
      if (code(err) === 'EEXIST' && (await fsp.stat(m).catch(() => undefined))?.isDirectory()) continue;
      throw wrapWriteError(err, what);
    }
  }
}

/** The synchronous ensureDir, for code that must not yield (opening the store). */
export function ensureDirSync(dir: string, mode?: number): void {
  const what = `creating directory ${dir}`;
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    try {
      mkdirSync(p, mode);
      break;
    } catch (err) {
      if (code(err) === 'EEXIST') {
        let isDir: boolean;
        try {
          isDir = statSync(p).isDirectory();
        } catch (e) {
          throw wrapWriteError(e, what);
        }
        if (!isDir) throw new OcikitError('E_IO', `${what}: ${p} exists and is not a directory`);
        break;
      }
      if (code(err) !== 'ENOENT' || dirname(p) === p) throw wrapWriteError(err, what);
      missing.push(p);
      p = dirname(p);
    }
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m, mode);
    } catch (err) {
      if (code(err) === 'EEXIST' && statSync(m, { throwIfNoEntry: false })?.isDirectory()) continue;
      throw wrapWriteError(err, what);
    }
  }
}
