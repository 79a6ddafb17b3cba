/**
 * `ocikit serve` and hostile or broken clients: each gets a distribution-API error code and
 * nothing is stored. Raw requests go through node:http (which, unlike fetch, sends a path as it
 * is: "..", "%2e") and raw sockets (for clients that stall).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ocikit, run } from '../helpers/cli.js';
import { ociImage, randomLayer } from '../helpers/layer-images.js';
import { sha } from '../../support/digest.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { testPki } from '../../support/registry.js';
import { startServe, type ServeHandle } from '../helpers/serve.js';
import { storeSnapshot as snapshot } from '../helpers/store.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with the path sent exactly as given; resolves with whatever the server answered. */
function raw(url: string, method: string, path: string, opts: { headers?: Record<string, string>; body?: Buffer; ca?: Buffer } = {}): Promise<Answer> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: Number(u.port), method, path, ...(opts.ca ? { ca: opts.ca } : {}), headers: { ...(opts.body ? { 'Content-Length': String(opts.body.length) } : {}), ...opts.headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    // The server may answer and close before the whole body is sent (a refused upload).
    req.on('error', (err) => reject(err));
    req.end(opts.body);
  });
}

const codeOf = (a: Answer): string | undefined => (JSON.parse(a.body || '{}') as { errors?: Array<{ code: string }> }).errors?.[0]?.code;

/** Wait (bounded) until `socket` is closed by the other side; true when it was. */
function closedByPeer(socket: import('node:net').Socket, withinMs: number): Promise<{ closed: boolean; data: string }> {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (c) => (data += c.toString()));
    const t = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, data });
    }, withinMs);
    socket.on('close', () => {
      clearTimeout(t);
      resolve({ closed: true, data });
    });
    socket.on('error', () => undefined);
  });
}

