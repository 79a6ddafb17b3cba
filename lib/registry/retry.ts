/**
 * The retry policy of registry requests: which answers are worth another try, how long to wait
 * (Retry-After first, then --retry-delay, else exponential backoff), and a cancellable sleep.
 */
import { OcikitError } from '../errors.js';

/** --retry-times when not given. skopeo's default is 0; a transient reset should not fail a long copy. */
export const DEFAULT_RETRY_TIMES = 3;
/** The longest Retry-After honoured; a registry asking for more gets a clear error instead of a hang. */
export const MAX_RETRY_AFTER_MS = 120_000;

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

/** The wait before retry number `attempt` (0-based): --retry-delay when given, else 1 s, 2 s, 4 s … capped at 30 s. */
export function backoffMs(attempt: number, retryDelayMs: number | undefined): number {
  if (retryDelayMs !== undefined) return retryDelayMs;
  return Math.min(30_000, 1000 * 2 ** attempt);
}

/** Sleep `ms`, or reject with E_ABORTED when `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
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
