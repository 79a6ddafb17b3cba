/**
 * The CLI's V8 start-up snapshot and its launcher, for the Node that runs this (see build/README.md):
 *
 *   dist/bin/ocikit.blob   `node --build-snapshot dist/bin/ocikit.cjs`: the CLI's heap after loading
 *   dist/bin/ocikit.stamp  a file whose modification time is that Node binary's, to tell later whether
 *                          the binary was replaced (a snapshot only loads in the Node that built it)
 *   dist/bin/ocikit        the launcher (package.json's `bin`): a POSIX shell script that starts the
 *                          snapshot with that Node when it still can, and the bundle otherwise
 *
 * Built by `npm run build`, and again by `npm install` of the package (package.json's `install`
 * script runs this file), because a snapshot belongs to one Node binary on one machine. Building it
 * may fail (a Node without snapshot support, no space): then there is no blob, the launcher runs the
 * bundle, and ocikit works as before, only slower to start. Nothing here makes a command fail.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * V8 flags of every CLI process, given by the launcher (and to the snapshot's build: a snapshot
 * loads only under the flags it was built with). A young generation of 1 MiB semi-spaces instead of
 * V8's up to 16: the socket and file buffers a transfer drops are collected sooner, which keeps a
 * registry copy of a 540 MB image under 100 MiB resident (104 -> 99 MiB) at the same CPU time.
 */
export const V8_FLAGS = ['--max-semi-space-size=1'];

/** Single-quote a string for the shell. */
function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The launcher. `node` and `bin` are where Node and the bundle were when this was written (an
 * install moves neither). Run by its own path, the launcher uses the files beside it (a copy of
 * the tree runs its own); run through a symlink elsewhere (npm's bin links), it uses `bin`; when
 * `bin` no longer holds the bundle either, it follows the link with readlink. The snapshot is used only with the Node binary that
 * built it, unchanged since (same modification time as the stamp: dash, bash and busybox all have
 * -nt and -ot); anything else runs the bundle with that Node, or with the `node` on PATH when that
 * one is gone. `exec` throughout: the process that callers see (and signal) is Node itself.
 */
export function launcherScript(node: string, bin: string): string {
  const flags = V8_FLAGS.map(shQuote).join(' ');
  return `#!/bin/sh
# ocikit: start the CLI from its V8 start-up snapshot when this Node built it, else from its bundle.
# Written by build/snapshot.ts for this install; see build/README.md in the ocikit sources.
node=${shQuote(node)}
bin=${shQuote(bin)}
# Node parses NODE_EXTRA_CA_CERTS (and its whole root store) as it starts: ocikit reads it itself,
# when a TLS connection first needs it, and gives it back to the processes it runs.
if [ -n "\${NODE_EXTRA_CA_CERTS-}" ]; then
  OCIKIT_NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS
  export OCIKIT_NODE_EXTRA_CA_CERTS
  unset NODE_EXTRA_CA_CERTS
fi
# Its own directory when run by its path (a copy of the tree runs its own files), else the one
# recorded at install (npm's bin links are symlinks elsewhere), else wherever the link points.
case $0 in */*) [ -f "\${0%/*}/ocikit.cjs" ] && bin=\${0%/*} ;; esac
if [ ! -f "$bin/ocikit.cjs" ]; then
  bin=$(dirname "$(readlink -f "$0")")
fi
if [ -x "$node" ]; then
  if [ -f "$bin/ocikit.blob" ] && [ -f "$bin/ocikit.stamp" ] && [ ! "$node" -nt "$bin/ocikit.stamp" ] && [ ! "$node" -ot "$bin/ocikit.stamp" ]; then
    exec "$node" ${flags} --snapshot-blob "$bin/ocikit.blob" -- "$bin" "$@"
  fi
  exec "$node" ${flags} "$bin/ocikit.cjs" "$@"
fi
exec node ${flags} "$bin/ocikit.cjs" "$@"
`;
}

/**
 * Build the snapshot of `bin`/ocikit.cjs with this Node and write the launcher. Returns whether a
 * snapshot was made; on failure the old blob is removed (a stale one must not be started).
 */
export function buildSnapshot(bin: string, opts: { verbose?: boolean } = {}): boolean {
  const node = process.execPath;
  const blob = join(bin, 'ocikit.blob');
  const stamp = join(bin, 'ocikit.stamp');
  const launcher = join(bin, 'ocikit');
  const tmp = `${blob}.${process.pid}.tmp`;
  rmSync(blob, { force: true });
  rmSync(stamp, { force: true });
  const r = spawnSync(node, [...V8_FLAGS, '--snapshot-blob', tmp, '--build-snapshot', join(bin, 'ocikit.cjs')], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  let made = r.status === 0 && existsSync(tmp);
  if (made) {
    renameSync(tmp, blob);
    // The stamp takes the Node binary's modification time, to the nanosecond where the filesystem has it.
    writeFileSync(stamp, `${node} ${process.version}\n`);
    made = spawnSync('touch', ['-r', node, stamp]).status === 0;
    if (!made) rmSync(blob, { force: true });
  } else {
    rmSync(tmp, { force: true });
    // Only the first line: the builder's output on failure is a V8 dump.
    const why = (r.error?.message ?? r.stderr.split('\n').find((l) => l.trim() && !/Warning|may still work|To request support|trace-warnings/.test(l)) ?? `exit ${r.status}`).trim();
    process.stderr.write(`ocikit: no start-up snapshot for Node ${process.version} (${why}); the CLI starts from its bundle\n`);
  }
  writeFileSync(launcher, launcherScript(node, bin));
  chmodSync(launcher, 0o755);
  if (made && opts.verbose) process.stderr.write(`ocikit: start-up snapshot built for Node ${process.version}\n`);
  return made;
}

/**
 * The launcher a package carries (`npm pack`'s prepack writes it): it records no Node and no
 * directory, so until the install step writes this machine's, it runs the bundle with the `node` on
 * PATH from wherever it is.
 */
export function writeGenericLauncher(bin: string): void {
  rmSync(join(bin, 'ocikit.blob'), { force: true });
  rmSync(join(bin, 'ocikit.stamp'), { force: true });
  writeFileSync(join(bin, 'ocikit'), launcherScript('', ''));
  chmodSync(join(bin, 'ocikit'), 0o755);
}

// Run as a script: by the package's install step (the dist/bin beside this file's dist/build), and
// with --generic by `npm pack` (package.json's prepack; postpack builds this machine's again).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin');
  if (process.argv[2] === '--generic') writeGenericLauncher(bin);
  else if (existsSync(join(bin, 'ocikit.cjs'))) buildSnapshot(bin);
}
