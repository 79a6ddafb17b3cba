/** Pure parts of the registry client: Retry-After, backoff, Link pages, error bodies, the per-host semaphore, CLI flag values. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { Semaphore, nextLink, parseRetryAfter } from '../../lib/registry/index.js';
import { RegistryError, errorForStatus, sanitize } from '../../lib/registry/errors.js';
import { GiveUp, MAX_RETRY_AFTER_MS, backoffMs, isRetryableStatus, retryWait, withRetries } from '../../lib/registry/retry.js';
import { isOcikitError } from '../../lib/errors.js';
import { parseCreds, parseDuration, parseSize } from '../../cli/context.js';

describe('retry policy', () => {
  it('parses Retry-After as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(['0']), 0);
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });

  it('retries 408, 429 and 5xx of overload, never other 4xx', () => {
    const got = [400, 401, 403, 404, 405, 408, 409, 413, 429, 500, 501, 502, 503, 504].filter(isRetryableStatus);
    assert.deepEqual(got, [408, 429, 500, 502, 503, 504]);
  });

  it('backs off 1 s, 2 s, 4 s… unless --retry-delay is set', () => {
    assert.deepEqual(
      [0, 1, 2, 10].map((a) => backoffMs(a, undefined)),
      [1000, 2000, 4000, 30000],
    );
    assert.equal(backoffMs(5, 250), 250);
  });
});

describe('the one retry loop', () => {
  const policy = { retryTimes: 3, retryDelayMs: 0 };
  const retryable = (n: number): RegistryError => new RegistryError('E_NETWORK', `try ${n} failed`, { retryable: true });

  it('tries retryTimes + 1 times, tells the attempt which is the last, and reports the last failure', async () => {
    const seen: Array<[number, boolean]> = [];
    await assert.rejects(
      withRetries(policy, 'w', async (n, last) => {
        seen.push([n, last]);
        throw retryable(n);
      }),
      /try 3 failed/,
    );
    assert.deepEqual(seen, [
      [0, false],
      [1, false],
      [2, false],
      [3, true],
    ]);
  });

  it('stops at the first success, and never repeats a failure that is not retryable or that gives up', async () => {
    let tries = 0;
    assert.equal(await withRetries(policy, 'w', async (n) => (++tries, n < 2 ? Promise.reject(retryable(n)) : 'ok')), 'ok');
    assert.equal(tries, 3);
    tries = 0;
    await assert.rejects(
      withRetries(policy, 'w', async () => (++tries, Promise.reject(new RegistryError('E_AUTH', 'no')))),
      /no/,
    );
    assert.equal(tries, 1);
    tries = 0;
    await assert.rejects(
      withRetries(policy, 'w', async () => {
        ++tries;
        throw new GiveUp(retryable(9));
      }),
      /try 9 failed/,
    );
    assert.equal(tries, 1, 'a GiveUp ends the loop even when its error is retryable');
    tries = 0;
    await assert.rejects(
      withRetries({ retryTimes: 0 }, 'w', async () => (++tries, Promise.reject(retryable(0)))),
      /try 0 failed/,
    );
    assert.equal(tries, 1, '--retry-times 0: one try');
  });

  it('waits what Retry-After says, else --retry-delay, else the backoff; refuses to wait past the limit', () => {
    const after = new RegistryError('E_NETWORK', 'busy', { status: 429, retryable: true, retryAfterMs: 7000 });
    assert.equal(retryWait(0, after, { retryTimes: 3, retryDelayMs: 20 }, 'w'), 7000, 'Retry-After wins over --retry-delay');
    assert.equal(retryWait(2, retryable(0), { retryTimes: 3, retryDelayMs: 20 }, 'w'), 20);
    assert.equal(retryWait(2, retryable(0), { retryTimes: 3 }, 'w'), 4000);
    const long = new RegistryError('E_NETWORK', 'busy', { status: 503, retryable: true, retryAfterMs: MAX_RETRY_AFTER_MS + 1000 });
    assert.throws(
      () => retryWait(0, long, { retryTimes: 3 }, 'pushing x'),
      (err) => isOcikitError(err, 'E_NETWORK') && /^pushing x: the registry answered 503 and asks to wait 121 s, longer than ocikit waits \(120 s\)$/.test((err as Error).message),
    );
  });

  it('a cancelled wait is E_ABORTED', async () => {
    const ac = new AbortController();
    const p = withRetries({ retryTimes: 3, retryDelayMs: 60_000, signal: ac.signal }, 'w', async () => Promise.reject(retryable(0)));
    ac.abort();
    await assert.rejects(p, (err) => isOcikitError(err, 'E_ABORTED'));
  });
});

describe('Link pagination', () => {
  it('finds rel="next" among several links', () => {
    assert.equal(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"'), '/v2/a/tags/list?n=2&last=b');
    assert.equal(nextLink('<https://x/prev>; rel="prev", <https://x/next?a=1,2>; rel=next'), 'https://x/next?a=1,2');
    assert.equal(nextLink('<https://x/prev>; rel="prev"'), undefined);
    assert.equal(nextLink(undefined), undefined);
  });
});

describe('registry errors', () => {
  it('keeps the registry code, drops control characters, and maps statuses to codes', () => {
    const e = errorForStatus(404, '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest\\u001b[31m unknown","detail":{"Tag":"x"}}]}', 'reading manifest x from docker://r/a', false);
    assert.equal(e.code, 'E_NOT_FOUND');
    assert.equal(e.registryCode, 'MANIFEST_UNKNOWN');
    assert.doesNotMatch(e.message, /\u001b/);
    assert.equal(errorForStatus(401, '', 'w', true).code, 'E_AUTH');
    assert.equal(errorForStatus(405, '', 'w', false).code, 'E_UNSUPPORTED');
    assert.equal(errorForStatus(503, 'not json', 'w', false).retryable, true);
    assert.equal(errorForStatus(400, '{"errors":[{"code":"DIGEST_INVALID"}]}', 'w', false).code, 'E_DIGEST_MISMATCH');
    assert.equal(sanitize('x'.repeat(500)).length, 201);
  });
});

describe('Semaphore', () => {
  it('never lets more than its size run and hands slots over in order', async () => {
    const s = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map(async (i) => {
        const release = await s.acquire();
        running++;
        peak = Math.max(peak, running);
        order.push(i);
        // Let every other task try to take a slot while this one holds it.
        for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
        running--;
        release();
        release(); // a second release is harmless
      }),
    );
    assert.equal(peak, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.throws(() => new Semaphore(0), RangeError);
  });
});

describe('CLI registry flag values', () => {
  it('parses --creds, --retry-delay durations and --dest-chunk-size sizes', async () => {
    assert.deepEqual(await parseCreds('creds', 'u:p:w'), { username: 'u', password: 'p:w' });
    // No password and no terminal to ask on (a user name alone asks on a terminal, as skopeo).
    const noTty = { stdout: process.stdout, stderr: process.stderr, stdin: Object.assign(Readable.from([]), { isTTY: false }) };
    await assert.rejects(parseCreds('creds', 'nopassword', noTty), /--creds nopassword gives no password, and stdin is not a terminal/);
    await assert.rejects(parseCreds('creds', ':pw', noTty), /the user name is empty/);
    assert.equal(parseDuration('retry-delay', '1m30s'), 90_000);
    assert.equal(parseDuration('retry-delay', '250ms'), 250);
    assert.equal(parseDuration('retry-delay', '2'), 2000);
    assert.throws(() => parseDuration('retry-delay', '2 days'), /duration/);
    assert.equal(parseSize('dest-chunk-size', '8M'), 8 * 1024 * 1024);
    assert.equal(parseSize('dest-chunk-size', '512'), 512);
    assert.throws(() => parseSize('dest-chunk-size', '-1'), /size/);
  });
});
