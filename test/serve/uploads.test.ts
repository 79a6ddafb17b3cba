/**
 * Upload sessions live in the store: after the server restarts (or is killed), a client's status
 * GET and next PATCH carry on from the right offset and the blob is verified whole; idle sessions
 * expire with their files, at start-up too; one client holds a bounded number of sessions.
 * The pushed blob is then used by a real client (skopeo pushes a manifest naming it and pulls it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { ocikit, run } from '../helpers/cli.js';
import { sha } from '../../support/digest.js';
import { ociImage, randomLayer } from '../helpers/layer-images.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { startServe } from '../helpers/serve.js';

/** A request against a server whose address changes between restarts: path relative, as Location is. */
async function req(base: string, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(base + path, { method, headers: { ...(body ? { 'content-type': 'application/octet-stream' } : {}), ...headers }, ...(body ? { body } : {}) });
}

const uploadsOf = (store: string): string[] => (existsSync(join(store, 'uploads')) ? readdirSync(join(store, 'uploads')).sort() : []);

async function waitFor(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('ocikit serve: uploads survive restarts, expire, and are capped per client', () => {
  it('a chunked upload carries on after a clean restart and after SIGKILL, from the offset the client was told; skopeo then uses the blob', async () => {
    const dir = tempDir('ocikit-serve-uploads-');
    const store = join(dir, 'store');
    const img = ociImage(join(dir, 'img'), [randomLayer(300_000)]);
    const layer = img.layers[0]!.gz;
    const third = Math.floor(layer.length / 3);

    let srv = await startServe(store);
    const start = await req(srv.url, 'POST', '/v2/resume/app/blobs/uploads/');
    assert.equal(start.status, 202);
    const loc = start.headers.get('location')!;
    const p1 = await req(srv.url, 'PATCH', loc, layer.subarray(0, third), { 'content-range': `0-${third - 1}` });
    assert.equal(p1.status, 202);
    assert.equal(p1.headers.get('range'), `0-${third - 1}`);
    await srv.stop();

    // Restarted (another port): the status and the next chunk continue where it was.
    srv = await startServe(store);
    const status = await req(srv.url, 'GET', loc);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), `0-${third - 1}`);
    const wrongStart = await req(srv.url, 'PATCH', loc, layer.subarray(0, 10), { 'content-range': '0-9' });
    assert.equal(wrongStart.status, 416);
    const p2 = await req(srv.url, 'PATCH', loc, layer.subarray(third, 2 * third), { 'content-range': `${third}-${2 * third - 1}` });
    assert.equal(p2.status, 202);
    // Killed without a chance to clean up: what was acknowledged is still there.
    process.kill(srv.pid, 'SIGKILL');
    await srv.stop();

    srv = await startServe(store);
    try {
      assert.equal((await req(srv.url, 'GET', loc)).headers.get('range'), `0-${2 * third - 1}`);
      const fin = await req(srv.url, 'PUT', `${loc}?digest=${img.layers[0]!.digest}`, layer.subarray(2 * third), { 'content-range': `${2 * third}-${layer.length - 1}` });
      assert.equal(fin.status, 201, await fin.text());
      assert.deepEqual(readFileSync(join(store, 'blobs', 'sha256', img.layers[0]!.digest.slice(7))), layer);
      assert.deepEqual(uploadsOf(store), [], 'the finished session left nothing behind');
      // skopeo pushes the image: the layer is there (it skips it), the manifest is accepted, and it pulls back whole.
      const skopeo = requirePeer('skopeo');
      run(skopeo, ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', img.ref, `docker://${srv.host}/resume/app:1`]);
      const out = join(dir, 'back');
      run(skopeo, ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${srv.host}/resume/app:1`, `dir:${out}`]);
      assert.equal(sha(readFileSync(join(out, img.layers[0]!.digest.slice(7)))), img.layers[0]!.digest);
    } finally {
      await srv.stop();
    }
  });

  it('idle sessions expire with their files, at run time and at start-up; a client holds at most --uploads-per-client sessions', async () => {
    const dir = tempDir('ocikit-serve-uploads-');
    const store = join(dir, 'store');
    assert.equal(ocikit(['--store', store, 'copy', '-q', `oci:${fixture('hello-oci')}:latest`, 'store:x:1']).code, 0);
    let srv = await startServe(store, ['--uploads-per-client', '5', '--upload-expiry', '1s']);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const r = await req(srv.url, 'POST', '/v2/capped/blobs/uploads/');
        statuses.push(r.status);
        if (r.status === 202) await req(srv.url, 'PATCH', r.headers.get('location')!, Buffer.from(`data ${i}`));
        else assert.equal(((await r.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, 'TOOMANYREQUESTS');
      }
      assert.deepEqual(statuses, [202, 202, 202, 202, 202, 429, 429, 429]);
      assert.equal(uploadsOf(store).length, 10);
      // Idle for --upload-expiry: removed, files and all; then a new session may start again.
      await waitFor(() => uploadsOf(store).length === 0, 'expired sessions to go');
      const again = await req(srv.url, 'POST', '/v2/capped/blobs/uploads/');
      assert.equal(again.status, 202);
      await req(srv.url, 'PATCH', again.headers.get('location')!, Buffer.from('more'));
      await srv.stop();

      // Left by a stopped server and idle for two hours since: removed as the next one starts
      // (whose timer, at a quarter of an hour's expiry, would not have come yet).
      const hoursAgo = new Date(Date.now() - 2 * 3600_000);
      const left = uploadsOf(store);
      assert.equal(left.length, 2);
      for (const f of left) utimesSync(join(store, 'uploads', f), hoursAgo, hoursAgo);
      srv = await startServe(store, ['--upload-expiry', '1h']);
      await waitFor(() => uploadsOf(store).length === 0, 'sessions of the earlier run to go at start-up');
    } finally {
      await srv.stop();
    }
  });
});
