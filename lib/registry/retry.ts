/**
 * The one retry policy of the registry client: which answers are worth another try, how long to
 * wait before it, and the loop that runs the tries (`withRetries`). Every request that is repeated
 * (a plain request, a token request, a manifest body cut short, an upload restarted in a new
 * session, a blob download resumed with Range) waits by `retryWait`, so they cannot disagree:
 *
 * - a failure that carries Retry-After (429, 503, ...) waits what it says, up to MAX_RETRY_AFTER_MS;
 *   a registry that asks for longer gets a clear error at once, never a silent clamp or a hang;
 * - any other retryable failure waits --retry-delay when given, else 1 s, 2 s, 4 s … capped at 30 s;
 * - at most `retryTimes` retries (--retry-times), then the last failure is reported.
 *
 * Why not undici's RetryAgent: it works below the client, so a request it gave up on reaches us as
 * a RequestRetryError without the registry's error body (whose code, MANIFEST_UNKNOWN or
 * DIGEST_INVALID, decides what the user is told); it clamps Retry-After silently to its maxTimeout;
 * and an upload broken mid-body must restart in a new session, which only this layer knows how to.
 */
import { OcikitError } from '../errors.js';
import { RegistryError, isRetryable } from './errors.js';

/** --retry-times when not given. skopeo's default is 0; a transient reset should not fail a long copy. */
export const DEFAULT_RETRY_TIMES = 3;
/** The longest Retry-After honoured; a registry asking for more gets a clear error instead of a hang. */
export const MAX_RETRY_AFTER_MS = 120_000;

/** What the retry loop needs to know of the user's wishes. */
export interface RetryPolicy {
  /** Retries after the first try (--retry-times); 0: never repeat. */
  readonly retryTimes: number;
  /** --retry-delay: a fixed wait instead of the backoff. */
  readonly retryDelayMs?: number | undefined;
  /** Cancels a wait (E_ABORTED). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Statuses that may succeed when asked again: 408, 429 and the 5xx of an overloaded or restarting
 * server. Every other 4xx is the client's fault and cannot succeed by repetition.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** Parse Retry-After (delta-seconds or an HTTP date) into milliseconds; undefined when absent or garbled. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Math.min(Number(s), 1e7) * 1000;
  const t = Date.parse(s);
  if (Number.isFinite(t)) return Math.max(0, t - now);
  return undefined;
}

/** The wait before retry number `attempt` (0-based) without Retry-After: --retry-delay when given, else 1 s, 2 s, 4 s … capped at 30 s. */
export function backoffMs(attempt: number, retryDelayMs: number | undefined): number {
  if (retryDelayMs !== undefined) return retryDelayMs;
  return Math.min(30_000, 1000 * 2 ** attempt);
}

/**
 * The wait before retry number `attempt` after failure `err`: its Retry-After (RegistryError's
 * retryAfterMs) when it has one, else backoffMs. Throws E_NETWORK, naming `what`, when the
 * registry asks to wait longer than MAX_RETRY_AFTER_MS.
 */
export function retryWait(attempt: number, err: unknown, policy: RetryPolicy, what: string): number {
  const after = err instanceof RegistryError ? err.retryAfterMs : undefined;
  if (after === undefined) return backoffMs(attempt, policy.retryDelayMs);
  if (after > MAX_RETRY_AFTER_MS) {
    const status = (err as RegistryError).status;
    throw new RegistryError(
      'E_NETWORK',
      `${what}: the registry answered ${status ?? 'with an error'} and asks to wait ${Math.round(after / 1000)} s, longer than ocikit waits (${MAX_RETRY_AFTER_MS / 1000} s)`,
      {
        cause: err,
        ...(status !== undefined ? { status } : {}),
      },
    );
  }
  return after;
}

/**
 * Thrown by an attempt to end the retries at once with `error`, retryable or not: a failure that
 * already went through its own retries (a request inside a larger retried step) must not be
 * repeated again by the outer loop, or the tries would multiply.
 */
export class GiveUp {
  constructor(readonly error: unknown) {}
}

/**
 * Run `attempt(n, last)` until it returns, throws a failure that is not retryable (isRetryable) or
 * a GiveUp, or `policy.retryTimes` retries are spent; between tries, sleep retryWait. `last` tells
 * the attempt that no retry follows (so it can read an error body for the message instead of
 * discarding it). Bounded: at most retryTimes + 1 tries, each wait at most MAX_RETRY_AFTER_MS.
 */
export async function withRetries<T>(policy: RetryPolicy, what: string, attempt: (n: number, last: boolean) => Promise<T>): Promise<T> {
  const retries = Math.max(0, Math.floor(policy.retryTimes));
  for (let n = 0; n <= retries; n++) {
    try {
      return await attempt(n, n === retries);
    } catch (err) {
      if (err instanceof GiveUp) throw err.error;
      if (n === retries || !isRetryable(err)) throw err;
      await sleep(retryWait(n, err, policy, what), policy.signal);
    }
  }
  // Unreachable: the last try returns or throws.
  throw new OcikitError('E_INTERNAL', `${what}: the retry loop ended without an answer`);
}

/** Sleep `ms`, or reject with E_ABORTED when `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 && !signal?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new OcikitError('E_ABORTED', 'cancelled'));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new OcikitError('E_ABORTED', 'cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
