/**
 * podman against a private, throwaway image store: `--root`/`--runroot` in temp dirs and the vfs
 * driver, so a test never reads or changes the host's containers-storage and needs no overlay.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from './temp.js';
import { requirePeer } from './peers.js';

export interface PodmanStore {
  readonly root: string;
  /** Run podman with this store; throws with stderr on failure unless allowFail. */
  podman(args: string[], opts?: { allowFail?: boolean }): { code: number; stdout: string; stderr: string };
}

/**
 * A fresh private podman store. Its directories are removed with the test's temp dirs. `env` is
 * added to podman's environment (CONTAINERS_REGISTRIES_CONF for a test's own mirrors).
 */
export function podmanStore(store: { env?: NodeJS.ProcessEnv } = {}): PodmanStore {
  const prog = requirePeer('podman');
  const root = tempDir('ocikit-podman-');
  const base = ['--root', join(root, 'root'), '--runroot', join(root, 'run'), '--storage-driver', 'vfs', '--events-backend', 'file', '--cgroup-manager', 'cgroupfs'];
  return {
    root,
    podman(args, opts = {}) {
      const r = spawnSync(prog, [...base, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ...store.env, TMPDIR: root } });
      const res = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
      if (res.code !== 0 && !opts.allowFail) throw new Error(`podman ${args.join(' ')} failed (${res.code}): ${res.stderr.trim()}`);
      return res;
    },
  };
}
