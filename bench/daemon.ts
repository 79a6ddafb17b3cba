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
import { startDockerd, type DockerEngine } from '../support/dockerd.js';
import { ensurePeers } from '../support/peers.js';
import { podmanStore } from '../support/podman.js';
import { copyCase, once, type Case, type CopySpec } from './case.js';
import type { ImageInfo } from './generate.js';

/**
 * The engine cases for the image `image()` gives (an OCI layout; made on first use). prepare()
 * starts the engines; the images the read cases need are put in place on the first run of those
 * cases, with skopeo (the independent writer). stop() ends the dockerd; the podman store is a temp
 * dir removed at exit.
 */
export function daemonCases(image: () => Promise<ImageInfo>): { cases: Case[]; stop: () => Promise<void> } {
  let engine: DockerEngine | undefined;
  let pm: ReturnType<typeof podmanStore> | undefined;
  let img: ImageInfo | undefined;
  // The cases' image and source are known once prepare() has run: `shown` is updated in place.
  const shown = { name: 'small', uncompressedBytes: NaN };
  const prepare = once(async () => {
    img = await image();
    Object.assign(shown, { name: img.name, uncompressedBytes: img.uncompressedBytes });
    ensurePeers(['dockerd', 'docker', 'podman']);
    engine = await startDockerd();
    pm = podmanStore();
  });
  const spec = (): string => `[vfs@${join(pm!.root, 'root')}+${join(pm!.root, 'run')}]`;
  const skopeo = (args: string[]): void => {
    const r = spawnSync('skopeo', ['--insecure-policy', 'copy', '-q', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`skopeo copy ${args.join(' ')}: ${r.stderr}`);
  };
  const daemonFlags = (side: 'src' | 'dest'): string[] => [`--${side}-daemon-host`, engine!.host];
  let daemonSeeded = false;
  let storageSeeded = false;
  const engineCase = (s: Omit<CopySpec, 'section' | 'group' | 'image' | 'prepare' | 'src'> & { src: () => string }): Case => {
    const { src, ...rest } = s;
    return copyCase({
      ...rest,
      section: 'more',
      group: 'engines',
      image: shown,
      get src() {
        return img ? src() : rest.name;
      },
      prepare,
    });
  };
  const cases: Case[] = [
    engineCase({
      name: 'oci->docker-daemon',
      target: { speedup: 1.5 },
      src: () => img!.ref,
      before: () => void engine!.docker(['rmi', '-f', 'bench/in:latest'], { allowFail: true }),
      dst: () => 'docker-daemon:bench/in:latest',
      ocikitFlags: () => daemonFlags('dest'),
      skopeoFlags: () => daemonFlags('dest'),
      note: 'decompresses every layer; the daemon stores each one anew',
    }),
    engineCase({
      name: 'docker-daemon->oci',
      target: { speedup: 1 },
      src: () => 'docker-daemon:bench/big:latest',
      before: () => {
        if (daemonSeeded) return;
        skopeo([...daemonFlags('dest'), img!.ref, 'docker-daemon:bench/big:latest']);
        daemonSeeded = true;
      },
      dst: (run) => `oci:${run.dir}/out:latest`,
      ocikitFlags: () => daemonFlags('src'),
      skopeoFlags: () => daemonFlags('src'),
      note: 'the export arrives uncompressed; both tools gzip it for oci: (ocikit while it arrives)',
    }),
    engineCase({
      name: 'oci->containers-storage',
      target: { speedup: 1.5 },
      src: () => img!.ref,
      before: () => void pm!.podman(['rmi', '-f', 'localhost/bench/in:latest'], { allowFail: true }),
      dst: () => `containers-storage:${spec()}localhost/bench/in:latest`,
      note: 'podman applies every layer anew',
    }),
    engineCase({
      name: 'containers-storage->oci',
      target: { speedup: 1 },
      src: () => `containers-storage:${spec()}localhost/bench/big:latest`,
      before: () => {
        if (storageSeeded) return;
        skopeo([img!.ref, `containers-storage:${spec()}localhost/bench/big:latest`]);
        storageSeeded = true;
      },
      dst: (run) => `oci:${run.dir}/out:latest`,
      note: 'cold ocikit store: skopeo gzips the layers it reads from storage for oci:; for ocikit, podman gzips them as it exports them',
    }),
  ];
  return { cases, stop: async () => engine?.stop() };
}
