/**
 * `ocikit serve --htpasswd --access`: users with different rights, logged in with the real
 * clients — docker (a private dockerd), podman and skopeo — through Bearer tokens from the server's
 * /token endpoint (what every one of them does on its own), plus Basic mode and the config's errors.
 *
 *   alice: admin            bob: pulls and pushes team/**      carol: pulls team/**
 *   dave: no repository     anyone (no credentials): pulls public/*
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ocikit, run } from '../helpers/cli.js';
import { startDockerd, type DockerEngine } from '../../support/dockerd.js';
import { sha } from '../../support/digest.js';
import { ociImage, randomLayer } from '../helpers/layer-images.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { podmanStore } from '../../support/podman.js';
import { startServe, type ServeHandle } from '../helpers/serve.js';
import { storeSnapshot } from '../helpers/store.js';

const PASSWORDS: Record<string, string> = { alice: 'alice-pw-1', bob: 'bob-pw-2', carol: 'carol-pw-3', dave: 'dave-pw-4' };
const ACCESS = `# who may do what
admins: [alice]
repositories:
  - match: "team/**"
    pull: [carol]
    push: [bob]
  - match: "public/*"
    pull: [anonymous]
`;

function writeUsers(dir: string): string {
  const htpasswd = requirePeer('htpasswd');
  const path = join(dir, 'htpasswd');
  writeFileSync(
    path,
    Object.entries(PASSWORDS)
      .map(([u, p]) => spawnSync(htpasswd, ['-Bbn', u, p], { encoding: 'utf8' }).stdout.trim())
      .join('\n') + '\n',
  );
  return path;
}

/** A token for `user` (undefined: anonymous) with these scopes, from the server's /token. */
async function token(url: string, user: string | undefined, scope: string): Promise<string> {
  const headers: Record<string, string> = user ? { Authorization: `Basic ${Buffer.from(`${user}:${PASSWORDS[user]}`).toString('base64')}` } : {};
  const r = await fetch(`${url}/token?service=ocikit&scope=${encodeURIComponent(scope)}`, { headers });
  assert.equal(r.status, 200);
  return ((await r.json()) as { token: string }).token;
}

function decodeAccess(t: string): unknown {
  return (JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { access: unknown }).access;
}

