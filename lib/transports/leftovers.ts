/**
 * What a writer killed with SIGKILL (or by a power loss) leaves next to a destination: a staging
 * directory (`.NAME.ocikit-PID-RAND`), a temp file (`NAME.PID.THREAD.RAND.tmp`). None of it is
 * ever part of a destination (commit makes things visible by rename), but none of it should stay
 * either: the next writer of the same destination removes what a dead process left, before it
 * starts. A name carrying a live pid belongs to a writer at work and is never touched.
 */
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { processAlive, stagingWriter, tempWriter } from '../fs/durable.js';

/** The writer's pid in `.NAME.ocikit-PID-RAND` (staging directories) and `NAME.PID.THREAD.RAND.tmp` (temp files), as lib/fs/durable.ts names them. */
function leftoverPid(entry: string, base: string): number | undefined {
  const staging = stagingWriter(entry, base);
  if (staging !== undefined) return staging;
  const temp = tempWriter(entry);
  return temp?.final === base ? temp.pid : undefined;
}

/**
 * Remove the leftovers of dead writers of `target` (a path whose parent directory holds them),
 * and, when `within` is given, of the files written inside it (`index.json`, `oci-layout`, ...).
 * Never fails: a leftover that cannot be removed is left for the next one.
 */
export async function sweepLeftovers(target: string, within: string[] = []): Promise<void> {
  await sweepIn(dirname(target), basename(target));
  for (const name of within) await sweepIn(target, name);
}

async function sweepIn(dir: string, base: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fsp.readdir(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const pid = leftoverPid(e, base);
    if (pid === undefined || pid === process.pid || processAlive(pid)) continue;
    await fsp.rm(join(dir, e), { recursive: true, force: true }).catch(() => undefined);
  }
}
