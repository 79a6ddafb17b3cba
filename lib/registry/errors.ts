/**
 * Registry answers as OcikitErrors. The distribution API reports failures as
 *   {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "…", "detail": …}]}
 * (distribution-spec, "Error Codes"); the code and message are kept, the detail is not (it is
 * free-form and may echo the request).
 *
 * WARNING: the body comes from an untrusted server; it is read capped, stripped of control
 * characters and shortened before it reaches a message.
 */
import { credentialsHint } from '../auth/token.js';
import { OcikitError, type ErrorCode } from '../errors.js';
import { http } from '../lazy.js';

/** The reason phrase of an HTTP status ("Not Found"); node:http is loaded only for an error that needs it. */
function statusText(status: number): string | undefined {
  return http().STATUS_CODES[status];
}

/** An OcikitError that also says what the registry answered and whether trying again may help. */
export class RegistryError extends OcikitError {
  /** The HTTP status, when the registry answered at all. */
  readonly status: number | undefined;
  /** The first distribution error code of the body ("BLOB_UNKNOWN"), if any. */
  readonly registryCode: string | undefined;
  /** Whether the same operation may succeed if repeated (resets, 5xx, 429). */
  readonly retryable: boolean;
  /** The wait the registry asked for (Retry-After), when it asked; retry.ts decides what to do with it. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, opts: { status?: number; registryCode?: string; retryable?: boolean; retryAfterMs?: number; hint?: string; cause?: unknown } = {}) {
    super(code, message, { ...(opts.hint !== undefined ? { hint: opts.hint } : {}), ...(opts.cause !== undefined ? { cause: opts.cause } : {}) });
    this.status = opts.status;
    this.registryCode = opts.registryCode;
    this.retryable = opts.retryable ?? false;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Whether `err` is a RegistryError marked retryable. */
export function isRetryable(err: unknown): boolean {
  return err instanceof RegistryError && err.retryable;
}

/** Make untrusted text safe to print: no control characters, at most `max` characters. */
export function sanitize(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const s = text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** The first error of a distribution error body, if the body is one. */
export function parseErrorBody(text: string): { code?: string; message?: string } {
  try {
    const v = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const e = Array.isArray(v?.errors) ? v.errors[0] : undefined;
    if (!e || typeof e !== 'object') return {};
    return {
      ...(typeof e.code === 'string' ? { code: sanitize(e.code, 64) } : {}),
      ...(typeof e.message === 'string' ? { message: sanitize(e.message) } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * The error for a registry answer that the caller did not expect. `what` says what was being done
 * ("pushing blob sha256:ab12… to docker://host/repo"); `hadCredentials` picks the wording of a 401,
 * whose hint names `credsFlag`, the flag that gives credentials in the command at hand
 * ("--src-creds" for a copy's source; "" where there is none: login).
 */
export function errorForStatus(status: number, bodyText: string, what: string, hadCredentials: boolean, credsFlag = '--creds'): RegistryError {
  const { code, message } = parseErrorBody(bodyText);
  const detail = [code, message].filter(Boolean).join(': ');
  const line = `${what}: ${status} ${statusText(status) ?? ''}`.trimEnd() + (detail ? ` (${detail})` : '');
  const opts = { status, ...(code ? { registryCode: code } : {}) };
  if (status === 401) {
    return new RegistryError('E_AUTH', `${what}: ${hadCredentials ? 'authentication failed: the registry rejected the credentials' : 'authentication required'}` + (detail ? ` (${detail})` : ''), {
      ...opts,
      hint: credentialsHint(hadCredentials, credsFlag),
    });
  }
  if (status === 403) return new RegistryError('E_AUTH', `${what}: access denied` + (detail ? ` (${detail})` : ''), opts);
  if (status === 404) return new RegistryError('E_NOT_FOUND', line, opts);
  if (status === 405 || code === 'UNSUPPORTED') return new RegistryError('E_UNSUPPORTED', line, opts);
  if (code === 'DIGEST_INVALID') return new RegistryError('E_DIGEST_MISMATCH', line, opts);
  if (status === 429 || status >= 500 || status === 408) return new RegistryError('E_NETWORK', line, { ...opts, retryable: true });
  if (status >= 400) return new RegistryError('E_BAD_INPUT', line, opts);
  return new RegistryError('E_NETWORK', `${what}: unexpected answer ${status} ${statusText(status) ?? ''}`.trimEnd(), opts);
}
