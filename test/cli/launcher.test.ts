/**
 * The `ocikit` command as it ships (build/README.md): a launcher that starts the CLI from a V8
 * start-up snapshot built by this machine's Node, and from the plain bundle whenever the snapshot
 * cannot be used. Each way must give the same CLI, and the snapshot must not carry anything of the
 * build machine's environment.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { launcherScript } from '../../build/snapshot.js';
import { POLICY_ARGS } from '../helpers/cli.js';
import { cliPath, fixture, repoRoot, tempDir } from '../helpers/paths.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const HELLO = `oci:${fixture('hello-oci')}:latest`;
const bin = dirname(cliPath);

/** Start `launcher ARGS` reading a stdin we keep open, and return how Node was started (its /proc cmdline). */
async function howStarted(launcher: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const store = tempDir('ocikit-launch-store-');
  const child = spawn(launcher, ['--store', store, ...POLICY_ARGS, 'copy', '-q', 'docker-archive:/dev/stdin', `dir:${join(store, 'out')}`], { env, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  try {
    // The launcher execs Node in the same process: wait until the command line is Node's.
    const deadline = Date.now() + 30_000;
    for (;;) {
      let cmd: string[] = [];
      try {
        cmd = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      } catch {
        /* not there yet, or gone: the checks below say which */
      }
      if (cmd.some((a) => a.endsWith('ocikit.cjs') || a === '--snapshot-blob')) return cmd;
      if (child.exitCode !== null) throw new Error(`the command exited (${child.exitCode}) before it could be seen: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`Node did not start within 30 s: ${cmd.join(' ')}`);
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    child.stdin.end('not a tar');
    await closed;
  }
}

/** The snapshot a Node command line starts from (after --snapshot-blob), if any. */
const blobOf = (cmd: string[]): string | undefined => (cmd.includes('--snapshot-blob') ? cmd[cmd.indexOf('--snapshot-blob') + 1] : undefined);

/** A copy of dist/bin inside dist/ (so that node_modules is still found above it) with its own launcher. */
function copyOfBin(node: string, recordedBin?: string): string {
  const dir = join(repoRoot, 'dist', `launcher-test-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, 'bin');
  mkdirSync(dirname(dir), { recursive: true });
  cpSync(bin, dir, { recursive: true, preserveTimestamps: true });
  writeFileSync(join(dir, 'ocikit'), launcherScript(node, recordedBin ?? dir), { mode: 0o755 });
  process.on('exit', () => rmSync(dirname(dir), { recursive: true, force: true }));
  return dir;
}

function run(launcher: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(launcher, args, { encoding: 'utf8', env: opts.env ?? process.env, cwd: opts.cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same output from a launcher as from the installed one: inspect of the fixture. */
function assertSameCli(launcher: string): void {
  const want = run(cliPath, ['inspect', HELLO]);
  assert.equal(want.code, 0, want.stderr);
  const got = run(launcher, ['inspect', HELLO]);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout, want.stdout);
}

describe('launcher', () => {
  before(() => {
    assert.ok(existsSync(join(bin, 'ocikit.cjs')), 'npm run build made the bundle');
  });

  it('starts the CLI from its start-up snapshot, built by this Node', async () => {
    assert.ok(existsSync(join(bin, 'ocikit.blob')), `npm run build made a snapshot for Node ${process.version}: ${readdirSync(bin).join(', ')}`);
    const cmd = await howStarted(cliPath);
    assert.equal(blobOf(cmd), join(bin, 'ocikit.blob'), cmd.join(' '));
  });

  it('runs the bundle, with the same results, when the Node binary changed since the snapshot was built', async () => {
    const dir = copyOfBin(process.execPath);
    // The stamp records the binary's modification time; any other time means "not the same binary".
    utimesSync(join(dir, 'ocikit.stamp'), new Date(2001, 0, 1), new Date(2001, 0, 1));
    const cmd = await howStarted(join(dir, 'ocikit'));
    assert.ok(!cmd.includes('--snapshot-blob') && cmd.includes(join(dir, 'ocikit.cjs')), cmd.join(' '));
    assertSameCli(join(dir, 'ocikit'));
  });

  it('runs the bundle when there is no snapshot (it could not be built)', async () => {
    const dir = copyOfBin(process.execPath);
    rmSync(join(dir, 'ocikit.blob'));
    const cmd = await howStarted(join(dir, 'ocikit'));
    assert.ok(cmd.includes(join(dir, 'ocikit.cjs')), cmd.join(' '));
    assertSameCli(join(dir, 'ocikit'));
  });

  it('run by its path, a copy of the tree uses its own files, not those of the directory it recorded', async () => {
    const dir = copyOfBin(process.execPath, bin);
    const cmd = await howStarted(join(dir, 'ocikit'));
    assert.equal(blobOf(cmd), join(dir, 'ocikit.blob'), cmd.join(' '));
  });

  it('run through a symlink, it uses the directory it recorded, and follows the link when that is gone', async () => {
    const links = tempDir('ocikit-launch-links-');
    symlinkSync(cliPath, join(links, 'ocikit'));
    assert.equal(blobOf(await howStarted(join(links, 'ocikit'))), join(bin, 'ocikit.blob'));
    const dir = copyOfBin(process.execPath, '/nonexistent/ocikit/bin');
    symlinkSync(join(dir, 'ocikit'), join(links, 'moved'));
    const cmd = await howStarted(join(links, 'moved'));
    assert.equal(blobOf(cmd), join(dir, 'ocikit.blob'), cmd.join(' '));
    assertSameCli(join(links, 'moved'));
  });

  it('runs the bundle with the node on PATH when the Node it recorded is gone', async () => {
    const dir = copyOfBin('/nonexistent/bin/node');
    const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
    const cmd = await howStarted(join(dir, 'ocikit'), env);
    assert.ok(!cmd.includes('--snapshot-blob') && cmd.includes(join(dir, 'ocikit.cjs')), cmd.join(' '));
  });

  it('passes every argument through untouched, and the exit code back', () => {
    const odd = ['--version', 'a b', '', '$HOME', '"q"', '-'];
    // manifest-digest of a file whose name needs quoting: the name arrives as it was given.
    const d = tempDir('ocikit-launch-args-');
    const name = join(d, `it's a "file" $HOME`);
    writeFileSync(name, '{}');
    const r = run(cliPath, ['manifest-digest', name]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    assert.equal(run(cliPath, ['inspect', `oci:${join(d, 'missing')}:x`]).code, 2, 'image not found: exit 2, through the launcher');
    assert.equal(run(cliPath, ['no-such-command', ...odd]).code, 1);
  });

  it('takes the environment and working directory of the command, not of the build', () => {
    const home = tempDir('ocikit-launch-home-');
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_DATA_HOME: join(home, 'data') };
    delete env.OCIKIT_STORE;
    // The default store is under XDG_DATA_HOME as the command sees it.
    const r = run(cliPath, [...POLICY_ARGS, 'copy', '-q', HELLO, 'dir:relative-out'], { env, cwd: home });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(home, 'data', 'ocikit', 'blobs', 'sha256')), 'the store was made under the runtime XDG_DATA_HOME');
    assert.ok(existsSync(join(home, 'relative-out', 'manifest.json')), 'a relative destination is relative to the runtime working directory');
  });

  describe('NODE_EXTRA_CA_CERTS, which the launcher keeps from Node and ocikit reads when it needs it', () => {
    const USER = { username: 'carol', password: 'extra-CA-Pa55word' };
    let reg: RegistryHandle;
    before(async () => {
      reg = await startRegistry({ htpasswd: [USER] });
    });
    after(async () => {
      await reg.stop();
    });

    it('trusts a registry signed by that CA, and the programs ocikit runs see the variable as it was', () => {
      const home = tempDir('ocikit-launch-ca-');
      const bin = join(home, 'bin');
      mkdirSync(bin);
      const seen = join(home, 'seen');
      // A credential helper (the registry asks for a password): it records the environment it got.
      writeFileSync(
        join(bin, 'docker-credential-envcheck'),
        `#!/bin/sh\nread server\necho "$NODE_EXTRA_CA_CERTS|\${OCIKIT_NODE_EXTRA_CA_CERTS-unset}" > "${seen}"\nprintf '{"ServerURL":"%s","Username":"${USER.username}","Secret":"${USER.password}"}' "$server"\n`,
      );
      chmodSync(join(bin, 'docker-credential-envcheck'), 0o755);
      const authFile = join(home, 'auth.json');
      writeFileSync(authFile, JSON.stringify({ auths: {}, credHelpers: { [reg.host]: 'envcheck' } }));
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), PATH: `${bin}:${process.env.PATH ?? ''}` };
      const args = ['--store', join(home, 'store'), ...POLICY_ARGS, 'copy', '-q', '--dest-authfile', authFile, HELLO, `docker://${reg.host}/extra/ca:1`];
      // The positive control: without the variable (and no certs.d for this host) the CA is unknown.
      const without = { ...env };
      delete without.NODE_EXTRA_CA_CERTS;
      const refused = run(cliPath, args, { env: without });
      assert.equal(refused.code, 1, refused.stdout);
      assert.match(refused.stderr, /certificate/i);
      const r = run(cliPath, args, { env: { ...env, NODE_EXTRA_CA_CERTS: reg.caFile! } });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(seen, 'utf8').trim(), `${reg.caFile!}|unset`);
    });

    it("a file that cannot be read is a warning, and Node's own roots are trusted", () => {
      const r = run(cliPath, ['inspect', '--raw', `docker://${reg.host}/extra/ca:1`], { env: { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Ignoring extra certs from `\/nonexistent\/ca\.pem`/);
      assert.match(r.stderr, /certificate/i);
    });
  });
});
