/**
 * The registry cases of the bench (issue 5): Debian's docker-registry on loopback, started here and
 * stopped by PID, and four cases side by side with skopeo: push to a fresh repository, push again
 * (every blob already there), pull to oci:, pull to docker-archive:.
 */
import { rmSync } from 'node:fs';
import { startRegistry, type RegistryHandle } from '../test/helpers/registry.js';

/** The shape of a bench case (bench/run.ts). */
export interface RegistryCase<I> {
  name: string;
  image: I;
  src: string;
  dst: (dir: string) => string;
  ocikitFlags?: string[];
  skopeoFlags?: string[];
  note?: string;
}

// skopeo remembers where blobs live (its blob-info cache) and would mount them from a repository an
// earlier run pushed to; ocikit's store is cold every run. Forget skopeo's memory before each of its
// runs so that "push fresh" uploads every byte for both tools.
const SKOPEO_CACHES = ['/var/lib/containers/cache/blob-info-cache-v1.boltdb', '/var/lib/containers/cache/blob-info-cache-v1.sqlite'];

export async function registryCases<I extends { ref: string }>(
  big: I,
  seed: (src: string, dst: string, flags: string[]) => void,
): Promise<{ registry: RegistryHandle; cases: Array<RegistryCase<I>> }> {
  const registry = await startRegistry();
  const host = registry.host;
  const push = ['--dest-tls-verify=false'];
  const pull = ['--src-tls-verify=false'];
  // One image in the registry for "push again" and the pulls.
  seed(big.ref, `docker://${host}/bench/big:latest`, push);
  let n = 0;
  const cases: Array<RegistryCase<I>> = [
    {
      name: 'push fresh oci->docker://',
      image: big,
      src: big.ref,
      dst: () => {
        for (const f of SKOPEO_CACHES) rmSync(f, { force: true });
        return `docker://${host}/fresh-${n++}:latest`;
      },
      ocikitFlags: push,
      skopeoFlags: push,
      note: 'a new repository each run: every blob uploaded',
    },
    { name: 'push again oci->docker://', image: big, src: big.ref, dst: () => `docker://${host}/bench/big:latest`, ocikitFlags: push, skopeoFlags: push, note: 'every blob already there' },
    { name: 'pull docker://->oci', image: big, src: `docker://${host}/bench/big:latest`, dst: (d) => `oci:${d}/out:latest`, ocikitFlags: pull, skopeoFlags: pull },
    {
      name: 'pull docker://->docker-archive',
      image: big,
      src: `docker://${host}/bench/big:latest`,
      dst: (d) => `docker-archive:${d}/out.tar:bench/big:latest`,
      ocikitFlags: pull,
      skopeoFlags: pull,
      note: 'decompresses every layer',
    },
  ];
  return { registry, cases };
}
