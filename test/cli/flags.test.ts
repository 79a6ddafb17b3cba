/**
 * The command line as skopeo's: `--no-*` flags that mean what they say (issue 9, bug 1), boolean
 * flags that never swallow the next argument (bug 4), hints that name the flag of the command at
 * hand, global flags before or after the command (--command-timeout, --tmpdir, --user-agent-prefix),
 * and errors as JSON under --json. Credential tests run against a real docker-registry with
 * htpasswd Basic auth behind a logging proxy, which tells whether an Authorization header was sent.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from '../../cli/flags.js';
import { copyImage } from '../../lib/copy/index.js';
import { closeDispatchers } from '../../lib/registry/index.js';
import { BlobStore } from '../../lib/store/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import { ocikit, ocikitAsync, run, runAsync, type RunResult } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../helpers/peers.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const HELLO = `oci:${fixture('hello-oci')}:latest`;
const HELLO_DIGEST = 'sha256:0f84579c704be60c6d3004afdf7a54631e413c026e4b8cf2dbb90aee9a3495f7';
const ALICE = { username: 'alice', password: 'flags-Pa55word' };

const home = tempDir('ocikit-flags-home-');
const env = { HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, '.config'), OCIKIT_STORE: join(home, 'store'), REGISTRY_AUTH_FILE: '' };
const authFile = join(home, 'auth.json');

let basic: RegistryHandle;
let proxy: FaultProxy;
let plain: RegistryHandle;

function skopeo(args: string[]): RunResult {
  return run(requirePeer('skopeo'), args, { allowFail: true, env });
}

/** skopeo talking to the proxy, which lives in this process: never spawnSync. */
function skopeoAsync(args: string[]): Promise<RunResult> {
  return runAsync(requirePeer('skopeo'), args, { env });
}

/** The requests the proxy saw while `fn` ran. */
async function seen<T>(fn: () => Promise<T> | T): Promise<{ value: T; requests: FaultProxy['requests'] }> {
  const start = proxy.requests.length;
  const value = await fn();
  return { value, requests: proxy.requests.slice(start) };
}

before(async () => {
  // Basic auth over plain http, so the logging proxy can stand in front of it.
  [basic, plain] = await Promise.all([startRegistry({ htpasswd: [ALICE], tls: false }), startRegistry()]);
  proxy = await startFaultProxy(basic.host);
  const store = BlobStore.open(tempDir());
  try {
    await copyImage(parseImageName(HELLO), parseImageName(`docker://${basic.host}/team/app:v1`), { store, destCtx: { registry: { tlsVerify: false, credentials: ALICE } } });
    await copyImage(parseImageName(HELLO), parseImageName(`docker://${plain.host}/open/app:v1`), { store, destCtx: { registry: { tlsVerify: false } } });
  } finally {
    store.close();
  }
  // An auth file that knows the registry: what --no-creds must NOT use.
  writeFileSync(authFile, JSON.stringify({ auths: { [proxy.host]: { auth: Buffer.from(`${ALICE.username}:${ALICE.password}`).toString('base64') } } }));
});

after(async () => {
  await closeDispatchers();
  await proxy.close();
  await Promise.all([basic.stop(), plain.stop()]);
});

