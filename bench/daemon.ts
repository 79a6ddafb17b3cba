/**
 * The engine cases of the bench (issue 11): a private dockerd (vfs, its own sockets and data root)
 * and podman with a private vfs store, both started here and stopped by PID, and four cases side
 * by side with skopeo: oci: -> docker-daemon:, docker-daemon: -> oci:, oci: -> containers-storage:,
 * containers-storage: -> oci:.
 *
 * Each run starts cold for both tools: a load into the daemon or podman first removes the image a
 * previous run left (so its layers are stored again, not found), and the images read back are
 * loaded only after the loading cases ran (so those never find their layers already there). The
 * ocikit store is fresh every run (bench/run.ts), so containers-storage: -> oci: measures podman's
 * export, not ocikit's shortcut for images its store already holds.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startDockerd, type DockerEngine } from '../test/helpers/dockerd.js';
import { ensurePeers } from '../test/helpers/peers.js';
import { podmanStore } from '../test/helpers/podman.js';

/** The shape of a bench case (bench/run.ts). */
export interface DaemonCase<I> {
  name: string;
  image: I;
  src: string;
  dst: (dir: string) => string;
  ocikitFlags?: string[];
  skopeoFlags?: string[];
  note?: string;
}

/** The names of the cases daemonCases returns, so the caller can skip starting engines no case needs. */
export const DAEMON_CASE_NAMES = ['oci->docker-daemon', 'docker-daemon->oci', 'oci->containers-storage', 'containers-storage->oci'];

/**
 * Start the engines and describe the cases for `big` (an OCI layout reference). The images the
 * read cases need are put in place on the first run of those cases, with skopeo (the independent
 * writer). stop() ends the dockerd; the podman store is a temp dir removed at exit.
 */
export async function daemonCases<I extends { ref: string }>(big: I): Promise<{ cases: Array<DaemonCase<I>>; stop: () => Promise<void> }> {
  ensurePeers(['dockerd', 'docker', 'podman']);
  const engine: DockerEngine = await startDockerd();
  const pm = podmanStore();
  const spec = `[vfs@${join(pm.root, 'root')}+${join(pm.root, 'run')}]`;
  const skopeo = (args: string[]): void => {
    const r = spawnSync('skopeo', ['--insecure-policy', 'copy', '-q', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`skopeo copy ${args.join(' ')}: ${r.stderr}`);
  };
  const daemonFlags = (side: 'src' | 'dest'): string[] => [`--${side}-daemon-host`, engine.host];
  let daemonSeeded = false;
  let storageSeeded = false;
  const cases: Array<DaemonCase<I>> = [
    {
      name: 'oci->docker-daemon',
      image: big,
      src: big.ref,
      dst: () => {
        engine.docker(['rmi', '-f', 'bench/in:latest'], { allowFail: true });
        return 'docker-daemon:bench/in:latest';
      },
      ocikitFlags: daemonFlags('dest'),
      skopeoFlags: daemonFlags('dest'),
      note: 'decompresses every layer; the daemon stores each one anew',
    },
    {
      name: 'docker-daemon->oci',
      image: big,
      src: 'docker-daemon:bench/big:latest',
      dst: (d) => {
        if (!daemonSeeded) {
          skopeo([...daemonFlags('dest'), big.ref, 'docker-daemon:bench/big:latest']);
          daemonSeeded = true;
        }
        return `oci:${d}/out:latest`;
      },
      ocikitFlags: daemonFlags('src'),
      skopeoFlags: daemonFlags('src'),
      note: 'the export arrives uncompressed; both tools gzip it for oci: (ocikit while it arrives)',
    },
    {
      name: 'oci->containers-storage',
      image: big,
      src: big.ref,
      dst: () => {
        pm.podman(['rmi', '-f', 'localhost/bench/in:latest'], { allowFail: true });
        return `containers-storage:${spec}localhost/bench/in:latest`;
      },
      note: 'podman applies every layer anew',
    },
    {
      name: 'containers-storage->oci',
      image: big,
      src: `containers-storage:${spec}localhost/bench/big:latest`,
      dst: (d) => {
        if (!storageSeeded) {
          skopeo([big.ref, `containers-storage:${spec}localhost/bench/big:latest`]);
          storageSeeded = true;
        }
        return `oci:${d}/out:latest`;
      },
      note: 'cold ocikit store: skopeo gzips the layers it reads from storage for oci:; for ocikit, podman gzips them as it exports them',
    },
  ];
  return { cases, stop: () => engine.stop() };
}