describe('ocikit serve --htpasswd --access: per-repository rights with docker, podman and skopeo', () => {
  let dir: string;
  let store: string;
  let srv: ServeHandle;
  let skopeo: string;
  let secretLayer: string;

  before(async () => {
    skopeo = requirePeer('skopeo');
    dir = tempDir('ocikit-serve-access-');
    store = join(dir, 'store');
    for (const name of ['store:team/app:1', 'store:public/hello:1']) {
      const r = ocikit(['--store', store, 'copy', '-q', `oci:${fixture('hello-oci')}:latest`, name]);
      assert.equal(r.code, 0, r.stderr);
    }
    const secret = ociImage(join(dir, 'secret'), [randomLayer(30_000)]);
    secretLayer = secret.layers[0]!.digest;
    assert.equal(ocikit(['--store', store, 'copy', '-q', secret.ref, 'store:secret/x:1']).code, 0);
    writeFileSync(join(dir, 'access.yaml'), ACCESS);
    srv = await startServe(store, ['--htpasswd', writeUsers(dir), '--access', join(dir, 'access.yaml')]);
  });
  after(async () => {
    await srv?.stop();
  });

  it('tokens grant only what the policy allows; catalogs list only what the user may pull; a blob is read only through a repository that holds it', async () => {
    assert.deepEqual(decodeAccess(await token(srv.url, 'carol', 'repository:team/app:pull,push')), [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    assert.deepEqual(decodeAccess(await token(srv.url, 'bob', 'repository:team/app:pull,push,delete')), [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
    assert.deepEqual(decodeAccess(await token(srv.url, 'alice', 'repository:secret/x:*')), [{ type: 'repository', name: 'secret/x', actions: ['pull', 'push', 'delete'] }]);
    assert.deepEqual(decodeAccess(await token(srv.url, undefined, 'repository:team/app:pull repository:public/hello:pull')), [{ type: 'repository', name: 'public/hello', actions: ['pull'] }]);
    const bad = await fetch(`${srv.url}/token?service=ocikit&scope=repository:team/app:pull`, { headers: { Authorization: `Basic ${Buffer.from('carol:wrong').toString('base64')}` } });
    assert.equal(bad.status, 401);

    const catalog = async (user: string): Promise<string[]> => {
      const t = await token(srv.url, user, 'registry:catalog:*');
      return ((await (await fetch(`${srv.url}/v2/_catalog`, { headers: { Authorization: `Bearer ${t}` } })).json()) as { repositories: string[] }).repositories;
    };
    assert.deepEqual(await catalog('alice'), ['public/hello', 'secret/x', 'team/app']);
    assert.deepEqual(await catalog('carol'), ['public/hello', 'team/app']);
    assert.deepEqual(await catalog('dave'), ['public/hello']);

    // carol may pull team/app, but secret/x's layer is not team/app's: 404 there, as for any stranger.
    const t = await token(srv.url, 'carol', 'repository:team/app:pull');
    const viaTeam = await fetch(`${srv.url}/v2/team/app/blobs/${secretLayer}`, { headers: { Authorization: `Bearer ${t}` } });
    assert.equal(viaTeam.status, 404);
    const forged = t.slice(0, -4) + (t.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.equal((await fetch(`${srv.url}/v2/team/app/tags/list`, { headers: { Authorization: `Bearer ${forged}` } })).status, 401);
    // An upload session is push business, its status too: bob's session is not carol's to look at.
    const bobToken = await token(srv.url, 'bob', 'repository:team/app:pull,push');
    const session = await fetch(`${srv.url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: { Authorization: `Bearer ${bobToken}` } });
    assert.equal(session.status, 202);
    const status = await fetch(`${srv.url}${session.headers.get('location')!}`, { headers: { Authorization: `Bearer ${t}` } });
    assert.ok(status.status === 401 || status.status === 403, String(status.status));
    // Without a token: the challenge names the token endpoint and the scope.
    const anon = await fetch(`${srv.url}/v2/team/app/tags/list`);
    assert.equal(anon.status, 401);
    assert.equal(anon.headers.get('www-authenticate'), `Bearer realm="${srv.url}/token",service="ocikit",scope="repository:team/app:pull"`);
  });

  it('skopeo: carol pulls team/ but may not push or delete; dave sees nothing of team/; anyone pulls public/; bob pushes', () => {
    const ok = (args: string[]): string => run(skopeo, ['--insecure-policy', ...args]).stdout;
    const fails = (args: string[], want: RegExp): void => {
      const r = run(skopeo, ['--insecure-policy', ...args], { allowFail: true });
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, want, args.join(' '));
    };
    const creds = (u: string): string => `${u}:${PASSWORDS[u]}`;
    const before = storeSnapshot(store);
    assert.match(ok(['inspect', '--raw', '--tls-verify=false', '--creds', creds('carol'), `docker://${srv.host}/team/app:1`]), /schemaVersion/);
    const img = ociImage(join(dir, 'sk'), [randomLayer(40_000)]);
    fails(['copy', '-q', '--dest-tls-verify=false', '--dest-creds', creds('carol'), img.ref, `docker://${srv.host}/team/app:carol`], /denied|unauthorized/i);
    fails(['delete', '--tls-verify=false', '--creds', creds('carol'), `docker://${srv.host}/team/app:1`], /denied|unauthorized/i);
    fails(['inspect', '--raw', '--tls-verify=false', '--creds', creds('dave'), `docker://${srv.host}/team/app:1`], /denied|unauthorized/i);
    fails(['inspect', '--raw', '--tls-verify=false', '--no-creds', `docker://${srv.host}/team/app:1`], /unauthorized|authentication required/i);
    assert.deepEqual(storeSnapshot(store).refs, before.refs);
    assert.match(ok(['inspect', '--raw', '--tls-verify=false', '--no-creds', `docker://${srv.host}/public/hello:1`]), /schemaVersion/);
    ok(['copy', '-q', '--dest-tls-verify=false', '--dest-creds', creds('bob'), img.ref, `docker://${srv.host}/team/sk:1`]);
    assert.equal(sha(Buffer.from(ok(['inspect', '--raw', '--tls-verify=false', '--creds', creds('carol'), `docker://${srv.host}/team/sk:1`]))), img.manifestDigest);
    // Deleting needs the delete right: bob has none, alice (admin) has every right.
    fails(['delete', '--tls-verify=false', '--creds', creds('bob'), `docker://${srv.host}/team/sk:1`], /denied|unauthorized/i);
    ok(['delete', '--tls-verify=false', '--creds', creds('alice'), `docker://${srv.host}/team/sk:1`]);
  });

  it('podman: logged in as bob it pushes to team/; as carol it pulls that back and is refused a push; without login it pulls public/', () => {
    const p = podmanStore();
    const auth = (u: string): string => join(p.root, `${u}.json`);
    for (const u of ['bob', 'carol']) {
      const r = spawnSync(requirePeer('podman'), ['login', '--tls-verify=false', '--authfile', auth(u), '-u', u, '--password-stdin', srv.host], { input: PASSWORDS[u], encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    p.podman(['pull', '-q', '--tls-verify=false', `${srv.host}/public/hello:1`]);
    p.podman(['tag', `${srv.host}/public/hello:1`, `${srv.host}/team/from-podman:1`]);
    p.podman(['push', '-q', '--tls-verify=false', '--authfile', auth('bob'), `${srv.host}/team/from-podman:1`]);
    p.podman(['rmi', `${srv.host}/team/from-podman:1`]);
    p.podman(['pull', '-q', '--tls-verify=false', '--authfile', auth('carol'), `${srv.host}/team/from-podman:1`]);
    p.podman(['tag', `${srv.host}/public/hello:1`, `${srv.host}/team/by-carol:1`]);
    const refused = p.podman(['push', '-q', '--tls-verify=false', '--authfile', auth('carol'), `${srv.host}/team/by-carol:1`], { allowFail: true });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /denied|unauthorized/i);
    const anon = p.podman(['pull', '-q', '--tls-verify=false', `${srv.host}/team/app:1`], { allowFail: true });
    assert.notEqual(anon.code, 0);
  });

  describe('docker', () => {
    let engine: DockerEngine | undefined;
    let config: string;
    before(async () => {
      engine = await startDockerd({ insecureRegistries: [srv.host] });
      config = join(dir, 'docker-config');
      mkdirSync(config);
    });
    after(async () => {
      await engine?.stop();
    });

    it('docker login as bob pushes to team/; as carol pulls it and is denied a push; a wrong password is refused at login', () => {
      const d = (args: string[], opts: { allowFail?: boolean; input?: Buffer } = {}): ReturnType<DockerEngine['docker']> => engine!.docker(['--config', config, ...args], opts);
      const wrong = d(['login', '-u', 'bob', '--password-stdin', srv.host], { input: Buffer.from('nope'), allowFail: true });
      assert.notEqual(wrong.code, 0);
      d(['login', '-u', 'bob', '--password-stdin', srv.host], { input: Buffer.from(PASSWORDS.bob!) });
      d(['pull', '-q', `${srv.host}/public/hello:1`]);
      d(['tag', `${srv.host}/public/hello:1`, `${srv.host}/team/from-docker:1`]);
      d(['push', '-q', `${srv.host}/team/from-docker:1`]);
      d(['login', '-u', 'carol', '--password-stdin', srv.host], { input: Buffer.from(PASSWORDS.carol!) });
      d(['rmi', `${srv.host}/team/from-docker:1`]);
      d(['pull', '-q', `${srv.host}/team/from-docker:1`]);
      d(['tag', `${srv.host}/public/hello:1`, `${srv.host}/team/by-carol:2`]);
      const refused = d(['push', `${srv.host}/team/by-carol:2`], { allowFail: true });
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr + refused.stdout, /denied|unauthorized/i);
      const refs = storeSnapshot(store).refs.join('\n');
      assert.match(refs, /store:team\/from-docker:1 /);
      assert.doesNotMatch(refs, /by-carol/);
    });
  });
});

describe('ocikit serve --auth basic and --access errors', () => {
  it('--auth basic challenges with Basic and checks the same rights', async () => {
    const dir = tempDir('ocikit-serve-access-basic-');
    const store = join(dir, 'store');
    assert.equal(ocikit(['--store', store, 'copy', '-q', `oci:${fixture('hello-oci')}:latest`, 'store:team/app:1']).code, 0);
    writeFileSync(join(dir, 'access.yaml'), ACCESS);
    const srv = await startServe(store, ['--htpasswd', writeUsers(dir), '--access', join(dir, 'access.yaml'), '--auth', 'basic']);
    try {
      const basic = (u: string): Record<string, string> => ({ Authorization: `Basic ${Buffer.from(`${u}:${PASSWORDS[u]}`).toString('base64')}` });
      const anon = await fetch(`${srv.url}/v2/team/app/tags/list`);
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="ocikit"');
      assert.equal((await fetch(`${srv.url}/v2/team/app/tags/list`, { headers: basic('carol') })).status, 200);
      const denied = await fetch(`${srv.url}/v2/team/app/tags/list`, { headers: basic('dave') });
      assert.equal(denied.status, 403);
      assert.equal(((await denied.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, 'DENIED');
      assert.equal((await fetch(`${srv.url}/token`)).status, 404);
    } finally {
      await srv.stop();
    }
  });

  it('an access file with a mistake is one line naming the file, line and key; nothing listens', () => {
    const dir = tempDir('ocikit-serve-access-bad-');
    const users = writeUsers(dir);
    const cases: Array<[string, RegExp]> = [
      ['admins: [alice]\nrepositories:\n  - match: "team/**"\n    pull: [mallory]\n', /access\.yaml:4: pull: "mallory" is not a user of the --htpasswd file/],
      ['admins: [alice]\nrepositories:\n  - match: "team/**"\n    pul: [bob]\n', /access\.yaml:4: "pul": unknown key/],
      ['admins: [alice]\nadmins: [bob]\n', /access\.yaml:2: duplicate key "admins"/],
      ['repositories:\n  - pull: [bob]\n', /access\.yaml:2: repositories: an entry has no "match"/],
      ['repositories:\n  - match: "Team/*"\n', /access\.yaml:2: match: expected a repository pattern/],
    ];
    for (const [text, want] of cases) {
      writeFileSync(join(dir, 'access.yaml'), text);
      const r = ocikit(['--store', join(dir, 'store'), 'serve', '--listen', '127.0.0.1:0', '--htpasswd', users, '--access', join(dir, 'access.yaml')]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, want);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
