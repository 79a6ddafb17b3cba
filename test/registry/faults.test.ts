/**
 * Faults between ocikit and a real registry, injected by a loopback proxy: connection resets,
 * stalls, truncated bodies, 429/503 with Retry-After (manifest PUT included), 500. Each is either
 * survived by a retry or reported clearly, and never leaves a half-written destination.
 */
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { copyImage } from '../../lib/copy/index.js';
import { isOcikitError } from '../../lib/errors.js';
import { closeDispatchers } from '../../lib/registry/index.js';
import { BlobStore } from '../../lib/store/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import type { TransportOptions } from '../../lib/transports/types.js';
import { startFaultProxy, type Fault, type FaultProxy } from '../helpers/fault-proxy.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const HELLO = `oci:${fixture('hello-oci')}:latest`;
const HELLO_DIGEST = 'sha256:0f84579c704be60c6d3004afdf7a54631e413c026e4b8cf2dbb90aee9a3495f7';
/** The 16 KiB layer of the hello fixture: big enough to cut in the middle. */
const LAYER = 'sha256:fccbb0dab14a';

let reg: RegistryHandle;
let proxy: FaultProxy;
const ctx: TransportOptions = { registry: { tlsVerify: false, retryTimes: 3, retryDelayMs: 20, timeoutMs: 1500 } };

before(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.host);
  // The image every pull test reads, pushed straight to the registry.
  const store = BlobStore.open(tempDir());
  try {
    await copyImage(parseImageName(HELLO), parseImageName(`docker://${reg.host}/f/src:v1`), { store, destCtx: { registry: { tlsVerify: false } } });
  } finally {
    store.close();
  }
});

after(async () => {
  await proxy.close();
  await closeDispatchers();
  await reg.stop();
});

beforeEach(() => {
  proxy.rule = () => ({ kind: 'pass' });
  proxy.requests.length = 0;
});

/**
 * The wait the client let pass between the request the proxy refused with `status` and the next
 * request matching `match` (from the proxy's log: end of the refused answer to start of the retry).
 * Measured where the wait happens, so a slow machine cannot make an ignored Retry-After pass.
 */
function gapAfterRefusal(status: number, match: (method: string, path: string) => boolean): number {
  const reqs = proxy.requests;
  const i = reqs.findIndex((r) => r.status === status && match(r.method, r.path));
  assert.ok(i >= 0, `a request was refused with ${status}`);
  const retry = reqs.slice(i + 1).find((r) => match(r.method, r.path));
  assert.ok(retry, 'the refused request was retried');
  return retry.start - reqs[i]!.end!;
}

/** Apply `fault` to the first `times` requests matching `match`, pass the rest. */
function faultFirst(match: (method: string, path: string) => boolean, fault: Fault, times = 1): void {
  let left = times;
  proxy.rule = (r) => {
    if (left > 0 && match(r.method, r.path)) {
      left--;
      return fault;
    }
    return { kind: 'pass' };
  };
}

const layerGet = (m: string, p: string): boolean => m === 'GET' && p.includes(`/blobs/${LAYER}`);

async function pull(srcCtx: TransportOptions = ctx): Promise<{ digest: string; out: string }> {
  const store = BlobStore.open(tempDir());
  const out = join(tempDir(), 'layout');
  try {
    const res = await copyImage(parseImageName(`docker://${proxy.host}/f/src:v1`), parseImageName(`oci:${out}:x`), { store, sourceCtx: srcCtx });
    return { digest: res.manifestDigest, out };
  } finally {
    store.close();
  }
}

async function push(repo: string, destCtx: TransportOptions = ctx): Promise<string> {
  const store = BlobStore.open(tempDir());
  try {
    return (await copyImage(parseImageName(HELLO), parseImageName(`docker://${proxy.host}/${repo}:v1`), { store, destCtx })).manifestDigest;
  } finally {
    store.close();
  }
}