describe('ocikit serve refuses hostile input and stores nothing', () => {
  let dir: string;
  let store: string;
  let srv: ServeHandle;
  before(async () => {
    dir = tempDir('ocikit-serve-hostile-');
    store = join(dir, 'store');
    for (const name of ['store:hello:v1', 'store:twin:v1']) {
      const r = ocikit(['--store', store, 'copy', '-q', `oci:${fixture('hello-oci')}:latest`, name]);
      assert.equal(r.code, 0, r.stderr);
    }
    srv = await startServe(store, ['--timeout', '1s']);
  });
  after(async () => {
    await srv?.stop();
  });

  it('path traversal and malformed names: NAME_INVALID, for reads and pushes alike', async () => {
    const before = snapshot(store);
    for (const path of ['/v2/../../etc/passwd/manifests/latest', '/v2/a/%2e%2e/b/manifests/latest', '/v2/Hello/manifests/v1', '/v2/a//b/tags/list', '/v2/./blobs/uploads/']) {
      for (const method of ['GET', 'PUT', 'POST']) {
        const a = await raw(srv.url, method, path, method === 'GET' ? {} : { body: Buffer.from('{}'), headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
        assert.ok(a.status === 400 || a.status === 404, `${method} ${path}: ${a.status}`);
        if (a.status === 400) assert.equal(codeOf(a), 'NAME_INVALID', `${method} ${path}`);
      }
    }
    assert.deepEqual(snapshot(store), before);
  });

  it('a manifest reference that is neither tag nor digest: 404 MANIFEST_UNKNOWN to GET and HEAD, 400 to PUT', async () => {
    const before = snapshot(store);
    for (const ref of ['..%2f..%2fx', 'sha256:zz', '-leading-dash', 'x'.repeat(200)]) {
      const get = await raw(srv.url, 'GET', `/v2/hello/manifests/${ref}`);
      assert.equal(get.status, 404, `GET ${ref}`);
      assert.equal(codeOf(get), 'MANIFEST_UNKNOWN', `GET ${ref}`);
      const head = await raw(srv.url, 'HEAD', `/v2/hello/manifests/${ref}`);
      assert.equal(head.status, 404, `HEAD ${ref}`);
    }
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
    const put = await raw(srv.url, 'PUT', '/v2/hello/manifests/-leading-dash', { body: m, headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' } });
    assert.equal(put.status, 400);
    assert.equal(codeOf(put), 'TAG_INVALID');
    assert.deepEqual(snapshot(store), before);
  });

  it('a manifest deleted by digest is gone from that repository at once (GET and HEAD 404), still served where another repository holds it', async () => {
    const digest = (await raw(srv.url, 'HEAD', '/v2/hello/manifests/v1')).headers['docker-content-digest'] as string;
    assert.match(digest, /^sha256:/);
    assert.equal((await raw(srv.url, 'GET', `/v2/twin/manifests/${digest}`)).status, 200);
    assert.equal((await raw(srv.url, 'DELETE', `/v2/twin/manifests/${digest}`)).status, 202);
    for (const method of ['GET', 'HEAD']) {
      const a = await raw(srv.url, method, `/v2/twin/manifests/${digest}`);
      assert.equal(a.status, 404, `${method} after DELETE`);
      if (method === 'GET') assert.equal(codeOf(a), 'MANIFEST_UNKNOWN');
    }
    assert.equal((await raw(srv.url, 'GET', '/v2/twin/manifests/v1')).status, 404);
    // Never held by this repository at all: unknown there too, though the store has the bytes.
    assert.equal((await raw(srv.url, 'GET', `/v2/never/pushed/manifests/${digest}`)).status, 404);
    assert.equal((await raw(srv.url, 'GET', `/v2/hello/manifests/${digest}`)).status, 200);
  });

  it('upload sessions opened and abandoned leave no files in the store', async () => {
    const before = snapshot(store);
    let opened = 0;
    // 2000 sessions, 16 at a time on kept-alive connections.
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = 0; i < 125; i++) {
          const a = await raw(srv.url, 'POST', '/v2/abandoned/blobs/uploads/');
          if (a.status === 202) opened++;
          else assert.equal(a.status, 429, a.body);
        }
      }),
    );
    // Capped per client (--uploads-per-client, default 100): no more state files than that, no data files.
    assert.equal(opened, 100);
    assert.deepEqual(snapshot(store).tmp, before.tmp);
    const files = readdirSync(join(store, 'uploads'));
    assert.equal(files.filter((f) => f.endsWith('.json')).length, 100, files.join(' '));
    assert.deepEqual(
      files.filter((f) => !f.endsWith('.json')),
      [],
    );
    // Cancelled, they go with their files (and the client may start others: later tests do).
    for (const f of files) assert.equal((await raw(srv.url, 'DELETE', `/v2/abandoned/blobs/uploads/${f.slice(0, -5)}`)).status, 204);
    assert.deepEqual(readdirSync(join(store, 'uploads')), []);
  });

  it('a manifest over 4 MiB is refused (413) before the rest is read, with or without Content-Length', async () => {
    const before = snapshot(store);
    const u = new URL(srv.url);
    const head = 'PUT /v2/big/manifests/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n';
    // Declared too big: answered on the headers, after one byte of body.
    const declared = connect(Number(u.port), u.hostname);
    declared.write(`${head}Content-Length: ${5 << 20}\r\n\r\n{`);
    const d = await closedByPeer(declared, 20_000);
    assert.match(d.data, /^HTTP\/1\.1 413 /);
    assert.match(d.data, /"code":"MANIFEST_INVALID"/);
    // Chunked: answered once more than 4 MiB arrived, without waiting for the end.
    const chunked = connect(Number(u.port), u.hostname);
    chunked.on('error', () => undefined);
    const size = (4 << 20) + 1024;
    chunked.write(`${head}Transfer-Encoding: chunked\r\n\r\n${size.toString(16)}\r\n`);
    chunked.write(Buffer.alloc(size, 0x20));
    const c = await closedByPeer(chunked, 20_000);
    assert.match(c.data, /^HTTP\/1\.1 413 /);
    assert.deepEqual(snapshot(store), before);
  });

  it('a pushed blob whose bytes do not match its digest: DIGEST_INVALID, monolithic or chunked, and nothing stored', async () => {
    const before = snapshot(store);
    const content = Buffer.from('these bytes are not what the digest says');
    const wrong = sha(Buffer.from('something else'));
    const mono = await raw(srv.url, 'POST', `/v2/x/blobs/uploads/?digest=${wrong}`, { body: content, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(mono.status, 400);
    assert.equal(codeOf(mono), 'DIGEST_INVALID');

    const start = await raw(srv.url, 'POST', '/v2/x/blobs/uploads/');
    assert.equal(start.status, 202);
    const loc = String(start.headers.location);
    const patch = await raw(srv.url, 'PATCH', loc, { body: content, headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${content.length - 1}` } });
    assert.equal(patch.status, 202);
    assert.equal(patch.headers.range, `0-${content.length - 1}`);
    const fin = await raw(srv.url, 'PUT', `${loc}?digest=${wrong}`);
    assert.equal(fin.status, 400);
    assert.equal(codeOf(fin), 'DIGEST_INVALID');
    // The session is gone with its data.
    assert.equal((await raw(srv.url, 'GET', loc)).status, 404);

    // A manifest pushed by a digest it does not have.
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
    const byDigest = await raw(srv.url, 'PUT', `/v2/x/manifests/${wrong}`, { body: m, headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' } });
    assert.equal(codeOf(byDigest), 'DIGEST_INVALID');

    // Wrong bytes of the right size under a digest the store already holds: the store keeps its
    // copy, and the client is told its bytes are wrong (it was answered 201 before).
    const held = readdirSync(join(store, 'blobs', 'sha256'))[0]!;
    const heldSize = statSync(join(store, 'blobs', 'sha256', held)).size;
    const impostor = Buffer.alloc(heldSize, 0x5a);
    const again = await raw(srv.url, 'POST', `/v2/x/blobs/uploads/?digest=sha256:${held}`, { body: impostor, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(again.status, 400, again.body);
    assert.equal(codeOf(again), 'DIGEST_INVALID');
    const right = await raw(srv.url, 'POST', `/v2/x/blobs/uploads/?digest=sha256:${held}`, {
      body: readFileSync(join(store, 'blobs', 'sha256', held)),
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    assert.equal(right.status, 201, right.body);
    assert.deepEqual(snapshot(store), before);
  });

  it('unknown media types, schema 1, malformed JSON and missing blobs: MANIFEST_INVALID / MANIFEST_BLOB_UNKNOWN', async () => {
    const before = snapshot(store);
    const oci = 'application/vnd.oci.image.manifest.v1+json';
    const cases: Array<[string, Buffer, number, string]> = [
      ['application/vnd.example.thing+json', Buffer.from('{"schemaVersion":2}'), 415, 'MANIFEST_INVALID'],
      ['application/vnd.docker.distribution.manifest.v1+json', Buffer.from('{"schemaVersion":1,"name":"x","tag":"1","fsLayers":[]}'), 415, 'MANIFEST_INVALID'],
      ['application/json', Buffer.from('{"schemaVersion":1,"name":"x","tag":"1","fsLayers":[]}'), 400, 'MANIFEST_INVALID'],
      [oci, Buffer.from('{"schemaVersion":2, "config": '), 400, 'MANIFEST_INVALID'],
      [oci, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.example+json', config: {}, layers: [] })), 400, 'MANIFEST_INVALID'],
      [
        oci,
        Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: oci, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(Buffer.from('absent')), size: 6 }, layers: [] })),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      ],
    ];
    for (const [type, body, status, code] of cases) {
      const a = await raw(srv.url, 'PUT', '/v2/mt/manifests/1', { body, headers: { 'Content-Type': type } });
      assert.equal(a.status, status, `${type}: ${a.body}`);
      assert.equal(codeOf(a), code, type);
    }
    assert.deepEqual(snapshot(store), before);
  });

  it('slow loris: headers that never finish and a body that stalls are cut off by --timeout; the chunk is rolled back', async () => {
    const u = new URL(srv.url);
    const headers = connect(Number(u.port), u.hostname);
    headers.write('GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const h = await closedByPeer(headers, 20_000);
    assert.equal(h.closed, true, 'the server closed a connection whose headers never ended');
    assert.doesNotMatch(h.data, /^HTTP\/1\.1 200/);

    const before = snapshot(store);
    const start = await raw(srv.url, 'POST', '/v2/slow/blobs/uploads/');
    const loc = String(start.headers.location);
    const body = connect(Number(u.port), u.hostname);
    body.write(`PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`);
    body.write(Buffer.alloc(3000, 1));
    const b = await closedByPeer(body, 20_000);
    assert.equal(b.closed, true, 'the server closed a connection whose body stalled');
    // The session is still there, with none of the stalled chunk in it.
    const status = await raw(srv.url, 'GET', loc);
    assert.equal(status.status, 204);
    assert.equal(status.headers.range, '0-0');
    const after = snapshot(store);
    assert.deepEqual(after.blobs, before.blobs);
    assert.deepEqual(after.refs, before.refs);
    await raw(srv.url, 'DELETE', loc);
    assert.deepEqual(snapshot(store).tmp, before.tmp);
  });
});

describe('ocikit serve --htpasswd over TLS (Bearer tokens)', () => {
  let dir: string;
  let store: string;
  let srv: ServeHandle;
  let certDir: string;
  const password = 'pa55-w0rd-not-to-be-printed';
  before(async () => {
    dir = tempDir('ocikit-serve-auth-');
    store = join(dir, 'store');
    const pki = testPki();
    certDir = join(dir, 'certs');
    mkdirSync(certDir);
    copyFileSync(pki.caCrt, join(certDir, 'ca.crt'));
    const htpasswd = requirePeer('htpasswd');
    const entries = ['alice', 'bob'].map((u) => spawnSync(htpasswd, ['-Bbn', u, u === 'alice' ? password : 'other'], { encoding: 'utf8' }).stdout.trim());
    writeFileSync(join(dir, 'htpasswd'), entries.join('\n') + '\n');
    const r = ocikit(['--store', store, 'copy', '-q', `oci:${fixture('hello-oci')}:latest`, 'store:hello:v1']);
    assert.equal(r.code, 0, r.stderr);
    srv = await startServe(store, ['--htpasswd', join(dir, 'htpasswd'), '--tls-cert', pki.serverCrt, '--tls-key', pki.serverKey]);
  });
  after(async () => {
    await srv?.stop();
  });

  it('skopeo and ocikit push and pull with the right credentials and the CA; wrong ones get 401 UNAUTHORIZED and store nothing', async () => {
    assert.match(srv.url, /^https:/);
    const skopeo = requirePeer('skopeo');
    const img = ociImage(join(dir, 'src'), [randomLayer(30_000)]);
    const before = snapshot(store);
    const wrong = run(skopeo, ['--insecure-policy', 'copy', '-q', '--dest-cert-dir', certDir, '--dest-creds', 'alice:nope', img.ref, `docker://${srv.host}/secure/app:1`], { allowFail: true });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /unauthorized|authentication required/i);
    const unknownUser = run(skopeo, ['inspect', '--raw', '--cert-dir', certDir, '--creds', `mallory:${password}`, `docker://${srv.host}/hello:v1`], { allowFail: true });
    assert.notEqual(unknownUser.code, 0);
    const anonymous = run(skopeo, ['inspect', '--raw', '--cert-dir', certDir, '--no-creds', `docker://${srv.host}/hello:v1`], { allowFail: true });
    assert.notEqual(anonymous.code, 0);
    assert.deepEqual(snapshot(store), before);

    run(skopeo, ['--insecure-policy', 'copy', '-q', '--dest-cert-dir', certDir, '--dest-creds', `alice:${password}`, img.ref, `docker://${srv.host}/secure/app:1`]);
    const back = run(skopeo, ['inspect', '--raw', '--cert-dir', certDir, '--creds', 'bob:other', `docker://${srv.host}/secure/app:1`]).stdout;
    assert.equal(sha(Buffer.from(back)), img.manifestDigest);
    const client = join(dir, 'client');
    const pull = ocikit(['--store', client, 'copy', '-q', '--src-cert-dir', certDir, '--src-creds', `alice:${password}`, `docker://${srv.host}/hello:v1`, `oci:${join(dir, 'out')}:x`]);
    assert.equal(pull.code, 0, pull.stderr);
    const bad = ocikit(['--store', client, 'copy', '-q', '--src-cert-dir', certDir, '--src-creds', 'alice:nope', `docker://${srv.host}/hello:v1`, `oci:${join(dir, 'out2')}:x`]);
    assert.notEqual(bad.code, 0);

    // A plain request without credentials, and one with a wrong password: the challenge and the error body.
    const ca = readFileSync(join(certDir, 'ca.crt'));
    const tries: Array<Record<string, string>> = [{}, { Authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` }];
    for (const headers of tries) {
      const a = await raw(srv.url, 'GET', '/v2/', { ca, headers });
      assert.equal(a.status, 401);
      // Tokens by default (--auth token): the realm is this server's /token, over https here.
      assert.equal(a.headers['www-authenticate'], `Bearer realm="${srv.url}/token",service="ocikit"`);
      assert.equal(codeOf(a), 'UNAUTHORIZED');
    }
    const good = await raw(srv.url, 'GET', '/v2/', { ca, headers: { Authorization: `Basic ${Buffer.from(`alice:${password}`).toString('base64')}` } });
    assert.equal(good.status, 200);
    assert.doesNotMatch(srv.stderr(), new RegExp(password));
  });
});

describe('ocikit serve: bad flags are one line and exit 1, before anything listens', () => {
  it('--listen, --tls-cert without --tls-key, a non-bcrypt htpasswd, an address in use', async () => {
    const dir = tempDir('ocikit-serve-flags-');
    const store = join(dir, 'store');
    const bad = (args: string[], want: RegExp): string => {
      const r = ocikit(['--store', store, 'serve', ...args]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, want);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      return r.stderr;
    };
    bad(['--listen', 'nowhere'], /--listen: expected HOST:PORT/);
    bad(['--tls-cert', join(dir, 'c.pem')], /--tls-cert and --tls-key go together/);
    const md5 = spawnSync(requirePeer('htpasswd'), ['-mbn', 'carol', 'secret-md5'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(join(dir, 'md5'), md5 + '\n');
    const out = bad(['--htpasswd', join(dir, 'md5')], /line 1 is not a bcrypt hash \(make entries with htpasswd -B/);
    assert.doesNotMatch(out, new RegExp(md5.split(':')[1]!.replace(/[$./]/g, '\\$&')));
    // A file named htpasswd: its name before the colon is no credential, and the message stays whole.
    const bcrypt = spawnSync(requirePeer('htpasswd'), ['-Bbn', 'dave', 'ok'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(join(dir, 'htpasswd'), `${bcrypt}\n${md5}\n`);
    bad(['--htpasswd', join(dir, 'htpasswd')], /htpasswd: line 2 is not a bcrypt hash \(make entries/);
    const srv = await startServe(store);
    try {
      bad(['--listen', srv.host], /cannot listen on .*: the address is in use/);
    } finally {
      await srv.stop();
    }
  });
});
