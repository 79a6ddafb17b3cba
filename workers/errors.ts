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

/** Codes the worker maps system errors to; anything else is E_IO. */
const ERRNO_CODES: Record<string, string> = { ENOENT: 'E_NOT_FOUND', EEXIST: 'E_IO', ENOSPC: 'E_IO', EACCES: 'E_IO' };

/**
 * The reply for a thrown value. `badInput` names what a codec error means ("not valid gzip data"):
 * zlib and zstd errors are about the bytes, not the machine, so they become E_BAD_INPUT.
 */
export function errorReply(err: unknown, context: string, badInput?: string): JobReply<never> {
  if (err instanceof JobError || isOcikitError(err)) return { ok: false, code: (err as { code: string }).code, message: `${context}: ${(err as Error).message}` };
  const e = err as NodeJS.ErrnoException | undefined;
  const msg = e instanceof Error ? e.message : String(err);
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code && e?.syscall) return { ok: false, code: ERRNO_CODES[code] ?? 'E_IO', message: `${context}: ${msg}` };
  if (badInput && (code === undefined || code.startsWith('Z_') || code === 'ERR_ZLIB_INITIALIZATION_FAILED' || !e?.syscall)) {
    return { ok: false, code: 'E_BAD_INPUT', message: `${context}: ${badInput} (${msg})` };
  }
  return { ok: false, code: 'E_WORKER', message: `${context}: ${msg}` };
}
