/**
 * What a destination reports when it cannot write: never "not found".
 *
 * skopeo's exit code 2 means "the image was not found", which only a source can be. A destination
 * meets ENOENT for other reasons (a missing parent directory, /proc refusing a file, a registry
 * answering 404 to an upload) and those must exit 1 with the OS's or the registry's reason. Every
 * transport makes its destinations through `guardDestination`, so the rule holds for each method of
 * every destination, whoever writes its internals.
 */
import { OcikitError, isOcikitError, wrapWriteError } from '../errors.js';
import type { ImageDestination, ImageReference } from './types.js';

/** `err` as a destination's failure: E_NOT_FOUND becomes E_IO (same message); a bare OS error gets `where` as context. */
export function asWriteError(err: unknown, where: string): unknown {
  if (isOcikitError(err, 'E_NOT_FOUND')) {
    const e = err;
    return new OcikitError('E_IO', e.message, { cause: err, ...(e.hint !== undefined ? { hint: e.hint } : {}) });
  }
  if (isOcikitError(err) || (err as { name?: unknown })?.name === 'AbortError') return err;
  if (typeof (err as NodeJS.ErrnoException)?.code === 'string') return wrapWriteError(err, `writing ${where}`);
  return err;
}

/**
 * Open a destination with `open` and return it with every method's failure passed through
 * asWriteError. The destination itself is returned behind a Proxy: its own fields and any optional
 * method it has (or gains later) stay visible, and `instanceof` still holds.
 */
export async function guardDestination(ref: ImageReference, open: () => Promise<ImageDestination>): Promise<ImageDestination> {
  const where = ref.toString();
  let dest: ImageDestination;
  try {
    dest = await open();
  } catch (err) {
    throw asWriteError(err, where);
  }
  return new Proxy(dest, {
    get(target, key, receiver) {
      const v: unknown = Reflect.get(target, key, receiver);
      if (typeof v !== 'function' || key === 'constructor') return v;
      // Called on the target itself, so private (#) fields keep working.
      return (...args: unknown[]): unknown => {
        let r: unknown;
        try {
          r = (v as (...a: unknown[]) => unknown).apply(target, args);
        } catch (err) {
          throw asWriteError(err, where);
        }
        return r instanceof Promise ? r.catch((err: unknown) => Promise.reject(asWriteError(err, where))) : r;
      };
    },
  });
}
