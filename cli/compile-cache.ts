/**
 * Node's on-disk compile cache (module.enableCompileCache, Node 22.1+) for the CLI: modules loaded
 * after the call, such as undici, piscina and better-sqlite3's JavaScript, which ocikit loads on first
 * use, are compiled once and taken from the cache on later runs. Where Node has no such function
 * (Node 20) nothing happens and modules compile as before; a cache that cannot be made never fails a
 * command. The user's NODE_COMPILE_CACHE (Node enables it itself) and NODE_DISABLE_COMPILE_CACHE win.
 */
import module from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ensureDirSync } from '../lib/fs/dirs.js';

type EnableCompileCache = (dir?: string) => unknown;

/** Enable the compile cache in $XDG_CACHE_HOME/ocikit/node-compile-cache (else ~/.cache/...); returns the directory, or undefined when not enabled. */
export function enableCompileCache(env: NodeJS.ProcessEnv = process.env): string | undefined {
  // @types/node 20 does not declare it (Node 22.1+): read it as the optional member it is.
  const enable = (module as { enableCompileCache?: EnableCompileCache }).enableCompileCache;
  if (typeof enable !== 'function' || env.NODE_DISABLE_COMPILE_CACHE || env.NODE_COMPILE_CACHE) return undefined;
  const dir = join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ocikit', 'node-compile-cache');
  try {
    // Made here, with a bounded mkdir: Node's own recursive mkdir spins forever under /proc (lib/fs/dirs.ts).
    ensureDirSync(dir);
    enable(dir);
    return dir;
  } catch {
    return undefined;
  }
}
