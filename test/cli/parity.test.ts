/**
 * skopeo command-line parity (issue 10, part 2), each behaviour run through skopeo and ocikit on the
 * same input: inspect --format (Go templates), login prompting on a terminal without echo,
 * --src-creds USER asking for the password, where logins are looked up, delete oci:LAYOUT:REF.
 * Terminal tests run under util-linux script(1), which gives the program a real pty; answers are
 * typed only once the prompt is there, so an echo would show in the transcript.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeDispatchers } from '../../lib/registry/index.js';
import { ocikit, run, type RunResult } from '../helpers/cli.js';
import { makeLayer, writeImage } from '../../support/images.js';
import { cliPath, fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { startRegistry, type RegistryHandle } from '../../support/registry.js';

const HELLO = `oci:${fixture('hello-oci')}:latest`;
const ALICE = { username: 'alice', password: 'parity-Pa55word' };
const home = tempDir('ocikit-parity-home-');
const env = { HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, '.config'), OCIKIT_STORE: join(home, 'store'), REGISTRY_AUTH_FILE: '' };

let basic: RegistryHandle;

function skopeo(args: string[], e: NodeJS.ProcessEnv = env): RunResult {
  return run(requirePeer('skopeo'), args, { allowFail: true, env: e });
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Run `argv` on a pty (script -qec), answering each prompt when it appears. Returns the exit code
 * and the transcript (what the terminal showed, echoes included).
 */
function onTerminal(argv: string[], answers: Array<[RegExp, string]>, e: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    const cmd = argv.map(q).join(' ');
    const p = spawn(requirePeer('script'), ['-qec', cmd, '/dev/null'], { env: { ...process.env, ...e } });
    let out = '';
    let from = 0;
    const pending = [...answers];
    p.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const next = pending[0];
      if (next && next[0].test(out.slice(from))) {
        pending.shift();
        from = out.length;
        p.stdin.write(next[1] + '\r');
      }
    });
    let err = '';
    p.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout: out, stderr: err }));
  });
}

before(async () => {
  basic = await startRegistry({ htpasswd: [ALICE] });
  const r = ocikit(['copy', '-q', '--dest-cert-dir', basic.certDir!, '--dest-creds', `${ALICE.username}:${ALICE.password}`, HELLO, `docker://${basic.host}/team/app:v1`], { env });
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await closeDispatchers();
  await basic.stop();
});