describe('the flag parser', () => {
  const spec = { string: ['format', 'creds'], boolean: ['all', 'no-creds', 'tls-verify', 'quiet'], alias: { f: 'format', a: 'all', q: 'quiet' } };

  it('a boolean never takes the next argument; --flag=true|false sets it', () => {
    assert.deepEqual(parseArgs(['--tls-verify', 'dir:A', 'dir:B'], spec, 't'), { _: ['dir:A', 'dir:B'], 'tls-verify': true });
    assert.deepEqual(parseArgs(['--tls-verify=false', 'x'], spec, 't'), { _: ['x'], 'tls-verify': false });
    assert.deepEqual(parseArgs(['--tls-verify=0', '--all=T'], spec, 't'), { _: [], 'tls-verify': false, all: true });
    assert.throws(() => parseArgs(['--tls-verify=maybe'], spec, 't'), /--tls-verify: expected true or false/);
  });

  it('--no-creds is a flag of its own, not the negation of --creds', () => {
    assert.deepEqual(parseArgs(['--no-creds', 'x'], spec, 't'), { _: ['x'], 'no-creds': true });
    assert.throws(() => parseArgs(['--no-all'], spec, 't'), /unknown flag --no-all/);
  });

  it('values: --f=V, --f V, -f V, -fV; short booleans combine; -- ends flags', () => {
    assert.deepEqual(parseArgs(['-qa', '-fv2s2', '--creds=a:b', '--', '--all'], spec, 't'), { _: ['--all'], quiet: true, all: true, format: 'v2s2', creds: 'a:b' });
    assert.deepEqual(parseArgs(['-f', 'oci', '-'], spec, 't'), { _: ['-'], format: 'oci' });
    assert.throws(() => parseArgs(['--format'], spec, 't'), /--format needs a value/);
    assert.throws(() => parseArgs(['--format', 'a', '--format', 'b'], spec, 't'), /given more than once/);
    assert.throws(() => parseArgs(['-z'], spec, 't'), /unknown flag -z/);
  });
});

