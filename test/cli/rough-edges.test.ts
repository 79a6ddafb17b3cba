/**
 * What a new user meets in the first hour (issue 19's rough edges), each against the real peer:
 * "Did you mean …?" for a mistyped command or flag (skopeo suggests the same command), and a
 * refused password's hint naming the flags of the command in use, and a full disk named where it is
 * (a small tmpfs this test mounts).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDispatchers } from '../../lib/registry/index.js';
import { ocikit, run } from '../helpers/cli.js';
import { ociImage, randomLayer } from '../helpers/layer-images.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { startRegistry, type RegistryHandle } from '../../support/registry.js';

const HELLO = `oci:${fixture('hello-oci')}:latest`;
const ALICE = { username: 'alice', password: 'rough-Pa55word' };
const home = tempDir('ocikit-rough-home-');
const env = { HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, '.config'), OCIKIT_STORE: join(home, 'store'), REGISTRY_AUTH_FILE: '' };

describe('did you mean', () => {
  it('a mistyped command gets the command skopeo suggests, in one line', () => {
    for (const [typed, want] of [
      ['cp', 'copy'],
      ['inpect', 'inspect'],
      ['synch', 'sync'],
      ['list-tag', 'list-tags'],
    ]) {
      const r = ocikit([typed!, 'x'], { env });
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `ocikit: unknown command "${typed}" (did you mean ${want}? see ocikit --help)\n`);
      const s = run(requirePeer('skopeo'), [typed!, 'x'], { allowFail: true });
      assert.match(s.stderr, new RegExp(`Did you mean this\\?\\\\n\\\\t${want}\\\\n`), s.stderr);
    }
    assert.equal(ocikit(['frobnicate'], { env }).stderr, 'ocikit: unknown command "frobnicate" (see ocikit --help)\n');
  });

  it('a mistyped flag gets the flag of that command it is closest to', () => {
    const r = ocikit(['copy', '--dest-tls-verfy=false', HELLO, 'dir:/nonexistent/x'], { env });
    assert.equal(r.stderr, 'ocikit: copy: unknown flag --dest-tls-verfy (did you mean --dest-tls-verify? see ocikit copy --help)\n');
    // One dash where two belong.
    assert.match(ocikit(['inspect', '-raw', HELLO], { env }).stderr, /unknown flag -r \(did you mean --raw\? see ocikit inspect --help\)/);
    assert.match(ocikit(['sync', '--scopped', 'a', 'b'], { env }).stderr, /unknown flag --scopped \(did you mean --scoped\?/);
  });
});

describe('a refused password', () => {
  let basic: RegistryHandle;
  before(async () => {
    basic = await startRegistry({ htpasswd: [ALICE] });
    const r = ocikit(['copy', '-q', '--dest-cert-dir', basic.certDir!, '--dest-creds', `${ALICE.username}:${ALICE.password}`, HELLO, `docker://${basic.host}/rough/app:1`], { env });
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await closeDispatchers();
    await basic.stop();
  });

  it('the hint names the flags of the command in use', () => {
    const wrong = `${ALICE.username}:wrong-password`;
    const copy = ocikit(['copy', '-q', '--src-cert-dir', basic.certDir!, '--src-creds', wrong, `docker://${basic.host}/rough/app:1`, `dir:${join(home, 'x')}`], { env });
    assert.equal(copy.code, 1);
    assert.match(copy.stderr, /rejected the credentials.*\(check the user name and password \(--src-creds USER:PASSWORD, or ocikit login REGISTRY\)\)\n$/);
    const push = ocikit(['copy', '-q', '--dest-cert-dir', basic.certDir!, '--dest-creds', wrong, HELLO, `docker://${basic.host}/rough/app:2`], { env });
    assert.match(push.stderr, /--dest-creds USER:PASSWORD, or ocikit login REGISTRY/);
    const anon = ocikit(['copy', '-q', '--src-cert-dir', basic.certDir!, `docker://${basic.host}/rough/app:1`, `dir:${join(home, 'y')}`], { env });
    assert.match(anon.stderr, /authentication required.*\(log in with ocikit login REGISTRY or pass --src-creds USER:PASSWORD\)/);
    const inspect = ocikit(['inspect', '--cert-dir', basic.certDir!, '--creds', wrong, `docker://${basic.host}/rough/app:1`], { env });
    assert.match(inspect.stderr, /\(--creds USER:PASSWORD, or ocikit login REGISTRY\)/);
    const login = ocikit(['login', '--cert-dir', basic.certDir!, '-u', ALICE.username, '-p', 'wrong-password', basic.host], { env });
    assert.equal(login.code, 1);
    assert.match(login.stderr, /\(check the user name and password\)\n$/);
    // The flag copy does not take is named nowhere (the hint once said "--creds" to every command).
    for (const r of [copy, push, anon]) assert.doesNotMatch(r.stderr, /[^-]--creds/);
  });
});

describe('a full disk at the destination', () => {
  // 1 MiB of tmpfs, and an image with a 3 MiB layer of random bytes that cannot fit.
  const mnt = mkdtempSync(join(tmpdir(), 'ocikit-full-'));
  const src = ociImage(tempDir('ocikit-full-src-'), [randomLayer(3 << 20)]);
  const store = join(home, 'full-store');
  before(() => {
    run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    // In the store first, so that the destinations copy the store's file (whose path a full disk
    // was once reported against).
    const r = ocikit(['copy', '-q', src.ref, `oci:${join(home, 'full-first')}:1`], { env: { ...env, OCIKIT_STORE: store } });
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => {
    run('umount', [mnt]);
    rmdirSync(mnt);
  });

  it('names the destination path and the filesystem that is full, and leaves nothing there', () => {
    for (const [dest, inside] of [
      [`oci:${mnt}/img:1`, 'img'],
      [`dir:${mnt}/d`, 'd'],
      [`docker-archive:${mnt}/a.tar`, 'a.tar'],
      [`oci-archive:${mnt}/o.tar`, 'o.tar'],
    ]) {
      const r = ocikit(['copy', '-q', src.ref, dest!], { env: { ...env, OCIKIT_STORE: store } });
      assert.equal(r.code, 1, dest);
      const line = new RegExp(
        `^ocikit: writing .*: ${mnt}/\\.?${inside!.replace('.', '\\.')}[^ ]*: no space left on device \\(tmpfs filesystem mounted at ${mnt}: [0-9.]+ [kM]?B free of 1\\.0 MB\\)\\n$`,
      );
      assert.match(r.stderr, line);
      assert.ok(!r.stderr.includes(store), r.stderr);
      assert.deepEqual(readdirSync(mnt), [], dest);
    }
  });
});
