/**
 * Registry authentication against real registries: htpasswd Basic auth over TLS (CA made with
 * openssl), and Bearer tokens from a token server signing JWTs with a key made here. Credentials
 * from flags, auth files written by login, and a docker-credential helper; scopes, caching and
 * expiry of tokens; secrets never in output.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { copyImage } from '../../lib/copy/index.js';
import { digestBytes } from '../../lib/digest/index.js';
import { isOcikitError } from '../../lib/errors.js';
import { RegistryClient, Repository, closeDispatchers } from '../../lib/registry/index.js';
import { BlobStore } from '../../lib/store/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import { ocikit, ocikitAsync, run } from '../helpers/cli.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../helpers/peers.js';
import { startRegistry, startTokenServer, type RegistryHandle, type TokenServer } from '../helpers/registry.js';

const home = tempDir('ocikit-auth-home-');
process.env.HOME = home;
process.env.XDG_CONFIG_HOME = join(home, '.config');
process.env.XDG_RUNTIME_DIR = join(home, 'run');
delete process.env.REGISTRY_AUTH_FILE;
const baseEnv = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_RUNTIME_DIR: join(home, 'run'), OCIKIT_STORE: join(home, 'store') };

const HELLO = `oci:${fixture('hello-oci')}:latest`;
const HELLO_DIGEST = 'sha256:0f84579c704be60c6d3004afdf7a54631e413c026e4b8cf2dbb90aee9a3495f7';
const ALICE = { username: 'alice', password: 's3cret-Pa55word' };
const READER = { username: 'reader', password: 'reader-Pa55word' };
/** May do anything in repositories under w/, nothing elsewhere. */
const WRITER = { username: 'writer', password: 'writer-Pa55word' };

let basic: RegistryHandle;
let tokenReg: RegistryHandle;
let tokens: TokenServer;

before(async () => {
  tokens = await startTokenServer({
    users: [ALICE, READER, WRITER],
    grant: (user, repo, wanted) => (user === 'alice' ? wanted : user === 'reader' ? wanted.filter((a) => a === 'pull') : user === 'writer' && repo.startsWith('w/') ? wanted : []),
  });
  [basic, tokenReg] = await Promise.all([startRegistry({ htpasswd: [ALICE] }), startRegistry({ token: tokens })]);
});

after(async () => {
  await closeDispatchers();
  await Promise.all([basic.stop(), tokenReg.stop(), tokens.close()]);
});

function authFile(): string {
  return join(tempDir('ocikit-authfile-'), 'auth.json');
}