describe('inspect --format', () => {
  const images = [HELLO, `oci:${fixture('multiarch-oci')}`];
  const formats = [
    '{{.Digest}}',
    '{{.Name}}|{{.Architecture}}|{{.Os}}',
    '{{range .Layers}}{{.}} {{end}}',
    '{{range $i, $l := .Layers}}[{{$i}}]{{$l}}{{end}}',
    '{{index .Labels "org.opencontainers.image.title"}}',
    '{{if .Labels}}labelled{{else}}plain{{end}}',
    '{{len .Layers}} {{len .Env}}',
    '{{printf "%s/%s %5d|%-4s|" .Os .Architecture (len .Layers) "x"}}',
    '{{.Created}} {{.RepoTags}} {{.Env}} {{.Labels}}',
    '{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}',
    'a {{- .Os }}  {{.Architecture -}}  x',
    '{{with .Labels}}{{index . "org.example.fixture"}}{{end}}{{if eq .Os "linux"}} L{{else if eq .Os "windows"}} W{{end}}',
    '{{$d := .Digest}}{{range .Layers}}{{$d}} {{end}}',
  ];
  for (const image of images) {
    it(`prints what skopeo prints for ${image.split('/').pop()}`, () => {
      for (const f of formats) {
        const s = skopeo(['inspect', '--format', f, image]);
        const o = ocikit(['inspect', '--format', f, image], { env });
        assert.equal(s.code, 0, `${f}: ${s.stderr}`);
        assert.equal(o.code, 0, `${f}: ${o.stderr}`);
        assert.equal(o.stdout, s.stdout, f);
      }
      // {{json .}} is the default output (containers/common's report.IsJSON), which here also has
      // LayersData (skopeo 1.9.3's has not; newer skopeo's has).
      assert.equal(ocikit(['inspect', '--format', '{{json .}}', image], { env }).stdout, ocikit(['inspect', image], { env }).stdout);
      // -f is the short form.
      assert.equal(ocikit(['inspect', '-f', '{{.Digest}}', image], { env }).stdout, skopeo(['inspect', '--format', '{{.Digest}}', image]).stdout);
    });
  }

  it('template errors: exit 1 as skopeo, one line with the column', () => {
    const cases: Array<[string, RegExp]> = [
      ['{{.Digest', /^ocikit: inspect --format: column 1: unclosed action\n$/],
      ['ab{{.Nope}}', /^ocikit: inspect --format: column 5: can't evaluate field Nope in type struct\n$/],
      ['{{if .Os}}x', /^ocikit: inspect --format: column 3: unexpected EOF: \{\{if\}\} has no \{\{end\}\}\n$/],
      ['{{nosuch .Os}}', /^ocikit: inspect --format: column 3: function "nosuch" not defined\n$/],
      ['{{index .Layers 9}}', /^ocikit: inspect --format: column 3: error calling index: index out of range: 9\n$/],
    ];
    for (const [f, want] of cases) {
      const o = ocikit(['inspect', '--format', f, HELLO], { env });
      assert.equal(o.code, 1, f);
      assert.equal(o.stdout, '');
      assert.match(o.stderr, want);
      assert.equal(skopeo(['inspect', '--format', f, HELLO]).code, 1, f);
    }
  });
});

describe('login on a terminal', () => {
  it('asks for the user name and the password (not echoed), as skopeo does', async () => {
    for (const tool of ['ocikit', 'skopeo'] as const) {
      const file = join(tempDir(), 'auth.json');
      const argv =
        tool === 'ocikit'
          ? [cliPath, 'login', '--cert-dir', basic.certDir!, '--authfile', file, basic.host]
          : [requirePeer('skopeo'), 'login', '--cert-dir', basic.certDir!, '--authfile', file, basic.host];
      const r = await onTerminal(
        argv,
        [
          [/Username: $/, ALICE.username],
          [/Password: $/, ALICE.password],
        ],
        env,
      );
      assert.equal(r.code, 0, `${tool}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stdout, /Login Succeeded!/, tool);
      assert.match(r.stdout, new RegExp(`Username: ${ALICE.username}`), `${tool}: the user name is echoed`);
      // Only ours is held to this: skopeo turns echo off after printing its prompt, so a password
      // typed the instant the prompt shows can echo on a loaded machine; ours turns it off first.
      if (tool === 'ocikit') assert.ok(!r.stdout.includes(ALICE.password), `${tool}: the password was echoed: ${r.stdout}`);
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { auths: Record<string, { auth: string }> };
      assert.equal(Buffer.from(saved.auths[basic.host]!.auth, 'base64').toString(), `${ALICE.username}:${ALICE.password}`);
    }
  });

  it('without a terminal and without credentials: a clear error, nothing written', () => {
    const file = join(tempDir(), 'auth.json');
    const r = ocikit(['login', '--cert-dir', basic.certDir!, '--authfile', file, basic.host], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ocikit: login: no --username given, and stdin is not a terminal to ask on/);
    assert.equal(existsSync(file), false);
  });

  it('-v says which auth file was written, as skopeo -v', async () => {
    const file = join(tempDir(), 'auth.json');
    const o = ocikit(['login', '-v', '--cert-dir', basic.certDir!, '--authfile', file, '-u', ALICE.username, '-p', ALICE.password, basic.host], { env });
    const s = skopeo(['login', '-v', '--cert-dir', basic.certDir!, '--authfile', file, '-u', ALICE.username, '-p', ALICE.password, basic.host]);
    assert.equal(o.code, 0, o.stderr);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(o.stdout, s.stdout);
  });

  it('logout --tls-verify is accepted, as skopeo', () => {
    const file = join(tempDir(), 'auth.json');
    writeFileSync(file, JSON.stringify({ auths: { [basic.host]: { auth: 'eDp5' } } }));
    const o = ocikit(['logout', '--tls-verify=false', '--authfile', file, basic.host], { env });
    assert.equal(o.code, 0, o.stderr);
    writeFileSync(file, JSON.stringify({ auths: { [basic.host]: { auth: 'eDp5' } } }));
    const s = skopeo(['logout', '--tls-verify=false', '--authfile', file, basic.host]);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(o.stdout, s.stdout);
  });
});

describe('--src-creds USER without a password', () => {
  it('asks on a terminal (no echo); skopeo 1.9.3 sends an empty password instead and fails', async () => {
    const out = join(tempDir(), 'img');
    const image = `docker://${basic.host}/team/app:v1`;
    const r = await onTerminal([cliPath, 'copy', '-q', '--src-cert-dir', basic.certDir!, '--src-creds', ALICE.username, image, `dir:${out}`], [[/Password: $/, ALICE.password]], env);
    assert.equal(r.code, 0, r.stdout);
    assert.ok(!r.stdout.includes(ALICE.password), 'the password was echoed');
    assert.ok(existsSync(join(out, 'manifest.json')));
    const s = await onTerminal(
      [requirePeer('skopeo'), '--insecure-policy', 'copy', '-q', '--src-cert-dir', basic.certDir!, '--src-creds', ALICE.username, image, `dir:${join(tempDir(), 's')}`],
      [],
      env,
    );
    assert.equal(s.code, 1);
    assert.match(s.stdout, /authentication required/);
  });

  it('fails clearly without a terminal (skopeo fails too)', () => {
    const args = ['copy', '-q', '--src-cert-dir', basic.certDir!, '--src-creds', ALICE.username, `docker://${basic.host}/team/app:v1`, `dir:${join(tempDir(), 'x')}`];
    const o = ocikit(args, { env });
    assert.equal(o.code, 1);
    assert.match(o.stderr, /^ocikit: --src-creds alice gives no password, and stdin is not a terminal to ask on/);
    assert.equal(skopeo(['--insecure-policy', ...args]).code, 1);
  });
});

describe('where logins are looked up', () => {
  const inspect = (e: NodeJS.ProcessEnv): RunResult => ocikit(['inspect', '--raw', '--cert-dir', basic.certDir!, `docker://${basic.host}/team/app:v1`], { env: e });
  const auth = (user: string, pass: string): string => JSON.stringify({ auths: { [basic.host]: { auth: Buffer.from(`${user}:${pass}`).toString('base64') } } });

  it('$XDG_RUNTIME_DIR/containers/auth.json, then ~/.config/containers/auth.json, then ~/.docker/config.json (as skopeo)', () => {
    for (const where of ['run', 'config', 'docker'] as const) {
      const h = tempDir('ocikit-authhome-');
      const e = { ...env, HOME: h, XDG_RUNTIME_DIR: join(h, 'run'), XDG_CONFIG_HOME: '', REGISTRY_AUTH_FILE: '', DOCKER_CONFIG: '' };
      const file = where === 'run' ? join(h, 'run', 'containers', 'auth.json') : where === 'config' ? join(h, '.config', 'containers', 'auth.json') : join(h, '.docker', 'config.json');
      mkdirSync(join(file, '..'), { recursive: true });
      mkdirSync(join(h, 'run'), { recursive: true });
      writeFileSync(file, auth(ALICE.username, ALICE.password));
      assert.equal(inspect(e).code, 0, where);
      assert.equal(skopeo(['inspect', '--raw', '--cert-dir', basic.certDir!, `docker://${basic.host}/team/app:v1`], e).code, 0, where);
    }
  });

  it('the first file that knows the registry wins (a wrong password there fails both tools)', () => {
    const h = tempDir('ocikit-authhome-');
    const e = { ...env, HOME: h, XDG_RUNTIME_DIR: join(h, 'run'), XDG_CONFIG_HOME: '', REGISTRY_AUTH_FILE: '', DOCKER_CONFIG: '' };
    mkdirSync(join(h, 'run', 'containers'), { recursive: true });
    mkdirSync(join(h, '.docker'), { recursive: true });
    writeFileSync(join(h, 'run', 'containers', 'auth.json'), auth(ALICE.username, 'wrong-password'));
    writeFileSync(join(h, '.docker', 'config.json'), auth(ALICE.username, ALICE.password));
    assert.equal(inspect(e).code, 1);
    assert.equal(skopeo(['inspect', '--raw', '--cert-dir', basic.certDir!, `docker://${basic.host}/team/app:v1`], e).code, 1);
  });

  it('without XDG_RUNTIME_DIR: /run/containers/$UID/auth.json, where skopeo login writes (and ocikit logout edits)', () => {
    const uid = process.getuid!();
    const file = `/run/containers/${uid}/auth.json`;
    const backup = `${file}.ocikit-test-backup-${process.pid}`;
    const had = existsSync(file);
    if (had) renameSync(file, backup);
    const h = tempDir('ocikit-authhome-');
    const e: NodeJS.ProcessEnv = { ...env, HOME: h, XDG_CONFIG_HOME: '', REGISTRY_AUTH_FILE: '', DOCKER_CONFIG: '' };
    delete e.XDG_RUNTIME_DIR;
    const noXdg = { ...process.env, ...e };
    delete noXdg.XDG_RUNTIME_DIR;
    try {
      const l = run(requirePeer('skopeo'), ['login', '--cert-dir', basic.certDir!, '-u', ALICE.username, '-p', ALICE.password, basic.host], { allowFail: true, env: noXdg });
      assert.equal(l.code, 0, l.stderr);
      assert.ok(existsSync(file), 'skopeo wrote /run/containers/UID/auth.json');
      const r = spawnNoXdg(['inspect', '--raw', '--cert-dir', basic.certDir!, `docker://${basic.host}/team/app:v1`], noXdg);
      assert.equal(r.code, 0, r.stderr);
      const out = spawnNoXdg(['logout', basic.host], noXdg);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(run(requirePeer('skopeo'), ['login', '--get-login', basic.host], { allowFail: true, env: noXdg }).code, 1, 'skopeo sees the logout');
    } finally {
      rmSync(file, { force: true });
      if (had) renameSync(backup, file);
    }
  });
});

/** ocikit with exactly this environment (XDG_RUNTIME_DIR absent, not empty). */
function spawnNoXdg(args: string[], e: NodeJS.ProcessEnv): RunResult {
  return run(cliPath, [...args], { allowFail: true, env: e });
}

describe('delete oci:LAYOUT:REF', () => {
  it('removes the ref and the blobs only it used; the layout equals one that never had it (skopeo reads it)', () => {
    const shared = makeLayer([{ name: 's.txt', data: 'shared' }]);
    const a = tempDir();
    const b = tempDir();
    writeImage(a, [shared, makeLayer([{ name: 'a.txt', data: 'a' }])], 'a');
    writeImage(b, [shared, makeLayer([{ name: 'b.txt', data: 'b' }])], 'b');
    const both = join(tempDir(), 'both');
    const onlyB = join(tempDir(), 'onlyb');
    for (const [src, dst] of [
      [a, `oci:${both}:a`],
      [b, `oci:${both}:b`],
      [b, `oci:${onlyB}:b`],
    ] as const) {
      const r = ocikit(['copy', '-q', `oci:${src}:latest`, dst], { env });
      assert.equal(r.code, 0, r.stderr);
    }
    const d = ocikit(['delete', `oci:${both}:a`], { env });
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(readdirSync(join(both, 'blobs', 'sha256')).sort(), readdirSync(join(onlyB, 'blobs', 'sha256')).sort());
    assert.deepEqual(JSON.parse(readFileSync(join(both, 'index.json'), 'utf8')).manifests, JSON.parse(readFileSync(join(onlyB, 'index.json'), 'utf8')).manifests);
    const s = skopeo(['inspect', `oci:${both}:b`]);
    assert.equal(s.code, 0, s.stderr);
    assert.notEqual(skopeo(['inspect', `oci:${both}:a`]).code, 0);
    const again = ocikit(['delete', `oci:${both}:a`], { env });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /no image named "a"/);
  });
});