/** Whether the registry (asked directly) has the tag. */
async function tagExists(repo: string, tag: string): Promise<boolean> {
  const r = await request(`${reg.url}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  await r.body.dump();
  return r.statusCode === 200;
}

describe('downloads', () => {
  it('a connection reset before the answer is retried', async () => {
    faultFirst(layerGet, { kind: 'reset' });
    const got = await pull();
    assert.equal(got.digest, HELLO_DIGEST);
    assert.equal(proxy.requests.filter((r) => layerGet(r.method, r.path)).length, 2);
  });

  it('a reset in the middle of a blob is resumed with Range from where it broke', async () => {
    faultFirst(layerGet, { kind: 'reset-after', bytes: 5000 });
    const got = await pull();
    assert.equal(got.digest, HELLO_DIGEST);
    const gets = proxy.requests.filter((r) => layerGet(r.method, r.path));
    assert.equal(gets.length, 2);
    assert.equal(gets[0]!.headers.range, undefined);
    assert.equal(gets[1]!.headers.range, 'bytes=5000-');
    assert.equal(gets[1]!.status, 206);
  });

  it('a truncated body (closed early, Content-Length unmet) is resumed', async () => {
    faultFirst(layerGet, { kind: 'truncate', bytes: 7000 });
    const got = await pull();
    assert.equal(got.digest, HELLO_DIGEST);
    assert.equal(proxy.requests.filter((r) => layerGet(r.method, r.path))[1]!.headers.range, 'bytes=7000-');
  });

  it('a body that stalls is abandoned after the timeout and resumed', async () => {
    faultFirst(layerGet, { kind: 'stall-body', bytes: 3000 });
    const got = await pull({ registry: { ...ctx.registry, timeoutMs: 400 } });
    assert.equal(got.digest, HELLO_DIGEST);
    assert.equal(proxy.requests.filter((r) => layerGet(r.method, r.path))[1]!.headers.range, 'bytes=3000-');
  });

  it('a manifest GET that never answers times out and is retried', async () => {
    faultFirst((m, p) => m === 'GET' && p.includes('/manifests/'), { kind: 'stall' });
    const got = await pull({ registry: { ...ctx.registry, timeoutMs: 400 } });
    assert.equal(got.digest, HELLO_DIGEST);
  });

  it('429 with Retry-After on a manifest GET is waited out', async () => {
    let n = 0;
    proxy.rule = (r) => {
      if (r.method === 'GET' && r.path.includes('/manifests/') && n++ === 0) return { kind: 'status', status: 429, retryAfter: '1' };
      return { kind: 'pass' };
    };
    const got = await pull();
    assert.equal(got.digest, HELLO_DIGEST);
    // --retry-delay is 20 ms here: only Retry-After explains a wait of a second.
    const gap = gapAfterRefusal(429, (m, p) => m === 'GET' && p.includes('/manifests/'));
    assert.ok(gap >= 950, `Retry-After: 1 was honoured (waited ${gap} ms)`);
  });

  it('a blob that keeps failing with 500 fails the pull clearly and leaves no destination', async () => {
    proxy.rule = (r) => (layerGet(r.method, r.path) ? { kind: 'status', status: 500 } : { kind: 'pass' });
    await assert.rejects(pull(), (err) => {
      assert.ok(isOcikitError(err, 'E_NETWORK'), String(err));
      assert.match((err as Error).message, /reading blob sha256:fccbb0dab14a .*500 Internal Server Error.*after 4 attempts/);
      return true;
    });
    assert.equal(proxy.requests.filter((r) => layerGet(r.method, r.path)).length, 4, '1 try + --retry-times 3');
  });

  it('a connection that always resets is reported as such, after the retries', async () => {
    proxy.rule = (r) => (layerGet(r.method, r.path) ? { kind: 'reset' } : { kind: 'pass' });
    const out = join(tempDir(), 'never');
    const store = BlobStore.open(tempDir());
    try {
      await assert.rejects(
        copyImage(parseImageName(`docker://${proxy.host}/f/src:v1`), parseImageName(`oci:${out}:x`), { store, sourceCtx: { registry: { ...ctx.registry, retryTimes: 1 } } }),
        (err) => {
          assert.ok(isOcikitError(err, 'E_NETWORK'), String(err));
          assert.match((err as Error).message, /connection (reset|closed)|other side closed/);
          return true;
        },
      );
      assert.equal(existsSync(out), false);
    } finally {
      store.close();
    }
  });
});