describe('Basic auth over TLS (htpasswd)', () => {
  it('without credentials: authentication required, exit 1, with a hint', () => {
    const r = ocikit(['inspect', '--raw', '--cert-dir', basic.certDir!, `docker://${basic.host}/x/y:z`], { env: baseEnv });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /authentication required/);
    assert.match(r.stderr, /ocikit login/);
  });

  it('a wrong password is E_AUTH and the password appears nowhere in the output', () => {
    const r = ocikit(['copy', '-q', '--dest-cert-dir', basic.certDir!, '--dest-creds', 'alice:Wr0ng-Secret-Value', HELLO, `docker://${basic.host}/x/y:z`], { env: baseEnv });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /rejected the credentials/);
    assert.doesNotMatch(r.stdout + r.stderr, /Wr0ng-Secret-Value/);
    assert.doesNotMatch(r.stdout + r.stderr, /YWxpY2U6V3Iw/, 'nor its base64');
  });

  it('--creds with --cert-dir pushes and pulls; the digest survives', () => {
    const image = `docker://${basic.host}/team/app:v1`;
    let r = ocikit(['copy', '-q', '--dest-cert-dir', basic.certDir!, '--dest-creds', `${ALICE.username}:${ALICE.password}`, HELLO, image], { env: baseEnv });
    assert.equal(r.code, 0, r.stderr);
    r = ocikit(['inspect', '--raw', '--cert-dir', basic.certDir!, '--username', ALICE.username, '--password', ALICE.password, image], { env: baseEnv });
    assert.equal(r.code, 0, r.stderr);
    // The bytes that come back are the fixture's manifest, byte for byte: its digest is the source's.
    assert.equal(digestBytes(Buffer.from(r.stdout, 'utf8')), HELLO_DIGEST);
    assert.deepEqual(Buffer.from(r.stdout, 'utf8'), readFileSync(join(fixture('hello-oci'), 'blobs', 'sha256', HELLO_DIGEST.slice(7))));
    r = ocikit(['inspect', '--cert-dir', basic.certDir!, '--creds', `${ALICE.username}:${ALICE.password}`, image], { env: baseEnv });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { Digest: string }).Digest, HELLO_DIGEST);
  });

  it('an untrusted certificate is refused with a hint; --tls-verify=false accepts it', () => {
    const image = `docker://${basic.host}/team/app:v1`;
    let r = ocikit(['inspect', '--raw', '--creds', `${ALICE.username}:${ALICE.password}`, image], { env: baseEnv });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /certificate .* not trusted/);
    assert.match(r.stderr, /--cert-dir/);
    r = ocikit(['inspect', '--raw', '--tls-verify=false', '--creds', `${ALICE.username}:${ALICE.password}`, image], { env: baseEnv });
    assert.equal(r.code, 0, r.stderr);
  });

  it('login writes a 0600 auth file that later commands use; --get-login; logout removes it', () => {
    const file = authFile();
    const env = { ...baseEnv, REGISTRY_AUTH_FILE: file };
    let r = ocikit(['login', '--cert-dir', basic.certDir!, '-u', ALICE.username, '--password-stdin', basic.host], { env, input: `${ALICE.password}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Login Succeeded/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const content = JSON.parse(readFileSync(file, 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(Buffer.from(content.auths[basic.host]!.auth, 'base64').toString(), `${ALICE.username}:${ALICE.password}`);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(ALICE.password));

    r = ocikit(['copy', '-q', '--dest-cert-dir', basic.certDir!, HELLO, `docker://${basic.host}/team/fromfile:v1`], { env });
    assert.equal(r.code, 0, r.stderr);
    r = ocikit(['login', '--get-login', basic.host], { env });
    assert.equal(r.stdout.trim(), ALICE.username);

    r = ocikit(['logout', basic.host], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual((JSON.parse(readFileSync(file, 'utf8')) as { auths: object }).auths, {});
    r = ocikit(['logout', basic.host], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not logged in/);
    r = ocikit(['inspect', '--raw', '--cert-dir', basic.certDir!, `docker://${basic.host}/team/fromfile:v1`], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /authentication required/);
  });

  it('login with a wrong password fails and writes nothing', () => {
    const file = authFile();
    const r = ocikit(['login', '--cert-dir', basic.certDir!, '--authfile', file, '-u', ALICE.username, '-p', 'not-her-password', basic.host], { env: baseEnv });
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.stderr, /not-her-password/);
    assert.equal(existsSync(file), false);
  });

  it('logout --all empties the auth file', () => {
    const file = authFile();
    writeFileSync(file, JSON.stringify({ auths: { 'a.example': { auth: 'eDp5' }, 'b.example': { auth: 'eDp5' } }, credHelpers: {} }));
    const r = ocikit(['logout', '--all', '--authfile', file], { env: baseEnv });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).auths, {});
  });

  it('credentials from a docker-credential helper named in credHelpers', () => {
    const bin = tempDir('ocikit-helper-');
    const helper = join(bin, 'docker-credential-ocikittest');
    // A real helper program speaking the protocol: the server URL on stdin, JSON on stdout.
    writeFileSync(
      helper,
      `#!/bin/sh\nread server\nif [ "$1" = get ] && [ "$server" = "${basic.host}" ]; then\n  printf '{"ServerURL":"%s","Username":"${ALICE.username}","Secret":"${ALICE.password}"}' "$server"\n  exit 0\nfi\necho "credentials not found in native keychain"\nexit 1\n`,
    );
    chmodSync(helper, 0o755);
    const file = authFile();
    writeFileSync(file, JSON.stringify({ auths: {}, credHelpers: { [basic.host]: 'ocikittest' } }));
    const r = ocikit(['inspect', '--raw', '--cert-dir', basic.certDir!, '--authfile', file, `docker://${basic.host}/team/app:v1`], { env: { ...baseEnv, PATH: `${bin}:${process.env.PATH}` } });
    assert.equal(r.code, 0, r.stderr);
  });

  it('skopeo reads what ocikit pushed to the authenticated TLS registry', () => {
    const image = `docker://${basic.host}/team/app:v1`;
    const out = tempDir();
    run(requirePeer('skopeo'), ['copy', '--src-cert-dir', basic.certDir!, '--src-creds', `${ALICE.username}:${ALICE.password}`, image, `oci:${out}:x`]);
    assert.equal((JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> }).manifests[0]!.digest, HELLO_DIGEST);
  });
});

