/**
 * The one place the bench runs ocikit's CLI: the command that package.json's `bin.ocikit` names,
 * inside a private snapshot of a built checkout.
 *
 * A snapshot is a directory that looks like an installed package: the checkout's package.json and
 * dist/ copied (and the bin's own top-level folder when it lives outside dist/), and a symlink to
 * the checkout's node_modules. A build running in the checkout meanwhile (other work in the same
 * tree) cannot swap modules under a measured run. A bin ending in .js (or .mjs/.cjs) is run with
 * this process's node; anything else (a shell launcher) is executed as it is, with the checkout's
 * paths written in it pointed at the snapshot, and every file's timestamps kept.
 *
 * `OCIKIT_BENCH_OCIKIT=/path/a[,/path/b...]` measures those checkouts (each built) instead of this
 * one; with several, the last is the headline ("ocikit" in the tables) and the others are measured
 * beside it in every case, alternating with it and with skopeo: before and after from one run.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Tool } from './case.js';

/** A built ocikit checkout, snapshotted and ready to run. */
export interface OcikitBuild extends Tool {
  kind: 'ocikit';
  /** the checkout it was taken from */
  checkout: string;
  /** `git rev-parse --short HEAD` of the checkout, with "+dirty" when tracked files differ */
  rev: string;
  /** where package.json's bin points, inside the snapshot */
  bin: string;
}

function gitRev(dir: string): string {
  const head = spawnSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) return 'no-git';
  const dirty = spawnSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).stdout.trim() !== '';
  return head.stdout.trim() + (dirty ? '+dirty' : '');
}

/** The bin path package.json names for `ocikit`, relative to the package. */
function binOf(pkgJson: string): string {
  const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.ocikit;
  if (!bin) throw new Error(`${pkgJson} names no bin for ocikit`);
  return bin;
}

/** Snapshot `checkout` under `workDir` and return the build; its snapshot is removed at exit. */
export function snapshotBuild(checkout: string, workDir: string, id: string, label: string): OcikitBuild {
  const dir = realpathSync(resolve(checkout));
  const binRel = binOf(join(dir, 'package.json'));
  if (!existsSync(join(dir, 'dist')) || !existsSync(join(dir, binRel))) throw new Error(`${dir} is not built (${binRel} is missing): run npm run build there first`);
  const snap = join(workDir, `${id}-snapshot-${process.pid}`);
  rmSync(snap, { recursive: true, force: true });
  mkdirSync(snap, { recursive: true });
  process.on('exit', () => rmSync(snap, { recursive: true, force: true }));
  copyFileSync(join(dir, 'package.json'), join(snap, 'package.json'));
  // Timestamps kept: a launcher may compare a file's mtime with node's (to tell whether its
  // start-up snapshot was built by this node).
  const copy = (rel: string): void => cpSync(join(dir, rel), join(snap, rel), { recursive: true, preserveTimestamps: true });
  copy('dist');
  const top = binRel.replace(/^\.\//, '').split('/')[0]!;
  if (top !== 'dist') copy(top);
  if (existsSync(join(dir, 'node_modules'))) symlinkSync(realpathSync(join(dir, 'node_modules')), join(snap, 'node_modules'), 'dir');
  const bin = join(snap, binRel);
  // A launcher script run by its path uses the files beside it (build/README.md): the snapshot's.
  const viaNode = /\.[cm]?js$/.test(bin);
  const build: OcikitBuild = {
    id,
    kind: 'ocikit',
    label,
    checkout: dir,
    rev: gitRev(dir),
    bin,
    command: (args) => (viaNode ? [process.execPath, bin, ...args] : [bin, ...args]),
  };
  const probe = spawnSync(build.command(['--version'])[0]!, build.command(['--version']).slice(1), { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`${build.command(['--version']).join(' ')} failed in the snapshot of ${dir}: ${(probe.stderr || '').trim()}`);
  return build;
}

/**
 * The builds to measure: `OCIKIT_BENCH_OCIKIT` (comma-separated checkouts) or this checkout
 * (`root`). The last is the headline, with id "ocikit"; the others get "ocikit-1", "ocikit-2", ….
 */
export function ocikitBuilds(root: string, workDir: string, spec = process.env.OCIKIT_BENCH_OCIKIT ?? ''): OcikitBuild[] {
  const dirs = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const checkouts = dirs.length ? dirs : [root];
  return checkouts.map((c, i) => {
    const last = i === checkouts.length - 1;
    const id = last ? 'ocikit' : `ocikit-${i + 1}`;
    const b = snapshotBuild(c, workDir, id, id);
    b.label = checkouts.length === 1 && realpathSync(c) === realpathSync(root) ? 'ocikit' : `ocikit ${basename(b.checkout)}@${b.rev}`;
    return b;
  });
}
