/**
 * The registry cases of the bench: Debian's docker-registry on loopback, started here and stopped
 * by PID. One registry (the source) holds the typical image as bench/typical and the big image as
 * bench/big; the cases copy between it and others, ocikit side by side with skopeo (and crane when
 * it is on PATH):
 *
 * - into an empty registry: a docker-registry started for that one run (outside its timing), so
 *   no repository there holds any blob of the image;
 * - into a registry that holds the blobs in another repository: each tool first copied the image
 *   to a repository of its own there (outside the timings, with its own memory: ocikit's store is
 *   kept across the case's runs, skopeo's blob-info cache is not cleared), then every run copies to
 *   a new repository of that registry, where a tool that remembers where it saw the blobs mounts them;
 * - within one registry, repository to repository (cold: fresh store, skopeo's cache cleared);
 * - push to an empty registry, push again (everything already there), pull to oci:, inspect of the
 *   remote image, and for the big image push, pull to oci: and pull to docker-archive:.
 *
 * Every cold run starts from a fresh ocikit store (bench/run.ts) and skopeo's blob-info cache
 * cleared, so neither tool knows where the blobs are unless the case says so.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { startRegistry, type RegistryHandle } from '../support/registry.js';
import { clearSkopeoCache, copyCase, once, type Case, type CopySpec, type RunContext, type Tool } from './case.js';
import type { ImageInfo } from './generate.js';

const TLS = { ocikitFlags: ['--src-tls-verify=false', '--dest-tls-verify=false'], skopeoFlags: ['--src-tls-verify=false', '--dest-tls-verify=false'] };
/** Every registry path: at most this peak RSS (issue 17). */
const REGISTRY_RSS = 100;

async function stopAndRemove(r: RegistryHandle | undefined): Promise<void> {
  if (!r) return;
  await r.stop();
  rmSync(dirname(r.dataDir), { recursive: true, force: true });
}

/**
 * The registry cases for `typical` and `big` (oci: layouts). Nothing starts until a selected
 * case's prepare() runs; stop() ends whatever started.
 */
