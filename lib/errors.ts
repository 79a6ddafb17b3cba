/**
 * One error class for the whole library. Callers match on the stable `code`, never on the class
 * or the message text: `isOcikitError(err, 'E_NOT_FOUND')`.
 *
 * WARNING: messages MUST NOT contain credentials. Use `redact()` on any URL or header value that
 * reaches a message.
 */

import { statSync, statfsSync, type Stats } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';

/** The stable error codes. Adding one is fine; renaming one breaks callers. */
export const ERROR_CODES = {
  E_USAGE: 'the command line is wrong',
  E_BAD_INPUT: 'input (a file, an archive, a manifest) is malformed or hostile',
  E_NOT_FOUND: 'an image, manifest, blob or ref does not exist',
  E_DIGEST_MISMATCH: 'content does not match its digest',
  E_SIZE_MISMATCH: 'content does not match its declared size',
  E_UNSUPPORTED: 'a transport, media type or feature is not supported',
  E_MANIFEST_TOO_BIG: 'a manifest is larger than the limit',
  E_AUTH: 'authentication or authorisation failed',
  E_BLOCKED: 'registries.conf blocks the registry',
  E_POLICY: 'the trust policy (policy.json) rejected the image',
  E_SIGNATURE: 'a signature is malformed, does not verify, or is not trusted',
  E_DECRYPT: 'an encrypted layer cannot be decrypted: no key given fits it, or it does not authenticate',
  E_CONFLICT: 'the destination already holds something that forbids the write',
  E_IO: 'a filesystem operation failed',
  E_NETWORK: 'a network request failed',
  E_STORE: 'the blob store is unusable or corrupt',
  E_WORKER: 'a worker job failed',
  E_ABORTED: 'the operation was cancelled',
  E_PARTIAL: 'some items of a batch (a sync) failed; each was reported',
  E_INTERNAL: 'a bug in ocikit',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface OcikitErrorOptions {
  cause?: unknown;
  /** What the user can do about it; printed after the message by the CLI. */
  hint?: string;
}

/** The one error class. `code` is stable; `message` starts lower-case with what was being done. */
export class OcikitError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: OcikitErrorOptions = {}) {
    // Messages quote what sources hand over (tag names, JSON parser complaints, registry bodies): a
    // control character in one would reach the user's terminal. Escaping here is the safety net;
    // quoteUntrusted() at the quoting site is the rule.
    super(escapeControl(redact(message)), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OcikitError';
    this.code = code;
    this.hint = options.hint === undefined ? undefined : escapeControl(redact(options.hint));
  }
}

/** True when `err` is an OcikitError (or a plain error carrying one of our codes, as rebuilt from a worker), optionally with the given code. */
export function isOcikitError(err: unknown, code?: ErrorCode): err is OcikitError {
  if (typeof err !== 'object' || err === null) return false;
  const c = (err as { code?: unknown }).code;
  if (typeof c !== 'string' || !(c in ERROR_CODES)) return false;
  return code === undefined || c === code;
}

/**
 * Exit codes as skopeo: 2 when the image was not found, 1 for any other failure.
 * Only a source can be "not found": destinations report what stops a write as E_IO or another
 * code (see wrapWriteError), so a destination that cannot be written exits 1.
 */
export function exitCodeFor(err: unknown): number {
  return isOcikitError(err, 'E_NOT_FOUND') ? 2 : 1;
}

/**
 * Wrap any thrown value as an OcikitError with context, keeping an existing code.
 * `context` is prefixed: "reading blob sha256:ab from oci:/x: <original message>".
 */
export function wrapError(err: unknown, context: string, fallback: ErrorCode = 'E_IO'): OcikitError {
  if (isOcikitError(err)) {
    const e = new OcikitError(err.code, `${context}: ${err.message}`, { cause: err, hint: err.hint });
    return e;
  }
  const sys = err as NodeJS.ErrnoException | undefined;
  if (sys && typeof sys === 'object' && typeof sys.code === 'string') {
    if (sys.code === 'ENOENT') return new OcikitError('E_NOT_FOUND', `${context}: ${describeSystemError(sys)}`, { cause: err });
    if (sys.code === 'ABORT_ERR') return new OcikitError('E_ABORTED', `${context}: cancelled`, { cause: err });
    return new OcikitError(fallback, `${context}: ${describeSystemError(sys)}`, { cause: err });
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new OcikitError(fallback, `${context}: ${msg}`, { cause: err });
}

/**
 * As wrapError, for an operation that WRITES (a destination, a staging directory, a lock file).
 * There, a missing file or directory (ENOENT, or an E_NOT_FOUND raised underneath) means the
 * destination cannot be written: it becomes E_IO with the OS reason, never E_NOT_FOUND, which the
 * CLI turns into exit code 2, reserved for "image not found".
 */
export function wrapWriteError(err: unknown, context: string): OcikitError {
  if (isOcikitError(err, 'E_NOT_FOUND')) {
    return new OcikitError('E_IO', `${context}: ${err.message}`, { cause: err, hint: err.hint });
  }
  const sys = err as NodeJS.ErrnoException | undefined;
  if (!isOcikitError(err) && sys && typeof sys === 'object' && sys.code === 'ENOENT') {
    return new OcikitError('E_IO', `${context}: ${describeSystemError(sys)}`, { cause: err });
  }
  return wrapError(err, context, 'E_IO');
}

/** Whether `err` is an OS error saying the disk (or the user's quota) is full. */
export function isDiskFull(err: unknown): boolean {
  const c = (err as NodeJS.ErrnoException | undefined)?.code;
  return c === 'ENOSPC' || c === 'EDQUOT';
}

/**
 * `err` with `path` attached when it is an OS error that names none: write(2) and fsync(2) errors
 * carry no path, and a full disk's message must say where the writing went. Returns `err`.
 */
export function atPath(err: unknown, path: string): unknown {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e && typeof e === 'object' && typeof e.code === 'string' && e.path === undefined && (e as { dest?: string }).dest === undefined) e.path = path;
  return err;
}

