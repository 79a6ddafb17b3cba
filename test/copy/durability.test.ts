/**
 * Power-loss durability, checked on the system calls themselves (strace): every file a successful
 * copy makes visible was fsynced (under some earlier name: a temp or staging name) before the
 * rename that made it visible, and the directory was fsynced after that rename. So a copy that
 * reported success cannot come back from a crash as empty or partial files.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { cliPath, fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { ocikit } from '../helpers/cli.js';

type Ev = { kind: 'fsync'; path: string } | { kind: 'rename'; from: string; to: string };

/** Run ocikit under strace; the fsyncs and renames it made, in order (all threads). */
function traced(args: string[], dir: string): Ev[] {
  const out = join(dir, `strace.${Date.now()}.txt`);
  const r = spawnSync('strace', ['-f', '-qq', '-y', '-s', '4096', '-o', out, '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2', cliPath, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const evs: Ev[] = [];
  // Calls split by another thread ("<unfinished ...>" / "<... resumed>") are taken at their start:
  // an fsync that started before a rename was issued is ordered before it by the kernel's lock.
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const f = /^\d+\s+f(?:data)?sync\(\d+<([^>]*)>/.exec(line);
    if (f) {
      evs.push({ kind: 'fsync', path: f[1]! });
      continue;
    }
    const m = /^\d+\s+rename(?:at2?)?\((?:[^,]*, )?"([^"]+)", (?:[^,]*, )?"([^"]+)"/.exec(line);
    if (m && !/= -1/.test(line)) evs.push({ kind: 'rename', from: m[1]!, to: m[2]! });
  }
  return evs;
}

function mkdirs(d: string): string {
  mkdirSync(d, { recursive: true });
  return d;
}

function filesUnder(p: string): string[] {
  const st = statSync(p);
  if (!st.isDirectory()) return [p];
  return readdirSync(p).flatMap((n) => filesUnder(join(p, n)));
}

/**
 * For each file under `target` that is not in `existing`: walk back through the renames that
 * moved it (its own, or a directory's around it) to every name it had; an fsync of one of those
 * names must come before the rename that made it visible at its final path, and an fsync of
 * that rename's directory must come after the last such rename.
 */
function checkDurable(evs: Ev[], target: string, existing: Set<string>): number {
  let checked = 0;
  let lastVisible = -1;
  for (const file of filesUnder(target)) {
    if (existing.has(file)) continue;
    // The event that made `file` visible: the last rename whose destination is the file or one of its ancestors.
    let idx = -1;
    for (let i = evs.length - 1; i >= 0; i--) {
      const e = evs[i]!;
      if (e.kind === 'rename' && (file === e.to || file.startsWith(e.to + '/'))) {
        idx = i;
        break;
      }
    }
    assert.ok(idx >= 0, `${relative(target, file)}: became visible by a rename`);
    const vis = evs[idx] as Extract<Ev, { kind: 'rename' }>;
    // Every earlier name of the file: follow renames backwards.
    const names = new Set<string>([file]);
    let cur = vis.from + file.slice(vis.to.length);
    names.add(cur);
    for (let i = idx - 1; i >= 0; i--) {
      const e = evs[i]!;
      if (e.kind === 'rename' && (cur === e.to || cur.startsWith(e.to + '/'))) {
        cur = e.from + cur.slice(e.to.length);
        names.add(cur);
      }
    }
    const synced = evs.slice(0, idx).some((e) => e.kind === 'fsync' && names.has(e.path));
    assert.ok(synced, `${relative(target, file) || file}: fsynced before the rename that made it visible (names: ${[...names].join(', ')})`);
    checked++;
    lastVisible = Math.max(lastVisible, idx);
  }
  // The directory of the rename that committed (the last one) is synced after it.
  const commit = evs[lastVisible] as Extract<Ev, { kind: 'rename' }>;
  assert.ok(
    evs.slice(lastVisible + 1).some((e) => e.kind === 'fsync' && e.path === dirname(commit.to)),
    `the directory ${dirname(commit.to)} is fsynced after the commit's rename`,
  );
  return checked;
}

describe('durability (strace)', () => {
  let dir: string;
  const hello = `oci:${fixture('hello-oci')}:latest`;
  before(() => {
    requirePeer('strace');
    dir = tempDir('ocikit-durable-');
  });

  for (const [name, dest, flags] of [
    ['a new oci: layout', 'oci:{d}/layout:latest', ['--dest-compress-format', 'zstd']],
    ['dir:', 'dir:{d}/dir', []],
    ['a docker-archive', 'docker-archive:{d}/img.tar:example.com/x:1', []],
    ['an oci-archive', 'oci-archive:{d}/img-oci.tar:latest', []],
  ] as const) {
    it(`${name}: every file fsynced before it became visible, the directory after`, () => {
      const d = join(dir, name.replace(/[^a-z]+/g, '-'));
      const ref = dest.replace('{d}', d);
      const evs = traced(['--store', join(d, 'store'), 'copy', '-q', ...flags, hello, ref], dir);
      const target = ref.slice(ref.indexOf(':') + 1).split(':')[0]!;
      const n = checkDurable(evs, target, new Set());
      assert.ok(n >= 1, `checked ${n} files`);
      // And the store: every blob file synced before its rename into blobs/.
      for (const e of evs) {
        if (e.kind !== 'rename' || !e.to.startsWith(join(d, 'store', 'blobs') + '/')) continue;
        const i = evs.indexOf(e);
        assert.ok(
          evs.slice(0, i).some((x) => x.kind === 'fsync' && x.path === e.from),
          `store blob ${e.to} synced before it was placed`,
        );
      }
    });
  }

  it('an existing oci: layout: the new blobs and index.json, synced before visible; old files untouched', () => {
    const d = join(dir, 'existing');
    assert.equal(ocikit(['--store', join(d, 'store0'), 'copy', '-q', hello, `oci:${d}/layout:first`]).code, 0);
    const before = new Set(filesUnder(join(d, 'layout')).filter((f) => !f.endsWith('index.json')));
    const evs = traced(['--store', join(d, 'store'), 'copy', '-q', '--dest-compress-format', 'zstd', hello, `oci:${d}/layout:second`], dir);
    assert.ok(checkDurable(evs, join(d, 'layout'), before) >= 2);
    assert.ok(existsSync(join(d, 'layout', 'index.json')));
  });

  it('bundle create: the bundle fsynced before the rename that makes it visible, the directory after', () => {
    const d = join(dir, 'bundle');
    assert.equal(ocikit(['--store', join(d, 'store'), 'copy', '-q', hello, 'store:acme/hello:1']).code, 0);
    const out = join(d, 'out');
    const evs = traced(['--store', join(d, 'store'), 'bundle', 'create', 'store:acme/hello:1', '-o', join(out, 'week1.tar')], dir);
    assert.equal(checkDurable(evs, out, new Set()), 1);
  });

  it('logout: the rewritten auth file fsynced before its rename, the directory after', () => {
    const d = join(dir, 'auth', 'containers');
    const file = join(d, 'auth.json');
    writeFileSync(join(mkdirs(d), 'auth.json'), JSON.stringify({ auths: { 'a.example': { auth: 'dTpw' }, 'b.example': { auth: 'dTpw' } } }));
    const evs = traced(['logout', '--authfile', file, 'a.example'], dir);
    assert.equal(checkDurable(evs, d, new Set()), 1);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(file, 'utf8')).auths), ['b.example']);
  });

  it('--no-sync: no fsync of what is written (the escape hatch the README describes)', () => {
    const d = join(dir, 'nosync');
    const evs = traced(['--store', join(d, 'store'), 'copy', '-q', '--no-sync', hello, `oci:${d}/layout:latest`], dir);
    const ours = evs.filter((e) => e.kind === 'fsync' && !/index-v1\.sqlite/.test(e.path) && e.path !== join(d, 'store'));
    assert.deepEqual(ours, []);
  });
});
