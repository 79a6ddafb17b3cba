/**
 * The sync cases of the bench (issue 10): a repository of 20 tags sharing their base layers, in a
 * docker-registry on loopback, mirrored by `ocikit sync` and `skopeo sync` side by side, to a
 * directory tree and to another repository of the same registry. Each run starts from a cold ocikit
 * store, skopeo's blob-info cache cleared, and an absent destination (a fresh namespace for the
 * registry case).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyImage } from '../lib/copy/index.js';
import { BlobStore } from '../lib/store/index.js';
import { parseImageName } from '../lib/transports/index.js';
import { makeLayer, pseudoRandom, writeImage } from '../test/helpers/images.js';
import { startRegistry, type RegistryHandle } from '../test/helpers/registry.js';
import { clearSkopeoCache, once, type Case, type Tool } from './case.js';

const TAGS = 20;

/**
 * The two sync cases. prepare() starts a registry holding bench/repo with 20 tags: three base layers
 * shared by every tag (most of the bytes) and one small layer of each tag's own.
 */
export function syncCases(size: 'small' | 'full'): { cases: Case[]; stop: () => Promise<void> } {
  let registry: RegistryHandle | undefined;
  const mib = size === 'full' ? 48 : 8;
  const prepare = once(async () => {
    registry = await startRegistry();
    const base = [0, 1, 2].map((i) => makeLayer([{ name: `base-${i}.bin`, data: pseudoRandom(mib * 1024 * 1024, `bench-base-${i}`) }]));
    const work = mkdtempSync(join(tmpdir(), 'ocikit-bench-sync-'));
    const store = BlobStore.open(join(work, 'store'));
    try {
      for (let t = 0; t < TAGS; t++) {
        const own = makeLayer([{ name: 'app.bin', data: pseudoRandom(256 * 1024, `bench-tag-${t}`) }]);
        const dir = join(work, `img-${t}`);
        writeImage(dir, [...base, own], `tag-${t}`);
        await copyImage(parseImageName(`oci:${dir}:latest`), parseImageName(`docker://${registry.host}/bench/repo:t${t}`), { store, destCtx: { registry: { tlsVerify: false } } });
      }
    } finally {
      store.close();
      rmSync(work, { recursive: true, force: true });
    }
  });
  const image = { name: `${TAGS} tags sharing ${3 * mib} MiB`, uncompressedBytes: TAGS * (3 * mib + 0.25) * 1024 * 1024 };
  const argv =
    (dest: 'dir' | 'docker', to: (dir: string, n: number) => string) =>
    (tool: Tool, run: { dir: string; store: string; n: number }): string[] | undefined => {
      const common = ['--src-tls-verify=false', '--dest-tls-verify=false', '--src', 'docker', '--dest', dest, `${registry!.host}/bench/repo`, to(run.dir, run.n)];
      if (tool.kind === 'ocikit') return tool.command(['--insecure-policy', '--store', run.store, 'sync', '-q', ...common]);
      if (tool.kind === 'skopeo') return tool.command(['--insecure-policy', 'sync', ...common]);
      return undefined;
    };
  const cold = (tool: Tool): void => (tool.kind === 'skopeo' ? clearSkopeoCache() : undefined);
  const src = (): string => (registry ? `docker://${registry.host}/bench/repo` : 'docker://sync/bench/repo');
  const mirror = (dir: string): string => join(dir, 'mirror');
  const syncCase = (name: string, speedup: number, spec: Pick<Case, 'argv' | 'output' | 'note'>): Case => ({
    name,
    section: 'registry',
    group: 'sync',
    target: { speedup, rssMiB: 100 },
    image,
    get src() {
      return src();
    },
    prepare,
    before: cold,
    ...spec,
  });
  const cases: Case[] = [
    // A fresh namespace of the same registry each run: the shared layers are uploaded once.
    syncCase('sync docker->docker (20 tags)', 2, {
      argv: argv('docker', (_dir, n) => `${registry!.host}/mirror-${n}`),
      note: 'a fresh namespace each run, cold store and cache',
    }),
    syncCase('sync docker->dir (20 tags)', 3, {
      argv: argv('dir', (dir) => mirror(dir)),
      output: (run) => mirror(run.dir),
      note: 'shared layers fetched once by ocikit, per tag by skopeo',
    }),
  ];
  return { cases, stop: async () => registry?.stop() };
}
