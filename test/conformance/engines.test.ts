/**
 * The conformance suite against the transports that keep images in an engine: docker-daemon: (a
 * private dockerd) and containers-storage: (podman with a private vfs store). "Visible" means
 * visible to that engine (docker image inspect, podman image exists), not a path on disk.
 */
import { before, after } from 'node:test';
import { basename, join } from 'node:path';
import { startDockerd, type DockerEngine } from '../helpers/dockerd.js';
import { podmanStore, type PodmanStore } from '../helpers/podman.js';
import { conformanceSuite } from './suite.js';

let engine: DockerEngine | undefined;
let pm: PodmanStore | undefined;

before(async () => {
  engine = await startDockerd();
  pm = podmanStore();
});
after(async () => {
  await engine?.stop();
});

/** A repository name from the suite's per-test directory name ("img-v2s2" -> "conformance/img-v2s2"). */
const repo = (dir: string): string => `conformance/${basename(dir).toLowerCase()}`;

conformanceSuite('docker-daemon', {
  imageName: (d) => `docker-daemon:${repo(d)}:latest`,
  formats: ['v2s2'],
  supportsIndex: false,
  exists: (name) => engine!.docker(['image', 'inspect', name.slice('docker-daemon:'.length)], { allowFail: true }).code === 0,
  reusesBlobsAcrossCopies: false,
  keepsManifest: false,
  get ctx() {
    return { daemon: { host: engine!.host } };
  },
});

conformanceSuite('containers-storage', {
  imageName: (d) => `containers-storage:[vfs@${join(pm!.root, 'root')}+${join(pm!.root, 'run')}]localhost/${repo(d)}:latest`,
  formats: ['oci', 'v2s2'],
  supportsIndex: false,
  exists: (name) => pm!.podman(['image', 'exists', name.slice(name.indexOf(']') + 1)], { allowFail: true }).code === 0,
  reusesBlobsAcrossCopies: false,
});