describe('uploads', () => {
  it('429 with Retry-After on the manifest PUT is honoured', async () => {
    faultFirst((m, p) => m === 'PUT' && p.includes('/manifests/'), { kind: 'status', status: 429, retryAfter: '1' });
    assert.equal(await push('f/put429'), HELLO_DIGEST);
    const gap = gapAfterRefusal(429, (m, p) => m === 'PUT' && p.includes('/manifests/'));
    assert.ok(gap >= 950, `Retry-After: 1 was honoured (waited ${gap} ms)`);
    assert.equal(proxy.requests.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/')).length, 2);
    assert.equal(await tagExists('f/put429', 'v1'), true);
  });

  it('503 with Retry-After on blob HEADs is waited out: each refused HEAD is asked again', async () => {
    faultFirst((m, p) => m === 'HEAD' && p.includes('/blobs/'), { kind: 'status', status: 503, retryAfter: '0' }, 2);
    assert.equal(await push('f/head503'), HELLO_DIGEST);
    // A client that took 503 for "absent" would upload without asking again; the push would pass
    // just the same. So count: every blob HEAD refused is followed by the same HEAD, answered.
    const heads = proxy.requests.filter((r) => r.method === 'HEAD' && r.path.includes('/blobs/'));
    const refused = heads.filter((r) => r.status === 503);
    assert.equal(refused.length, 2);
    for (const r of refused) {
      const digest = r.path.split('/blobs/')[1]!;
      const again = heads.find((h) => h.path === r.path && h.start >= r.end! && h.status !== 503);
      assert.ok(again, `${r.path} asked again`);
      assert.ok(again.status === 200 || again.status === 404, `answered by the registry: ${again.status}`);
      const upload = proxy.requests.find((q) => q.method === 'PUT' && q.path.includes(`digest=${encodeURIComponent(digest)}`));
      if (upload) assert.ok(again.start < upload.start, `${digest} asked again before it was uploaded`);
    }
  });

  it('a reset in the middle of a blob upload restarts the upload in a new session', async () => {
    faultFirst((m, p) => m === 'PUT' && p.includes('/blobs/uploads/') && p.includes('digest=sha256%3Afccbb0dab14a'), { kind: 'reset' });
    assert.equal(await push('f/upreset'), HELLO_DIGEST);
    const posts = proxy.requests.filter((r) => r.method === 'POST' && r.path.includes('/blobs/uploads/'));
    assert.equal(posts.length, 4, 'three sessions plus one for the retried blob');
    assert.equal(await tagExists('f/upreset', 'v1'), true);
  });

  it('a 500 that persists on blob uploads fails the push and leaves the tag untouched', async () => {
    proxy.rule = (r) => (r.method === 'PUT' && r.path.includes('/blobs/uploads/') ? { kind: 'status', status: 500 } : { kind: 'pass' });
    await assert.rejects(push('f/up500'), (err) => isOcikitError(err, 'E_NETWORK') && /500 Internal Server Error/.test((err as Error).message));
    assert.equal(await tagExists('f/up500', 'v1'), false);
    assert.equal(proxy.requests.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/')).length, 0, 'no manifest was written');
  });

  it('a 4xx that cannot succeed is not retried', async () => {
    proxy.rule = (r) =>
      r.method === 'PUT' && r.path.includes('/manifests/') ? { kind: 'status', status: 400, body: '{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}' } : { kind: 'pass' };
    await assert.rejects(push('f/put400'), (err) => isOcikitError(err, 'E_BAD_INPUT') && /MANIFEST_INVALID/.test((err as Error).message));
    assert.equal(proxy.requests.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/')).length, 1);
    assert.equal(await tagExists('f/put400', 'v1'), false);
  });

  it('a Retry-After longer than ocikit waits fails at once, saying so', async () => {
    proxy.rule = (r) => (r.method === 'PUT' && r.path.includes('/manifests/') ? { kind: 'status', status: 503, retryAfter: '3600' } : { kind: 'pass' });
    await assert.rejects(push('f/long'), (err) => isOcikitError(err, 'E_NETWORK') && /asks to wait 3600 s/.test((err as Error).message));
    assert.equal(proxy.requests.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/')).length, 1, 'not retried: given up at once');
  });
});
