/**
 * The sync cases of the bench (issue 10): a repository of 20 tags sharing their base layers, in a
 * docker-registry on loopback, mirrored by `ocikit sync` and `skopeo sync` side by side, to a
 * directory tree and to another repository of the same registry. Each run starts from a cold ocikit
 * store and an absent destination (a fresh namespace for the registry case).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyImage } from '../lib/copy/index.js';
import { BlobStore } from '../lib/store/index.js';
import { parseImageName } from '../lib/transports/index.js';
import { makeLayer, pseudoRandom, writeImage } from '../test/helpers/images.js';
import { startRegistry, type RegistryHandle } from '../test/helpers/registry.js';

/** The shape of a sync case: bench/run.ts runs `argv(tool, dir, store)` instead of a copy. */
export interface SyncCase<I> {
  name: string;
  image: I;
  src: string;
  dst: (dir: string) => string;
  argv: (tool: 'ocikit' | 'skopeo', cli: string, dst: string, store: string) => string[];
  note?: string;
}

const TAGS = 20;
const SKOPEO_CACHES = ['/var/lib/containers/cache/blob-info-cache-v1.boltdb', '/var/lib/containers/cache/blob-info-cache-v1.sqlite'];

/**
 * Start a registry holding bench/repo with 20 tags: three base layers shared by every tag (most of
 * the bytes) and one small layer of each tag's own. `image` describes the set for the table.
 */
export async function syncCases(size: 'small' | 'full'): Promise<{ registry: RegistryHandle; cases: Array<SyncCase<{ name: string; uncompressedBytes: number }>> }> {
  const registry = await startRegistry();
  const host = registry.host;
  const mib = size === 'full' ? 48 : 8;
  const base = [0, 1, 2].map((i) => makeLayer([{ name: `base-${i}.bin`, data: pseudoRandom(mib * 1024 * 1024, `bench-base-${i}`) }]));
  const work = mkdtempSync(join(tmpdir(), 'ocikit-bench-sync-'));
  const store = BlobStore.open(join(work, 'store'));
  try {
    for (let t = 0; t < TAGS; t++) {
      const own = makeLayer([{ name: 'app.bin', data: pseudoRandom(256 * 1024, `bench-tag-${t}`) }]);
      const dir = join(work, `img-${t}`);
      writeImage(dir, [...base, own], `tag-${t}`);
      await copyImage(parseImageName(`oci:${dir}:latest`), parseImageName(`docker://${host}/bench/repo:t${t}`), { store, destCtx: { tlsVerify: false } });
    }
  } finally {
    store.close();
    rmSync(work, { recursive: true, force: true });
  }
  const image = { name: `${TAGS} tags sharing ${3 * mib} MiB`, uncompressedBytes: TAGS * (3 * mib + 0.25) * 1024 * 1024 };
  let n = 0;
  const argv =
    (dest: 'dir' | 'docker') =>
    (tool: 'ocikit' | 'skopeo', cli: string, dst: string, storeDir: string): string[] =>
      tool === 'ocikit'
        ? [
            process.execPath,
            cli,
            '--insecure-policy',
            '--store',
            storeDir,
            'sync',
            '-q',
            '--src-tls-verify=false',
            '--dest-tls-verify=false',
            '--src',
            'docker',
            '--dest',
            dest,
            `${host}/bench/repo`,
            dst,
          ]
        : ['skopeo', '--insecure-policy', 'sync', '--src-tls-verify=false', '--dest-tls-verify=false', '--src', 'docker', '--dest', dest, `${host}/bench/repo`, dst];
  return {
    registry,
    cases: [
      {
        name: 'sync docker->dir (20 tags)',
        image,
        src: `docker://${host}/bench/repo`,
        dst: (d) => join(d, 'mirror'),
        argv: argv('dir'),
        note: 'shared layers fetched once by ocikit, per tag by skopeo',
      },
      {
        name: 'sync docker->docker (20 tags)',
        image,
        src: `docker://${host}/bench/repo`,
        dst: () => {
          // skopeo's blob-info cache would let it mount every blob from an earlier run's namespace;
          // ocikit's store is cold each run: make skopeo's cold too (as bench/registry.ts does).
          for (const f of SKOPEO_CACHES) rmSync(f, { force: true });
          return `${host}/mirror-${n++}`;
        },
        argv: argv('docker'),
        note: 'a fresh namespace each run, cold caches: the shared layers are uploaded once',
      },
    ],
  };
}
