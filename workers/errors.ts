/**
 * Turning anything a job throws into a reply. Workers never throw across the thread boundary
 * (an Error subclass arrives on the main thread as a plain Error without `code`); they reply
 * `{ok: false, code, message}` and the main thread rebuilds the OcikitError (lib/pool).
 */
import { isOcikitError } from '../lib/errors.js';
import type { JobReply } from './protocol.js';

/** An error a job raises on purpose, with the OcikitError code the main thread should rebuild. */
export class JobError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The reply for a thrown value, its message prefixed with `context` when there is one. A system
 * error (it has a syscall) is E_IO whatever its errno: inside a job, a missing or unwritable
 * file is a failure of the machine or of a path the main thread chose, never "image not found".
 * Anything else unexpected is E_WORKER.
 */
export function errorReply(err: unknown, context: string): JobReply<never> {
  const prefix = context ? `${context}: ` : '';
  if (err instanceof JobError || isOcikitError(err)) return { ok: false, code: (err as { code: string }).code, message: `${prefix}${(err as Error).message}` };
  const e = err as NodeJS.ErrnoException | undefined;
  const msg = e instanceof Error ? e.message : String(err);
  if (typeof e?.code === 'string' && e.syscall) return { ok: false, code: 'E_IO', message: `${prefix}${msg}` };
  return { ok: false, code: 'E_WORKER', message: `${prefix}${msg}` };
}