describe('boolean flags on the command line (issue 9, bug 4)', () => {
  it('copy --src-tls-verify dir:A dir:B copies, as skopeo does', () => {
    const d = tempDir();
    const a = join(d, 'a');
    assert.equal(ocikit(['copy', '-q', HELLO, `dir:${a}`], { env }).code, 0);
    const r = ocikit(['copy', '-q', '--src-tls-verify', `dir:${a}`, `dir:${join(d, 'b')}`], { env });
    const s = skopeo(['--insecure-policy', 'copy', '-q', '--src-tls-verify', `dir:${a}`, `dir:${join(d, 'c')}`]);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(d, 'b', 'manifest.json'), 'utf8'), readFileSync(join(d, 'c', 'manifest.json'), 'utf8'));
  });

  it('--dest-tls-verify=false and --tls-verify=false still turn verification off', () => {
    const r = ocikit(['inspect', '--raw', '--tls-verify=false', `docker://${plain.host}/open/app:v1`], { env });
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('--no-creds, --src-no-creds, --dest-no-creds, --no-tags (issue 9, bug 1)', () => {
  it('inspect --no-creds sends no Authorization header although the auth file has credentials (skopeo too)', async () => {
    const image = `docker://${proxy.host}/team/app:v1`;
    const o = await seen(() => ocikitAsync(['inspect', '--raw', '--tls-verify=false', '--authfile', authFile, '--no-creds', image], { env }));
    assert.equal(o.value.code, 1, o.value.stderr);
    assert.match(o.value.stderr, /authentication required/);
    assert.ok(o.requests.length > 0);
    assert.deepEqual(
      o.requests.filter((q) => q.headers.authorization !== undefined).map((q) => q.path),
      [],
    );
    // skopeo 1.9.3 sends empty credentials ("Basic Og==", base64 of ":"): never the saved ones either.
    const s = await seen(() => skopeoAsync(['inspect', '--raw', '--tls-verify=false', '--authfile', authFile, '--no-creds', image]));
    assert.equal(s.value.code, 1);
    const saved = `Basic ${Buffer.from(`${ALICE.username}:${ALICE.password}`).toString('base64')}`;
    assert.ok(s.requests.length > 0);
    assert.deepEqual(
      s.requests.filter((q) => q.headers.authorization === saved).map((q) => q.path),
      [],
    );
    // Without --no-creds the same command authenticates: the test above can fail.
    const w = await seen(() => ocikitAsync(['inspect', '--raw', '--tls-verify=false', '--authfile', authFile, image], { env }));
    assert.equal(w.value.code, 0, w.value.stderr);
    assert.ok(w.requests.some((q) => q.headers.authorization?.startsWith('Basic ')));
  });

  it('copy --src-no-creds and --dest-no-creds send no Authorization header', async () => {
    const src = await seen(() =>
      ocikitAsync(['copy', '-q', '--src-tls-verify=false', '--authfile', authFile, '--src-no-creds', `docker://${proxy.host}/team/app:v1`, `dir:${join(tempDir(), 'x')}`], { env }),
    );
    assert.equal(src.value.code, 1, src.value.stderr);
    assert.deepEqual(
      src.requests.filter((q) => q.headers.authorization !== undefined).map((q) => q.path),
      [],
    );
    const dst = await seen(() => ocikitAsync(['copy', '-q', '--dest-tls-verify=false', '--authfile', authFile, '--dest-no-creds', HELLO, `docker://${proxy.host}/team/nocreds:v1`], { env }));
    assert.equal(dst.value.code, 1, dst.value.stderr);
    assert.deepEqual(
      dst.requests.filter((q) => q.headers.authorization !== undefined).map((q) => q.path),
      [],
    );
  });

  it('list-tags --no-creds sends no Authorization header', async () => {
    const o = await seen(() => ocikitAsync(['list-tags', '--tls-verify=false', '--authfile', authFile, '--no-creds', `docker://${proxy.host}/team/app`], { env }));
    assert.equal(o.value.code, 1);
    assert.deepEqual(
      o.requests.filter((q) => q.headers.authorization !== undefined).map((q) => q.path),
      [],
    );
  });

  it('--no-creds with --creds is refused, as skopeo refuses it, and nothing is sent', async () => {
    for (const args of [
      ['inspect', '--no-creds', '--creds', 'a:b'],
      ['copy', '--src-no-creds', '--src-creds', 'a:b'],
      ['copy', '--dest-no-creds', '--dest-creds', 'a:b'],
    ]) {
      const image =
        args[0] === 'copy' && args[1]!.startsWith('--dest')
          ? [HELLO, `docker://${proxy.host}/x/y:z`]
          : args[0] === 'copy'
            ? [`docker://${proxy.host}/team/app:v1`, `dir:${join(tempDir(), 'y')}`]
            : [`docker://${proxy.host}/team/app:v1`];
      const o = await seen(() => ocikitAsync([...args, ...image], { env }));
      const s = await skopeoAsync([...(args[0] === 'copy' ? ['--insecure-policy'] : []), ...args, ...image]);
      assert.equal(o.value.code, 1, o.value.stderr);
      assert.equal(s.code, 1, s.stderr);
      assert.match(o.value.stderr, /no-creds conflicts with/);
      assert.equal(o.requests.length, 0, 'refused before any request');
    }
  });

  it('inspect --no-tags (and -n) lists no tags; without it the tags are listed', async () => {
    const image = `docker://${proxy.host}/team/app:v1`;
    const creds = ['--tls-verify=false', '--creds', `${ALICE.username}:${ALICE.password}`];
    for (const flag of ['--no-tags', '-n']) {
      const o = await seen(() => ocikitAsync(['inspect', ...creds, flag, image], { env }));
      assert.equal(o.value.code, 0, o.value.stderr);
      assert.deepEqual(JSON.parse(o.value.stdout).RepoTags, []);
      assert.equal(o.requests.filter((q) => q.path.includes('/tags/list')).length, 0);
    }
    const w = await seen(() => ocikitAsync(['inspect', ...creds, image], { env }));
    assert.deepEqual(JSON.parse(w.value.stdout).RepoTags, ['v1']);
    const s = await skopeoAsync(['inspect', ...creds, '--no-tags', image]);
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(JSON.parse(s.stdout).RepoTags, []);
  });
});

describe('hints name the flag of the command', () => {
  it('a plain-http registry: copy says --src-tls-verify=false / --dest-tls-verify=false, inspect --tls-verify=false', () => {
    const pull = ocikit(['copy', '-q', `docker://${plain.host}/open/app:v1`, `dir:${join(tempDir(), 'p')}`], { env });
    assert.equal(pull.code, 1);
    assert.match(pull.stderr, /use --src-tls-verify=false/);
    const push = ocikit(['copy', '-q', HELLO, `docker://${plain.host}/open/push:v1`], { env });
    assert.equal(push.code, 1);
    assert.match(push.stderr, /use --dest-tls-verify=false/);
    const insp = ocikit(['inspect', `docker://${plain.host}/open/app:v1`], { env });
    assert.equal(insp.code, 1);
    assert.match(insp.stderr, /use --tls-verify=false/);
    assert.doesNotMatch(insp.stderr, /--src-|--dest-/);
  });
});

describe('global flags', () => {
  it('are accepted before or after the command', () => {
    const d = tempDir();
    const a = ocikit(['--debug', '-q', 'copy', HELLO, `dir:${join(d, 'a')}`], { env });
    const b = ocikit(['copy', HELLO, `dir:${join(d, 'b')}`, '--debug', '-q', '--user-agent-prefix', 'x'], { env });
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
  });

  it('--user-agent-prefix goes before ocikit/ in the User-Agent of every registry request', async () => {
    const o = await seen(() =>
      ocikitAsync(['--user-agent-prefix', 'mirror-bot/2', 'inspect', '--raw', '--tls-verify=false', '--creds', `${ALICE.username}:${ALICE.password}`, `docker://${proxy.host}/team/app:v1`], { env }),
    );
    assert.equal(o.value.code, 0, o.value.stderr);
    assert.ok(o.requests.length >= 2);
    for (const q of o.requests) assert.match(String(q.headers['user-agent']), /^mirror-bot\/2 ocikit\//);
  });

  it('--command-timeout stops a command that hangs: exit 1 with a clear message, as skopeo', async () => {
    const stall = await startFaultProxy(basic.host, () => ({ kind: 'stall' }));
    try {
      const image = `docker://${stall.host}/team/app:v1`;
      const o = await ocikitAsync(['--command-timeout', '1s', 'inspect', '--raw', '--tls-verify=false', image], { env });
      assert.equal(o.code, 1);
      assert.match(o.stderr, /^ocikit: inspect: the command timed out after 1 s \(--command-timeout\)\n$/);
      const s = await skopeoAsync(['--command-timeout', '1s', 'inspect', '--raw', '--tls-verify=false', image]);
      assert.equal(s.code, 1);
    } finally {
      await stall.close();
    }
  });

  it('--tmpdir is the TMPDIR of the helpers ocikit runs; a missing directory is refused', async () => {
    const bin = tempDir('ocikit-helper-');
    const record = join(tempDir(), 'tmpdir-seen');
    writeFileSync(
      join(bin, 'docker-credential-tmpcheck'),
      `#!/bin/sh\nread server\nprintf '%s' "$TMPDIR" > ${record}\nprintf '{"ServerURL":"%s","Username":"${ALICE.username}","Secret":"${ALICE.password}"}' "$server"\n`,
    );
    chmodSync(join(bin, 'docker-credential-tmpcheck'), 0o755);
    const file = join(tempDir(), 'auth.json');
    writeFileSync(file, JSON.stringify({ auths: {}, credHelpers: { [proxy.host]: 'tmpcheck' } }));
    const tmp = tempDir('ocikit-tmpdir-');
    const r = await ocikitAsync(['--tmpdir', tmp, 'inspect', '--raw', '--tls-verify=false', '--authfile', file, `docker://${proxy.host}/team/app:v1`], {
      env: { ...env, PATH: `${bin}:${process.env.PATH}`, TMPDIR: '/nonexistent-default' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(record, 'utf8'), tmp);
    const bad = ocikit(['--tmpdir', join(tmp, 'missing'), 'inspect', HELLO], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--tmpdir .*missing: not an existing directory/);
  });
});

describe('--json errors', () => {
  it('an error under --json is one JSON object on stderr, with the exit code unchanged', () => {
    const r = ocikit(['inspect', '--json', `oci:${join(tempDir(), 'nope')}:x`], { env });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1);
    const e = JSON.parse(lines[0]!) as { error: { code: string; message: string; hint?: string } };
    assert.equal(e.error.code, 'E_NOT_FOUND');
    assert.match(e.error.message, /nope/);
    const u = ocikit(['--json', 'copy', '--no-such-flag', 'a', 'b'], { env });
    assert.equal(u.code, 1);
    assert.deepEqual(Object.keys((JSON.parse(u.stderr) as { error: object }).error).sort(), ['code', 'hint', 'message']);
  });

  it('list-tags, inspect and manifest-digest print one line of JSON', () => {
    const lt = ocikit(['list-tags', '--json', `oci:${fixture('hello-oci')}`], { env });
    assert.equal(lt.code, 0, lt.stderr);
    assert.equal(lt.stdout.trim().split('\n').length, 1);
    assert.deepEqual(JSON.parse(lt.stdout), { Repository: fixture('hello-oci'), Tags: ['latest'] });
    const ins = ocikit(['inspect', '--json', HELLO], { env });
    assert.equal(ins.stdout.trim().split('\n').length, 1);
    assert.equal(JSON.parse(ins.stdout).Digest, HELLO_DIGEST);
    const d = tempDir();
    const m = join(d, 'm.json');
    const out = ocikit(['copy', '-q', HELLO, `dir:${join(d, 'img')}`], { env });
    assert.equal(out.code, 0);
    writeFileSync(m, readFileSync(join(d, 'img', 'manifest.json')));
    const md = ocikit(['manifest-digest', '--json', m], { env });
    assert.deepEqual(JSON.parse(md.stdout), { digest: HELLO_DIGEST });
  });
});

describe('copy --image-parallel-copies', () => {
  it("bounds the blobs in flight, as skopeo's flag of that name", async () => {
    const dest = `docker://${proxy.host}/team/parallel`;
    const creds = ['--dest-tls-verify=false', '--dest-creds', `${ALICE.username}:${ALICE.password}`];
    const store = ['--store', tempDir()];
    const o = await seen(() => ocikitAsync([...store, 'copy', '-q', ...creds, '--image-parallel-copies', '1', HELLO, `${dest}:one`], { env }));
    assert.equal(o.value.code, 0, o.value.stderr);
    const uploads = o.requests.filter((q) => q.method === 'POST' && q.path.includes('/blobs/uploads/'));
    assert.equal(uploads.length, 3, 'three blobs uploaded');
    // One at a time: no upload starts before the previous blob's upload has finished.
    const puts = o.requests.filter((q) => q.method === 'PUT' && q.path.includes('/blobs/uploads/'));
    for (let i = 1; i < uploads.length; i++) assert.ok(uploads[i]!.start >= puts[i - 1]!.end!, 'uploads overlap');
    assert.equal(ocikit(['copy', '--image-parallel-copies', '0', HELLO, 'dir:/x'], { env }).code, 1);
  });
});

describe('manifest-digest takes any file, as skopeo', () => {
  it('hashes files that are not manifests, and the payload of a signed schema 1 manifest', () => {
    const d = tempDir();
    const cases: Array<[string, string | Buffer]> = [
      ['text.txt', 'not a manifest at all\n'],
      ['empty', ''],
      ['list.json', '[1,2,3]'],
      ['binary', Buffer.from([0, 1, 2, 255, 254])],
    ];
    for (const [name, content] of cases) {
      const p = join(d, name);
      writeFileSync(p, content);
      const o = ocikit(['manifest-digest', p], { env });
      const s = skopeo(['manifest-digest', p]);
      assert.equal(s.code, 0, s.stderr);
      assert.equal(o.code, 0, o.stderr);
      assert.equal(o.stdout, s.stdout, name);
    }
    // A signed schema 1 manifest: skopeo hashes the payload without the signatures.
    const payload = '{\n   "schemaVersion": 1,\n   "name": "a/b",\n   "tag": "t",\n   "architecture": "amd64",\n   "fsLayers": [],\n   "history": []\n}';
    const formatLength = payload.length - 2;
    const tail = payload.slice(formatLength);
    const prot = Buffer.from(JSON.stringify({ formatLength, formatTail: Buffer.from(tail).toString('base64url'), time: '2020-01-01T00:00:00Z' })).toString('base64url');
    const signed = `${payload.slice(0, formatLength)},\n   "signatures": [{"header": {"alg": "ES256"}, "signature": "x", "protected": "${prot}"}]\n}`;
    const p = join(d, 'signed.json');
    writeFileSync(p, signed);
    const o = ocikit(['manifest-digest', p], { env });
    const s = skopeo(['manifest-digest', p]);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(o.stdout, s.stdout);
    const missing = ocikit(['manifest-digest', join(d, 'absent')], { env });
    assert.equal(missing.code, skopeo(['manifest-digest', join(d, 'absent')]).code);
    assert.ok(!existsSync(join(d, 'absent')));
    mkdirSync(join(d, 'sub'));
  });
});