describe('Bearer token auth', () => {
  before(async () => {
    // The image the read-side tests use.
    const store = BlobStore.open(tempDir());
    try {
      await copyImage(parseImageName(HELLO), parseImageName(`docker://${tokenReg.host}/t/app:v1`), { store, destCtx: { registry: { tlsVerify: false, credentials: ALICE } } });
    } finally {
      store.close();
    }
  });

  it('anonymous access gets no token scope and fails with E_AUTH', async () => {
    tokens.requests.length = 0;
    const r = await ocikitAsync(['inspect', '--raw', '--tls-verify=false', `docker://${tokenReg.host}/t/anon:v1`], { env: baseEnv });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ocikit: reading manifest v1 from docker:\/\/[^ ]+\/t\/anon: (authentication required|access denied)/);
    // It asked as nobody, for pull on that repository, and was granted nothing.
    assert.ok(tokens.requests.length >= 1, 'the token service was asked');
    for (const t of tokens.requests) {
      assert.equal(t.user, undefined, 'no credentials were sent');
      assert.ok(t.scopes.includes('repository:t/anon:pull'), JSON.stringify(t.scopes));
      assert.deepEqual(
        t.granted.flatMap((g) => g.actions),
        [],
        'no action granted',
      );
    }
  });

  it('a push asks for pull,push once and reuses the token for every request', async () => {
    const store = BlobStore.open(tempDir());
    tokens.requests.length = 0;
    try {
      const res = await copyImage(parseImageName(HELLO), parseImageName(`docker://${tokenReg.host}/t/push:v1`), { store, destCtx: { registry: { tlsVerify: false, credentials: ALICE } } });
      assert.equal(res.manifestDigest, HELLO_DIGEST);
      assert.equal(tokens.requests.length, 1, JSON.stringify(tokens.requests.map((t) => t.scopes)));
      assert.ok(tokens.requests[0]!.scopes.includes('repository:t/push:pull,push'));
      assert.equal(tokens.requests[0]!.user, 'alice');
      assert.equal(tokens.requests[0]!.service, tokens.service);
    } finally {
      store.close();
    }
  });

  it('a cross-repository mount asks for pull on the source repository', async () => {
    const store = BlobStore.open(tempDir());
    try {
      await copyImage(parseImageName(HELLO), parseImageName(`docker://${tokenReg.host}/t/m1:v1`), { store, destCtx: { registry: { tlsVerify: false, credentials: ALICE } } });
      tokens.requests.length = 0;
      const res = await copyImage(parseImageName(HELLO), parseImageName(`docker://${tokenReg.host}/t/m2:v1`), { store, destCtx: { registry: { tlsVerify: false, credentials: ALICE } } });
      assert.equal(res.blobsReused, 3);
      assert.ok(
        tokens.requests.some((t) => t.scopes.includes('repository:t/m1:pull') && t.scopes.includes('repository:t/m2:pull,push')),
        JSON.stringify(tokens.requests.map((t) => t.scopes)),
      );
    } finally {
      store.close();
    }
  });

  it('a copy between two repositories mounts from the source, with one token that may pull it', async () => {
    const store = BlobStore.open(tempDir());
    try {
      await copyImage(parseImageName(HELLO), parseImageName(`docker://${tokenReg.host}/t/promote-src:v1`), { store, destCtx: { registry: { tlsVerify: false, credentials: ALICE } } });
    } finally {
      store.close();
    }
    const fresh = BlobStore.open(tempDir());
    tokens.requests.length = 0;
    try {
      const ctx = { registry: { tlsVerify: false, credentials: ALICE } };
      const res = await copyImage(parseImageName(`docker://${tokenReg.host}/t/promote-src:v1`), parseImageName(`docker://${tokenReg.host}/t/promote-dst:v1`), {
        store: fresh,
        sourceCtx: ctx,
        destCtx: ctx,
      });
      assert.equal(res.manifestDigest, HELLO_DIGEST);
      assert.equal(res.blobsReused, 3, 'every blob mounted');
      assert.equal(res.bytesRead, 0, 'nothing downloaded');
      assert.ok(
        tokens.requests.some((t) => t.scopes.includes('repository:t/promote-src:pull') && t.scopes.includes('repository:t/promote-dst:pull,push')),
        JSON.stringify(tokens.requests.map((t) => t.scopes)),
      );
    } finally {
      fresh.close();
    }
  });

  it('a mount from a repository the user may not read falls back to an upload, asked once per repository', async () => {
    const store = BlobStore.open(tempDir());
    try {
      // The store learns that t/private holds the blobs (alice pushed them there)...
      await copyImage(parseImageName(HELLO), parseImageName(`docker://${tokenReg.host}/t/private:v1`), { store, destCtx: { registry: { tlsVerify: false, credentials: ALICE } } });
      tokens.requests.length = 0;
      // ... but writer may not read it: the mount is refused, and the upload goes on.
      const res = await copyImage(parseImageName(HELLO), parseImageName(`docker://${tokenReg.host}/w/app:v1`), { store, destCtx: { registry: { tlsVerify: false, credentials: WRITER } } });
      assert.equal(res.manifestDigest, HELLO_DIGEST);
      assert.equal(res.blobsCopied, 3);
      const askedForPrivate = tokens.requests.filter((t) => t.scopes.includes('repository:t/private:pull'));
      // One mount was tried (a token, and a fresh one when the registry said it was not enough); the other blobs did not ask.
      assert.equal(askedForPrivate.length, 2, JSON.stringify(tokens.requests.map((t) => t.scopes)));
      assert.ok(askedForPrivate.every((t) => t.granted.find((g) => g.name === 't/private')?.actions.length === 0));
      // Async: the token server runs in this process.
      const r = await ocikitAsync(['inspect', '--raw', '--tls-verify=false', '--creds', `${WRITER.username}:${WRITER.password}`, `docker://${tokenReg.host}/w/app:v1`], { env: baseEnv });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(digestBytes(Buffer.from(r.stdout, 'utf8')), HELLO_DIGEST);
    } finally {
      store.close();
    }
  });

  it('a user with pull only can read but not push (E_AUTH)', async () => {
    const store = BlobStore.open(tempDir());
    try {
      const src = await parseImageName(`docker://${tokenReg.host}/t/app:v1`).newSource({ store, registry: { tlsVerify: false, credentials: READER } });
      assert.equal((await src.getManifest()).bytes.length > 0, true);
      await src.close();
      await assert.rejects(
        copyImage(parseImageName(HELLO), parseImageName(`docker://${tokenReg.host}/t/readonly:v1`), { store, destCtx: { registry: { tlsVerify: false, credentials: READER } } }),
        (err) => isOcikitError(err, 'E_AUTH') && /access denied: not allowed to \S*push\S* t\/readonly/.test((err as Error).message),
      );
    } finally {
      store.close();
    }
  });

  it('a wrong password is refused by the token service, and not echoed', async () => {
    const r = await ocikitAsync(['inspect', '--raw', '--tls-verify=false', '--creds', 'alice:Totally-Wrong-9', `docker://${tokenReg.host}/t/app:v1`], { env: baseEnv });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused the credentials/);
    assert.doesNotMatch(r.stderr, /Totally-Wrong-9/);
  });

  it('tokens are cached per scope and fetched again when they expire', async () => {
    const repo = new Repository(new RegistryClient(tokenReg.host, { tlsVerify: false, credentials: ALICE }), 't/app');
    tokens.requests.length = 0;
    await repo.listTags();
    await repo.listTags();
    assert.equal(tokens.requests.length, 1, 'a fresh token is reused');

    // Tokens issued 58 s ago with a 60 s life are too close to expiry to use twice.
    tokens.options.issuedAgoS = 58;
    tokens.options.expiresIn = 60;
    try {
      const stale = new Repository(new RegistryClient(tokenReg.host, { tlsVerify: false, credentials: ALICE }), 't/app');
      tokens.requests.length = 0;
      await stale.listTags();
      await stale.listTags();
      assert.equal(tokens.requests.length, 2);
    } finally {
      delete tokens.options.issuedAgoS;
      delete tokens.options.expiresIn;
    }
  });

  it('--registry-token is sent as is; a bad one is E_AUTH', async () => {
    const good = tokens.sign('alice', [{ name: 't/app', actions: ['pull'] }]);
    tokens.requests.length = 0;
    let r = await ocikitAsync(['inspect', '--raw', '--tls-verify=false', '--registry-token', good, `docker://${tokenReg.host}/t/app:v1`], { env: baseEnv });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(tokens.requests.length, 0, 'no token was requested');
    r = await ocikitAsync(['inspect', '--raw', '--tls-verify=false', '--registry-token', 'garbage.token.value', `docker://${tokenReg.host}/t/app:v1`], { env: baseEnv });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /authentication failed/);
    assert.doesNotMatch(r.stderr, /garbage\.token\.value/);
  });

  it('login against a token registry checks the credentials with the token service', async () => {
    const file = authFile();
    let r = await ocikitAsync(['login', '--tls-verify=false', '--authfile', file, '-u', ALICE.username, '-p', ALICE.password, tokenReg.host], { env: baseEnv });
    assert.equal(r.code, 0, r.stderr);
    r = await ocikitAsync(['login', '--tls-verify=false', '--authfile', authFile(), '-u', ALICE.username, '-p', 'nope-nope', tokenReg.host], { env: baseEnv });
    assert.equal(r.code, 1);
    r = await ocikitAsync(['list-tags', '--tls-verify=false', '--authfile', file, `docker://${tokenReg.host}/t/app`], { env: baseEnv });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).Tags, ['v1']);
  });

  it('an identity token from the auth file is exchanged with POST (OAuth2 refresh grant)', async () => {
    tokens.options.refreshTokens = { 'alice-refresh-token': 'alice' };
    const file = authFile();
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, JSON.stringify({ auths: { [tokenReg.host]: { auth: Buffer.from('alice:').toString('base64'), identitytoken: 'alice-refresh-token' } } }));
    tokens.requests.length = 0;
    const store = BlobStore.open(tempDir());
    try {
      await copyImage(parseImageName(HELLO), parseImageName(`docker://${tokenReg.host}/t/identity:v1`), { store, destCtx: { registry: { tlsVerify: false, authFile: file } } });
      assert.equal(tokens.requests.length, 1);
      assert.equal(tokens.requests[0]!.method, 'POST');
      assert.equal(tokens.requests[0]!.user, 'alice');
      assert.ok(tokens.requests[0]!.scopes.includes('repository:t/identity:pull,push'));
    } finally {
      store.close();
      delete tokens.options.refreshTokens;
    }
  });

  it('namespaced auth file entries win over the registry-wide one', async () => {
    const file = authFile();
    mkdirSync(join(file, '..'), { recursive: true });
    const b64 = (u: { username: string; password: string }): string => Buffer.from(`${u.username}:${u.password}`).toString('base64');
    writeFileSync(file, JSON.stringify({ auths: { [tokenReg.host]: { auth: b64(READER) }, [`${tokenReg.host}/t/ns`]: { auth: b64(ALICE) } } }));
    const store = BlobStore.open(tempDir());
    try {
      // alice (namespaced entry) may push to t/ns; reader (host entry) may not push to t/other.
      await copyImage(parseImageName(HELLO), parseImageName(`docker://${tokenReg.host}/t/ns:v1`), { store, destCtx: { registry: { tlsVerify: false, authFile: file } } });
      await assert.rejects(copyImage(parseImageName(HELLO), parseImageName(`docker://${tokenReg.host}/t/other:v1`), { store, destCtx: { registry: { tlsVerify: false, authFile: file } } }), (err) =>
        isOcikitError(err, 'E_AUTH'),
      );
    } finally {
      store.close();
    }
  });
});
