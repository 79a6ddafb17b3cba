/**
 * Auth files: which files are read in which order, namespaced keys, docker's legacy keys,
 * credential helpers (a real helper program), and writing with mode 0600.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isOcikitError } from '../../lib/errors.js';
import { authFileLocations, candidateKeys, defaultAuthFile, lookupCredentials, normalizeAuthKey, removeCredentials, storeCredentials } from '../../lib/auth/index.js';
import { tempDir } from '../helpers/paths.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function envIn(dir: string): NodeJS.ProcessEnv {
  return { HOME: dir, XDG_RUNTIME_DIR: join(dir, 'run'), XDG_CONFIG_HOME: join(dir, 'cfg') };
}

describe('auth file locations', () => {
  it('reads $XDG_RUNTIME_DIR/containers/auth.json, then ~/.config, ~/.docker/config.json, ~/.dockercfg', () => {
    const env = envIn('/h');
    assert.deepEqual(
      authFileLocations(undefined, env).map((l) => l.path),
      ['/h/run/containers/auth.json', '/h/cfg/containers/auth.json', '/h/.docker/config.json', '/h/.dockercfg'],
    );
  });

  it('REGISTRY_AUTH_FILE replaces the default; --authfile is the only file read', () => {
    assert.equal(defaultAuthFile({ ...envIn('/h'), REGISTRY_AUTH_FILE: '/x/a.json' }), '/x/a.json');
    assert.deepEqual(
      authFileLocations('/only.json', envIn('/h')).map((l) => l.path),
      ['/only.json'],
    );
  });

  it('normalises docker-style keys and tries namespaced keys first', () => {
    assert.equal(normalizeAuthKey('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(normalizeAuthKey('https://quay.io'), 'quay.io');
    assert.equal(normalizeAuthKey('localhost:5000/'), 'localhost:5000');
    assert.deepEqual(candidateKeys('r.io', 'a/b/c'), ['r.io/a/b/c', 'r.io/a/b', 'r.io/a', 'r.io']);
  });
});

describe('lookupCredentials', () => {
  it('finds the most specific entry across the files, in order', async () => {
    const d = tempDir();
    const env = envIn(d);
    mkdirSync(join(d, 'run', 'containers'), { recursive: true });
    mkdirSync(join(d, '.docker'));
    writeFileSync(join(d, 'run', 'containers', 'auth.json'), JSON.stringify({ auths: { 'r.io/team': { auth: b64('team:tpw') } } }));
    writeFileSync(join(d, '.docker', 'config.json'), JSON.stringify({ auths: { 'https://r.io/v1/': { auth: b64('docker:dpw') }, 'https://index.docker.io/v1/': { auth: b64('hub:hpw') } } }));
    const team = await lookupCredentials('r.io', 'team/app', { env });
    assert.deepEqual(team?.credentials, { kind: 'basic', username: 'team', password: 'tpw' });
    const other = await lookupCredentials('r.io', 'other/app', { env });
    assert.deepEqual(other?.credentials, { kind: 'basic', username: 'docker', password: 'dpw' });
    assert.equal(other?.source, join(d, '.docker', 'config.json'));
    const hub = await lookupCredentials('docker.io', 'library/busybox', { env });
    assert.equal(hub?.credentials.username, 'hub');
    assert.equal(await lookupCredentials('none.io', undefined, { env }), undefined);
  });

  it('reads the legacy ~/.dockercfg and identity tokens', async () => {
    const d = tempDir();
    writeFileSync(join(d, '.dockercfg'), JSON.stringify({ 'old.io': { auth: b64('o:p') }, 'tok.io': { auth: b64('u:'), identitytoken: 'refresh-me' } }));
    assert.deepEqual((await lookupCredentials('old.io', undefined, { env: envIn(d) }))?.credentials, { kind: 'basic', username: 'o', password: 'p' });
    assert.deepEqual((await lookupCredentials('tok.io', undefined, { env: envIn(d) }))?.credentials, { kind: 'identity-token', username: 'u', token: 'refresh-me' });
  });

  it('a malformed file is E_BAD_INPUT naming the file and not its content', async () => {
    const d = tempDir();
    const f = join(d, 'a.json');
    writeFileSync(f, '{"auths": {"r.io": {"auth": "c2VjcmV0LXZhbHVl"}}');
    await assert.rejects(lookupCredentials('r.io', undefined, { authFile: f }), (err) => {
      assert.ok(isOcikitError(err, 'E_BAD_INPUT'));
      assert.match((err as Error).message, /a\.json: not valid JSON/);
      assert.doesNotMatch((err as Error).message, /c2VjcmV0/);
      return true;
    });
  });

  it('asks the credential helper named in credHelpers, then credsStore', async () => {
    const d = tempDir();
    const bin = join(d, 'bin');
    mkdirSync(bin);
    const helper = (name: string, user: string): void => {
      const p = join(bin, `docker-credential-${name}`);
      writeFileSync(p, `#!/bin/sh\nread s\n[ "$1" = get ] || exit 1\nprintf '{"ServerURL":"%s","Username":"${user}","Secret":"pw-%s"}' "$s" "$s"\n`);
      chmodSync(p, 0o755);
    };
    helper('one', 'from-one');
    helper('all', 'from-all');
    const f = join(d, 'auth.json');
    writeFileSync(f, JSON.stringify({ credHelpers: { 'h.io': 'one' }, credsStore: 'all' }));
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    try {
      assert.deepEqual((await lookupCredentials('h.io', undefined, { authFile: f }))?.credentials, { kind: 'basic', username: 'from-one', password: 'pw-h.io' });
      assert.deepEqual((await lookupCredentials('x.io', undefined, { authFile: f }))?.credentials, { kind: 'basic', username: 'from-all', password: 'pw-x.io' });
      writeFileSync(f, JSON.stringify({ credHelpers: { 'h.io': 'missing' } }));
      await assert.rejects(lookupCredentials('h.io', undefined, { authFile: f }), (err) => isOcikitError(err, 'E_AUTH') && /docker-credential-missing is not installed/.test((err as Error).message));
      writeFileSync(f, JSON.stringify({ credHelpers: { 'h.io': '../../bin/sh' } }));
      await assert.rejects(lookupCredentials('h.io', undefined, { authFile: f }), (err) => isOcikitError(err, 'E_BAD_INPUT'));
    } finally {
      process.env.PATH = oldPath;
    }
  });
});

describe('storeCredentials / removeCredentials', () => {
  it('writes 0600 in a 0700 directory, keeps other entries and keys, and removes only the named one', async () => {
    const d = tempDir();
    const f = join(d, 'new', 'auth.json');
    const old = process.umask(0o022);
    try {
      await storeCredentials('r.io', 'u', 'p:w', { authFile: f });
    } finally {
      process.umask(old);
    }
    assert.equal(statSync(f).mode & 0o777, 0o600);
    assert.equal(statSync(join(d, 'new')).mode & 0o777, 0o700);
    const content = JSON.parse(readFileSync(f, 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(Buffer.from(content.auths['r.io']!.auth, 'base64').toString(), 'u:p:w');
    writeFileSync(f, JSON.stringify({ ...content, credHelpers: {}, other: 1 }));
    await storeCredentials('r.io/team', 'v', 'q', { authFile: f });
    assert.deepEqual(Object.keys((JSON.parse(readFileSync(f, 'utf8')) as { auths: object }).auths).sort(), ['r.io', 'r.io/team']);
    assert.equal(await removeCredentials('r.io', { authFile: f }), true);
    const after = JSON.parse(readFileSync(f, 'utf8')) as { auths: object; other: number };
    assert.deepEqual(Object.keys(after.auths), ['r.io/team']);
    assert.equal(after.other, 1);
    assert.equal(await removeCredentials('r.io', { authFile: f }), false);
    assert.equal(statSync(f).mode & 0o777, 0o600);
  });
});
