/**
 * The distribution API's errors, as the server sends them: an HTTP status and a JSON body
 * `{"errors":[{"code","message","detail"}]}` with the codes of the OCI distribution spec (and
 * distribution's own RANGE_INVALID, PAGINATION_NUMBER_INVALID), so every client prints something
 * it understands.
 */
import { isOcikitError } from '../errors.js';

/** The error codes the server uses, with their HTTP status. */
export const API_ERRORS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  TAG_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  RANGE_INVALID: 416,
  PAGINATION_NUMBER_INVALID: 400,
  TOOMANYREQUESTS: 429,
  UNAVAILABLE: 503,
  UNKNOWN: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** An error answered to the client. `status` defaults to the code's; `headers` are added to the answer. */
export class ApiError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly detail: unknown = undefined,
    opts: { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = opts.status ?? API_ERRORS[code];
    this.headers = opts.headers ?? {};
  }

  /** The JSON body. */
  body(): string {
    return JSON.stringify({ errors: [{ code: this.code, message: this.message, detail: this.detail ?? null }] });
  }
}

/**
 * The answer for anything thrown while handling a request: an ApiError as it is; an OcikitError by
 * its code, in the terms of the operation (`as` says which unknown/invalid code fits); anything
 * else a 500 whose message says nothing about the server's files.
 */
export function toApiError(err: unknown, as: { unknown?: ApiErrorCode; invalid?: ApiErrorCode } = {}): ApiError {
  if (err instanceof ApiError) return err;
  if (isOcikitError(err)) {
    const msg = err.message;
    switch (err.code) {
      case 'E_NOT_FOUND':
        return new ApiError(as.unknown ?? 'BLOB_UNKNOWN', msg);
      case 'E_DIGEST_MISMATCH':
        return new ApiError('DIGEST_INVALID', msg);
      case 'E_SIZE_MISMATCH':
        return new ApiError('SIZE_INVALID', msg);
      case 'E_BAD_INPUT':
      case 'E_UNSUPPORTED':
        return new ApiError(as.invalid ?? 'MANIFEST_INVALID', msg);
      case 'E_MANIFEST_TOO_BIG':
        return new ApiError(as.invalid ?? 'MANIFEST_INVALID', msg, undefined, { status: 413 });
      case 'E_AUTH':
        return new ApiError('UNAUTHORIZED', msg);
      default:
        break;
    }
  }
  return new ApiError('UNKNOWN', 'internal server error');
}
