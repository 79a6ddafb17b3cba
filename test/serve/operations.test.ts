/**
 * `ocikit serve` operations: an access log line per request (text, JSON lines, none with -q),
 * /metrics (Prometheus text), /healthz, and a graceful stop on SIGTERM that lets a blob being
 * sent finish while refusing new connections. skopeo is the client whose requests are logged.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { ocikit, run } from '../helpers/cli.js';
import { sha } from '../../support/digest.js';
import { ociImage, randomLayer } from '../helpers/layer-images.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { startServe, type ServeHandle } from '../helpers/serve.js';

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 400) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const metricValue = (text: string, series: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
};

describe('ocikit serve: access log, metrics, health, graceful stop', () => {
  let dir: string;
  let store: string;
  let skopeo: string;
  let srv: ServeHandle;
  const basic = `Basic ${Buffer.from('alice:pw-of-alice').toString('base64')}`;

  before(async () => {
    skopeo = requirePeer('skopeo');
    dir = tempDir('ocikit-serve-ops-');
    store = join(dir, 'store');
    assert.equal(ocikit(['--store', store, 'copy', '-q', `oci:${fixture('hello-oci')}:latest`, 'store:hello:v1']).code, 0);
    writeFileSync(join(dir, 'htpasswd'), spawnSync(requirePeer('htpasswd'), ['-Bbn', 'alice', 'pw-of-alice'], { encoding: 'utf8' }).stdout);
    srv = await startServe(store, ['--htpasswd', join(dir, 'htpasswd'), '--metrics']);
  });
  after(async () => {
    await srv?.stop();
  });

  it('one text line per request with method, path, status, bytes, duration and user; no credential in it', async () => {
    run(skopeo, ['inspect', '--raw', '--tls-verify=false', '--creds', 'alice:pw-of-alice', `docker://${srv.host}/hello:v1`]);
    await until(() => /GET "\/v2\/hello\/manifests\/v1" 200/.test(srv.stdout()), 'the access log line');
    const line = srv
      .stdout()
      .split('\n')
      .find((l) => l.includes('"/v2/hello/manifests/v1" 200'))!;
    assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z 127\.0\.0\.1 alice GET "\/v2\/hello\/manifests\/v1" 200 \d+ \d+\.\dms$/);
    // The 401 that made skopeo log in is there too, without a user.
    assert.match(srv.stdout(), /127\.0\.0\.1 - GET "\/v2\/" 401 /);
    assert.doesNotMatch(srv.stdout() + srv.stderr(), /pw-of-alice|YWxpY2U6/);
  });

  it('/metrics counts requests and bytes, shows uploads in progress and the store size; /healthz needs no login', async () => {
    assert.equal((await fetch(`${srv.url}/metrics`)).status, 401);
    const health = await fetch(`${srv.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const session = await fetch(`${srv.url}/v2/ops/blobs/uploads/`, { method: 'POST', headers: { Authorization: basic } });
    assert.equal(session.status, 202);
    const text = await (await fetch(`${srv.url}/metrics`, { headers: { Authorization: basic } })).text();
    assert.ok(metricValue(text, 'ocikit_serve_requests_total{method="GET",code="200"}') >= 1, text);
    assert.ok(metricValue(text, 'ocikit_serve_requests_total{method="POST",code="202"}') === 1, text);
    assert.ok(metricValue(text, 'ocikit_serve_sent_bytes_total') > 0);
    assert.equal(metricValue(text, 'ocikit_serve_uploads_in_progress'), 1);
    const du = JSON.parse(ocikit(['--store', store, '--json', 'store', 'du']).stdout) as { blobs: number; bytes: number };
    assert.equal(metricValue(text, 'ocikit_store_blobs'), du.blobs);
    assert.equal(metricValue(text, 'ocikit_store_bytes'), du.bytes);
    assert.ok(metricValue(text, 'ocikit_serve_request_duration_seconds_count') >= 3);
    assert.match(text, /# TYPE ocikit_serve_request_duration_seconds histogram/);
  });

  it('--log-format json writes one JSON object per request; -q writes none', async () => {
    const json = await startServe(store, ['--log-format', 'json']);
    const quiet = await startServe(store, ['-q']);
    try {
      for (const s of [json, quiet]) assert.equal((await fetch(`${s.url}/v2/hello/tags/list`)).status, 200);
      await until(() => json.stdout().includes('tags/list'), 'the JSON line');
      const rec = JSON.parse(
        json
          .stdout()
          .split('\n')
          .find((l) => l.includes('tags/list'))!,
      ) as Record<string, unknown>;
      assert.equal(rec.method, 'GET');
      assert.equal(rec.path, '/v2/hello/tags/list');
      assert.equal(rec.status, 200);
      assert.equal(rec.user, '-');
      assert.ok(typeof rec.bytes === 'number' && rec.bytes > 0 && typeof rec.ms === 'number');
      // -q: the address line only (the tests' helper waits for it), nothing per request.
      await fetch(`${quiet.url}/healthz`);
      assert.equal(quiet.stdout().trim().split('\n').length, 1, quiet.stdout());
    } finally {
      await json.stop();
      await quiet.stop();
    }
  });

  it('SIGTERM: a blob being sent is finished, new connections are refused, the process exits 0', async () => {
    const big = ociImage(join(dir, 'big'), [randomLayer(24 << 20)]);
    const s2store = join(dir, 'store2');
    assert.equal(ocikit(['--store', s2store, 'copy', '-q', big.ref, 'store:big:1']).code, 0);
    const s2 = await startServe(s2store);
    const layer = big.layers[0]!;
    // A slow reader: it takes the first chunk, the server is told to stop, then it reads the rest.
    const body = await new Promise<Buffer>((resolve, reject) => {
      get(`${s2.url}/v2/big/blobs/${layer.digest}`, (res) => {
        const parts: Buffer[] = [];
        let signalled = false;
        res.on('data', (c: Buffer) => {
          parts.push(c);
          if (!signalled) {
            signalled = true;
            res.pause();
            process.kill(s2.pid, 'SIGTERM');
            void until(() => /SIGTERM: finishing/.test(s2.stderr()), 'the shutdown message').then(async () => {
              // No new connection is taken any more.
              await assert.rejects(fetch(`${s2.url}/healthz`));
              res.resume();
            }, reject);
          }
        });
        res.on('end', () => resolve(Buffer.concat(parts)));
        res.on('error', reject);
      }).on('error', reject);
    });
    assert.equal(body.length, layer.gz.length);
    assert.equal(sha(body), layer.digest);
    assert.deepEqual(await s2.exited, { code: 0, signal: null });
    await s2.stop();
  });
});