/** An OS error as "PATH: reason"; a full disk also names the filesystem that is full. */
export function describeSystemError(e: NodeJS.ErrnoException): string {
  if (isDiskFull(e)) {
    // A copy's error names its source first (`path`) and what it was writing second (`dest`): the
    // full one is where it was writing, never the store's blob it read.
    const where = (e as { dest?: string }).dest ?? e.path;
    const fs = where ? filesystemOf(where) : undefined;
    return `${where ? `${where}: ` : ''}${e.code === 'EDQUOT' ? 'disk quota exceeded' : 'no space left on device'}${fs ? ` (${fs})` : ''}`;
  }
  const what = e.path ? `${e.path}: ` : '';
  const text: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EEXIST: 'already exists',
    ENOTDIR: 'not a directory',
    EISDIR: 'is a directory',
    ELOOP: 'too many symbolic links',
    EROFS: 'read-only file system',
    EPERM: 'operation not permitted',
    EXDEV: 'not on the same file system',
    ENAMETOOLONG: 'file name too long',
  };
  return what + (text[e.code ?? ''] ?? e.message);
}

/** Names of the filesystem types statfs reports most often (its magic numbers). */
const FS_TYPES: Record<number, string> = {
  0x01021994: 'tmpfs',
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x794c7630: 'overlay',
  0x6969: 'nfs',
  0x2fc12fc1: 'zfs',
  0x4d44: 'vfat',
  0x65735546: 'fuse',
};

/**
 * "ext4 filesystem mounted at /srv: 0 B free of 20.0 GB" for the filesystem holding `path`
 * (or its nearest existing parent): where a full disk is, for a message. Undefined when it cannot
 * be told. Synchronous and only on an error path: it costs a few stats.
 */
function filesystemOf(path: string): string | undefined {
  try {
    let p = resolvePath(path);
    let st = statQuiet(p);
    while (!st && p !== dirname(p)) st = statQuiet((p = dirname(p)));
    if (!st) return undefined;
    // The mount point: the highest ancestor still on the same device.
    let mount = p;
    while (mount !== dirname(mount) && statQuiet(dirname(mount))?.dev === st.dev) mount = dirname(mount);
    const f = statfsSync(mount);
    const size = (n: number): string => (n < 1e3 ? `${n} B` : n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : n < 1e9 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e9).toFixed(1)} GB`);
    const type = FS_TYPES[f.type];
    return `${type ?? 'the'} filesystem mounted at ${mount}: ${size(f.bavail * f.bsize)} free of ${size(f.blocks * f.bsize)}`;
  } catch {
    return undefined;
  }
}

function statQuiet(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

const SECRET_PATTERNS: Array<[RegExp, string]> = [
  // user:password@ in http(s) URLs (not docker://name:tag@digest, which is no credential)
  [/(\bhttps?:\/\/)[^\s/@:]+:[^\s/@]+@/gi, '$1***:***@'],
  // Authorization headers and bearer tokens
  [/\b(authorization\s*[:=]\s*)(basic|bearer)\s+[A-Za-z0-9._~+/=-]+/gi, '$1$2 ***'],
  [/\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 ***'],
  // token=…, password=…, access_token=… in query strings and key: value text, and any JSON key
  // ending in one of those words ("identitytoken": "…"). Unquoted, the key must stand alone (not the
  // end of a longer word or a path: "htpasswd: line 2" and "/etc/passwd: no such file" hold no
  // credential) and be followed directly by "=" or ":".
  [/((?<![\w./-])(?:access_token|refresh_token|token|password|passwd|secret)\s*[=:]\s*["']?)[^\s&"',}]+/gi, '$1***'],
  [/(["'][\w-]*(?:token|password|passwd|secret)["']\s*:\s*["']?)[^\s&"',}]+/gi, '$1***'],
];

/** Remove credentials from text that may reach a user: URLs with userinfo, Authorization values, tokens. */
export function redact(text: string): string {
  let out = text;
  for (const [re, rep] of SECRET_PATTERNS) out = out.replace(re, rep);
  return out;
}

// C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text on a
// terminal (bidi embeddings/overrides/isolates, zero-width characters, line/paragraph separators,
// the BOM). Backslashes are left alone, so escaping twice changes nothing.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/**
 * `text` with every control character written as an escape ("\x1b", "\u202e"): what a message may
 * carry to a terminal when the text came from a source (a manifest, a registry, an archive).
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL_RE, (c) => {
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/**
 * Untrusted text as it goes into a message: cut to `max` characters (an ellipsis says so), in
 * double quotes with JSON escapes, and free of control characters. Use it wherever a message quotes
 * a name, tag, media type or any other string that came from a source.
 */
export function quoteUntrusted(text: unknown, max = 200): string {
  const s = typeof text === 'string' ? text : String(text);
  return escapeControl(JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s));
}
