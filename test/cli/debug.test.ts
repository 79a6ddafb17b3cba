/**
 * --debug: one line per registry request (method, URL, status, time, retry), one per copy decision
 * (a blob skipped, mounted, uploaded, compressed; the manifest already there), no credential in any
 * of it; and gpg's own output only under --debug, a failed verify being ocikit's one line.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeDispatchers } from '../../lib/registry/index.js';
import { gpgComplaint } from '../../lib/signature/simple-signing.js';
import { ocikit, ocikitAsync } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { gpgHome } from '../helpers/gpg.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { startRegistry, startTokenServer, type RegistryHandle, type TokenServer } from '../../support/registry.js';

const HELLO = `oci:${fixture('hello-oci')}:latest`;
const ALICE = { username: 'alice', password: 'debug-Pa55word-xyz' };
const home = tempDir('ocikit-debug-home-');
const env = { HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, '.config'), OCIKIT_STORE: join(home, 'store'), REGISTRY_AUTH_FILE: '' };

let reg: RegistryHandle;
let basic: RegistryHandle;
let tokens: TokenServer;
let bearer: RegistryHandle;
let proxy: FaultProxy;
let failFirstManifestPut = true;

before(async () => {
  tokens = await startTokenServer({ users: [ALICE] });
  [reg, basic, bearer] = await Promise.all([startRegistry(), startRegistry({ htpasswd: [ALICE] }), startRegistry({ token: tokens, tls: true })]);
  proxy = await startFaultProxy(reg.host, (r) => {
    if (r.method === 'PUT' && r.path.includes('/retried/') && r.path.includes('/manifests/') && failFirstManifestPut) {
      failFirstManifestPut = false;
      return { kind: 'status', status: 503 };
    }
    return { kind: 'pass' };
  });
});
after(async () => {
  await closeDispatchers();
  await proxy.close();
  await Promise.all([reg.stop(), basic.stop(), bearer.stop()]);
  await tokens.close();
});

const debugLines = (stderr: string): string[] => stderr.split('\n').filter((l) => /^debug \+\d+\.\d{3}s /.test(l));

describe('--debug', () => {
  it('a push: a line per request and per blob decision; never a credential', () => {
    const r = ocikit(['--debug', 'copy', '--dest-cert-dir', basic.certDir!, '--dest-creds', `${ALICE.username}:${ALICE.password}`, HELLO, `docker://${basic.host}/dbg/app:1`], { env });
    assert.equal(r.code, 0, r.stderr);
    const lines = debugLines(r.stderr);
    // The auth dance and the manifest, each exchange with its status and time.
    assert.ok(
      lines.some((l) => new RegExp(`HEAD https://${basic.host}/v2/dbg/app/manifests/1 401 \\d+ ms$`).test(l)),
      r.stderr,
    );
    assert.ok(
      lines.some((l) => new RegExp(`PUT https://${basic.host}/v2/dbg/app/manifests/1 201 \\d+ ms$`).test(l)),
      r.stderr,
    );
    // Each blob: what was planned, what the destination did, how it ended.
    assert.ok(
      lines.some((l) => /blob sha256:[0-9a-f]{12}: uploading \d+ bytes to /.test(l)),
      r.stderr,
    );
    assert.ok(
      lines.some((l) => /blob [0-9a-f]{12}: read from the source/.test(l)),
      r.stderr,
    );
    assert.doesNotMatch(r.stderr, new RegExp(ALICE.password));
    assert.doesNotMatch(r.stderr, /authorization|Basic [A-Za-z0-9+/=]{8,}/i);
    // Without --debug, none of it.
    const quiet = ocikit(['copy', '--dest-cert-dir', basic.certDir!, '--dest-creds', `${ALICE.username}:${ALICE.password}`, HELLO, `docker://${basic.host}/dbg/app:2`], { env });
    assert.deepEqual(debugLines(quiet.stderr), []);
  });

  it('a push again says the manifest is there; a copy between repositories says each blob was mounted', () => {
    const again = ocikit(['--debug', 'copy', '-q', '--dest-cert-dir', basic.certDir!, '--dest-creds', `${ALICE.username}:${ALICE.password}`, HELLO, `docker://${basic.host}/dbg/app:1`], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /manifest sha256:[0-9a-f]{12}: docker:\/\/\S+ shows it already: no blob is copied/);
    const creds = ['--src-cert-dir', basic.certDir!, '--dest-cert-dir', basic.certDir!, '--src-creds', `${ALICE.username}:${ALICE.password}`, '--dest-creds', `${ALICE.username}:${ALICE.password}`];
    const mount = ocikit(['--debug', 'copy', '-q', ...creds, `docker://${basic.host}/dbg/app:1`, `docker://${basic.host}/dbg/other:1`], { env });
    assert.equal(mount.code, 0, mount.stderr);
    assert.equal((mount.stderr.match(/blob sha256:[0-9a-f]{12}: mounted from dbg\/app, not uploaded/g) ?? []).length, 3, mount.stderr);
  });

  it('a bearer-token registry: the token request and each registry request get a line; no password, no token', async () => {
    // (Asynchronously: the token server runs in this process.)
    const creds = ['--dest-cert-dir', bearer.certDir!, '--dest-creds', `${ALICE.username}:${ALICE.password}`];
    const push = await ocikitAsync(['--debug', 'copy', '-q', ...creds, HELLO, `docker://${bearer.host}/dbg/tok:1`], { env });
    assert.equal(push.code, 0, push.stderr);
    const pull = await ocikitAsync(['--debug', 'inspect', '--cert-dir', bearer.certDir!, '--creds', `${ALICE.username}:${ALICE.password}`, `docker://${bearer.host}/dbg/tok:1`], { env });
    assert.equal(pull.code, 0, pull.stderr);
    for (const r of [push, pull]) {
      const lines = debugLines(r.stderr);
      // The token service is another origin: its query (scopes, account) is not shown.
      assert.ok(
        lines.some((l) => new RegExp(`GET ${tokens.url}/token\\?… 200 \\d+ ms$`).test(l)),
        r.stderr,
      );
      assert.ok(
        lines.some((l) => new RegExp(`(HEAD|GET) https://${bearer.host}/v2/dbg/tok/manifests/1 401 \\d+ ms$`).test(l)),
        r.stderr,
      );
      assert.ok(
        lines.some((l) => new RegExp(`${r === push ? 'PUT' : '(HEAD|GET)'} https://${bearer.host}/v2/dbg/tok/manifests/1 20[01] \\d+ ms$`).test(l)),
        r.stderr,
      );
      assert.doesNotMatch(r.stderr, new RegExp(ALICE.password));
      // No token: a JWT starts with the base64url of '{"'; no authorization header either.
      assert.doesNotMatch(r.stderr, /eyJ[A-Za-z0-9_-]{8,}|Bearer |authorization/i);
    }
    assert.ok(tokens.requests.length >= 2, 'tokens were issued');
    // An upload's signed session state is not shown; the digest it completes is.
    assert.match(push.stderr, /PUT https:\/\/\S+\/v2\/dbg\/tok\/blobs\/uploads\/[0-9a-f-]+\?_state=…&digest=sha256%3A[0-9a-f]{64} 201 \d+ ms\n/);
  });

  it('a retried request shows its retry', async () => {
    // (Asynchronously: the fault proxy runs in this process.)
    const r = await ocikitAsync(['--debug', 'copy', '-q', '--dest-tls-verify=false', '--retry-delay', '10ms', HELLO, `docker://${proxy.host}/retried/app:1`], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /PUT http:\/\/\S+\/manifests\/1 503 \d+ ms\n/);
    assert.match(r.stderr, /PUT http:\/\/\S+\/manifests\/1 201 \d+ ms \(retry 1\)/);
  });
});

describe('gpg output', () => {
  it("a failed verify is one ocikit line; gpg's own lines only with --debug", () => {
    const g = gpgHome();
    const trusted = g.genKey('Trusted <t@example.com>');
    const d = tempDir();
    writeFileSync(join(d, 'trusted.gpg'), g.exportKey(trusted));
    const policy = join(d, 'policy.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: join(d, 'trusted.gpg') }] }));
    // A dir: image whose signature is not an OpenPGP message gpg can read.
    const img = join(d, 'img');
    assert.equal(ocikit(['--insecure-policy', 'copy', '-q', HELLO, `dir:${img}`], { env }).code, 0);
    writeFileSync(join(img, 'signature-1'), Buffer.concat([Buffer.from([0xa3, 0x01]), Buffer.from('not really compressed data')]));
    const r = ocikit(['--policy', policy, 'copy', '-q', `dir:${img}`, `dir:${join(d, 'out')}`], { env: { ...env, ...g.env } });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^ocikit: source image dir:\S+ rejected by trust policy/);
    assert.doesNotMatch(r.stderr, /gpg:|trustdb|keybox/);
    const dbg = ocikit(['--debug', '--policy', policy, 'copy', '-q', `dir:${img}`, `dir:${join(d, 'out')}`], { env: { ...env, ...g.env } });
    assert.equal(dbg.code, 1);
    assert.match(dbg.stderr, /debug \+\S+ gpg --no-autostart --import: exit 0/);
    assert.match(dbg.stderr, /debug \+\S+ gpg: /);
  });

  it("gpg's trust-database chatter is never taken for the reason of a failure", () => {
    // Real chatter: a fresh home with a new key checks its trust database on the next listing.
    const dir = join(tempDir('okc-'), 'g');
    mkdirSync(dir, { mode: 0o700 });
    const gpg = (args: string[]): string => spawnSync(requirePeer('gpg'), ['--homedir', dir, '--batch', ...args], { encoding: 'utf8' }).stderr;
    const made = gpg(['--passphrase', '', '--quick-gen-key', 'Chatty <c@example.com>']);
    const listed = gpg(['--list-keys']);
    const checked = gpg(['--check-trustdb']);
    spawnSync('gpgconf', ['--homedir', dir, '--kill', 'all']);
    const chatter = `${made}${listed}${checked}gpg: no gpg-agent running in this session\n`;
    assert.match(chatter, /checking the trustdb/, 'gpg did chatter');
    assert.equal(gpgComplaint(`${chatter}gpg: decrypt_message failed: Unknown system error\n${chatter}`), 'decrypt_message failed: Unknown system error');
    assert.equal(gpgComplaint(chatter), 'gpg failed');
  });
});