export function registryCases(typical: ImageInfo, big: ImageInfo, seed: (src: string, dst: string) => void): { cases: Case[]; stop: () => Promise<void> } {
  let source: RegistryHandle | undefined;
  let holder: RegistryHandle | undefined;
  /** the registry of the current "empty registry" run */
  let empty: RegistryHandle | undefined;
  const startSource = once(async () => {
    source = await startRegistry();
  });
  const seeded = new Map<string, () => Promise<void>>();
  /** The image in the source registry as bench/NAME:latest (pushed by skopeo, the independent writer). */
  const inSource = (img: ImageInfo): (() => Promise<void>) => {
    if (!seeded.has(img.name))
      seeded.set(
        img.name,
        once(async () => {
          await startSource();
          seed(img.ref, `docker://${source!.host}/bench/${img.name}:latest`);
        }),
      );
    return seeded.get(img.name)!;
  };
  const srcRef = (img: ImageInfo): string => `docker://${source!.host}/bench/${img.name}:latest`;
  const bare = (ref: string): string => ref.replace(/^docker:\/\//, '');
  const host = (): string => source!.host;

  /** Start a fresh registry before each run, stop and remove it after. */
  const freshRegistry = {
    before: async (tool: Tool): Promise<void> => {
      if (tool.kind === 'skopeo') clearSkopeoCache();
      empty = await startRegistry();
    },
    after: async (): Promise<void> => {
      await stopAndRemove(empty);
      empty = undefined;
    },
  };
  const coldSkopeo = { before: (tool: Tool): void => (tool.kind === 'skopeo' ? clearSkopeoCache() : undefined) };

  type Spec = Partial<CopySpec> & Pick<CopySpec, 'dst' | 'target'>;
  /** A case on `img`; its source is the image in the source registry unless `spec` names another. */
  const registryCase = (img: ImageInfo, group: string, name: string, spec: Spec): Case =>
    copyCase({
      name,
      section: img === big ? 'big registry' : 'registry',
      group,
      image: img,
      // A getter: the registry's address is known once prepare() has started it.
      get src() {
        return source ? srcRef(img) : `docker://source/bench/${img.name}:latest`;
      },
      prepare: inSource(img),
      ...TLS,
      ...spec,
    });
  const craneLayout = (ref: string): string => ref.slice('oci:'.length).replace(/:latest$/, '');
  const r2r = (img: ImageInfo, name: string, spec: Spec): Case => registryCase(img, 'registry->registry', name, { crane: (src, dst) => ['copy', '--insecure', bare(src), bare(dst)], ...spec });
  const push = (img: ImageInfo, name: string, spec: Spec): Case =>
    registryCase(img, 'push', name, { src: img.ref, prepare: async () => undefined, crane: (src, dst) => ['push', '--insecure', craneLayout(src), bare(dst)], ...spec });
  const pull = (img: ImageInfo, name: string, spec: Spec): Case => registryCase(img, 'pull', name, { ...coldSkopeo, ...spec });

  const intoEmpty = r2r(typical, 'registry->registry into an empty registry', {
    target: { speedup: 1.2, rssMiB: REGISTRY_RSS },
    dst: () => `docker://${empty!.host}/bench/typical:latest`,
    ...freshRegistry,
    note: 'a docker-registry started for each run: no blob there',
  });
  const elsewhere: Case = r2r(typical, 'registry->registry, blobs in another repository', {
    target: { node: 3, rssMiB: REGISTRY_RSS },
    movesBytes: false,
    keepStore: true,
    startup: true,
    prepare: async () => {
      await inSource(typical)();
      holder ??= await startRegistry();
    },
    // Each tool first copies the image to a repository of its own there, with the memory it keeps.
    setup: async (tool: Tool, run: RunContext) => {
      if (tool.kind === 'skopeo') clearSkopeoCache();
      const argv = elsewhere.argv(tool, { ...run, n: -1 });
      if (!argv) return;
      const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${tool.label}: copying to another repository first: ${r.stderr}`);
    },
    dst: (run) => `docker://${holder!.host}/${run.n < 0 ? 'seed' : `copy-${run.n}`}/typical:latest`,
    note: "each tool copied the image to another repository of that registry first (ocikit's store and skopeo's blob-info cache remember it); each run copies to a new repository",
  });
  const sameRegistry = r2r(typical, 'same registry, repository->repository', {
    target: { node: 3, rssMiB: REGISTRY_RSS },
    movesBytes: false,
    startup: true,
    dst: (run) => `docker://${host()}/promoted-${run.n}/typical:latest`,
    ...coldSkopeo,
    note: 'a new repository of the source registry each run; cold store and cache',
  });
  const pushToEmpty = (img: ImageInfo, speedup: number): Case =>
    push(img, 'push to an empty registry', {
      target: { speedup, rssMiB: REGISTRY_RSS },
      dst: () => `docker://${empty!.host}/bench/${img.name}:latest`,
      ...freshRegistry,
      note: 'a docker-registry started for each run',
    });
  const pullToOci = (img: ImageInfo, speedup: number): Case =>
    pull(img, 'pull to oci:', {
      target: { speedup, rssMiB: REGISTRY_RSS },
      dst: (run) => `oci:${run.dir}/out:latest`,
      crane: (src, dst) => ['pull', '--insecure', '--format', 'oci', bare(src), craneLayout(dst)],
    });
  const cases: Case[] = [intoEmpty, elsewhere, sameRegistry];

  cases.push(
    pushToEmpty(typical, 1.2),
    push(typical, 'push again (all there)', {
      target: { node: 2.5, rssMiB: REGISTRY_RSS },
      movesBytes: false,
      startup: true,
      dst: () => srcRef(typical),
      prepare: inSource(typical),
      ...coldSkopeo,
      note: 'every blob and the manifest already there',
    }),
    pullToOci(typical, 1.2),
    {
      name: 'inspect of a remote image',
      section: 'registry',
      group: 'inspect',
      target: { rssMiB: REGISTRY_RSS },
      image: typical,
      movesBytes: false,
      get src() {
        return source ? srcRef(typical) : 'docker://source/bench/typical:latest';
      },
      prepare: inSource(typical),
      // Both list the repository's tags too (their default).
      argv: (tool, run) =>
        tool.kind === 'ocikit'
          ? tool.command(['--store', run.store, 'inspect', '--tls-verify=false', srcRef(typical)])
          : tool.kind === 'skopeo'
            ? tool.command(['inspect', '--tls-verify=false', srcRef(typical)])
            : undefined,
      note: 'manifest, config and the tag list',
    },
    pushToEmpty(big, 1.5),
    pullToOci(big, 1.5),
    pull(big, 'pull to docker-archive:', {
      target: { speedup: 1.5, rssMiB: REGISTRY_RSS },
      dst: (run) => `docker-archive:${run.dir}/out.tar:bench/big:latest`,
      note: 'decompresses every layer',
    }),
  );
  return {
    cases,
    stop: async () => {
      await stopAndRemove(empty);
      await stopAndRemove(holder);
      await stopAndRemove(source);
    },
  };
}
