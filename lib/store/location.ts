/** Where the blob store lives when the caller does not say. */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * The default store directory: `$OCIKIT_STORE`, else `$XDG_DATA_HOME/ocikit`, else
 * `~/.local/share/ocikit`. The result is always absolute.
 *
 * A relative `$XDG_DATA_HOME` is ignored, as the XDG base-directory spec requires; a relative
 * `$OCIKIT_STORE` is resolved against the current directory (the user said it explicitly).
 */
export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.OCIKIT_STORE;
  if (explicit) return resolve(explicit);
  const xdg = env.XDG_DATA_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'ocikit');
  const home = env.HOME || homedir();
  return join(home, '.local', 'share', 'ocikit');
}
