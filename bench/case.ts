/**
 * What a bench case is, shared by every file that defines cases (bench/run.ts runs them): the
 * tools, the context of one run, the targets, and `copyCase` for the common shape (one `copy`).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * A program the bench times. `command(args)` is the argv that runs it; for ocikit it comes from the
 * build's snapshot (bench/cli.ts), the only place that knows how the CLI is started. `node` is
 * Node itself (`node -e ""`, the floor the start-up targets are ratios to).
 */
export interface Tool {
  /** unique in a run: "ocikit" (the headline build), "ocikit-1", …, "skopeo", "crane", "node" */
  id: string;
  kind: 'ocikit' | 'skopeo' | 'crane' | 'node';
  /** for tables */
  label: string;
  command(args: string[]): string[];
}

export const skopeoTool: Tool = { id: 'skopeo', kind: 'skopeo', label: 'skopeo', command: (args) => ['skopeo', ...args] };
export const nodeTool: Tool = { id: 'node', kind: 'node', label: 'node', command: (args) => [process.execPath, ...args] };

/** crane (go-containerregistry) when it is on PATH: it is not a Debian package, the bench runs it only if found. */
export function craneTool(): Tool | undefined {
  if (spawnSync('sh', ['-c', 'command -v crane'], { stdio: 'ignore' }).status !== 0) return undefined;
  return { id: 'crane', kind: 'crane', label: 'crane', command: (args) => ['crane', ...args] };
}

/** One run of one tool in a case. */
export interface RunContext {
  /** an empty directory for this run's output */
  dir: string;
  /** this run's ocikit store: fresh for every run unless the case keeps it */
  store: string;
  /** a number unique among the runs of this process (for fresh destinations) */
  n: number;
}

/** What a case is held to (issue 17's targets); any of the three, each checked on its own. */
export interface Target {
  /** ocikit at least this many times as fast as skopeo */
  speedup?: number;
  /** ocikit's time at most this many times `node -e ""` (NODE_EXTRA_CA_CERTS unset in the start-up table) */
  node?: number;
  /** ocikit's peak RSS at most this, MiB */
  rssMiB?: number;
}

/**
 * Where a case is reported. Run order and report order differ: the report leads with the typical
 * image (registry paths, then local pairs) and start-up, then the big image.
 */
export const SECTIONS = {
  registry: 'Registry paths, typical image (docker-registry on loopback)',
  typical: 'Local pairs, typical image',
  big: 'Big image',
  'big registry': 'Big image, registry',
  more: 'Many layers, warm store, signatures, engines',
  'start-up': 'Start-up',
} as const;
export type Section = keyof typeof SECTIONS;

export interface Case {
  name: string;
  section: Section;
  /** a short kind within the section (pass-through, compressing, …) */
  group: string;
  target: Target;
  /** what the case moves: its uncompressed bytes give the MB/s column */
  image: { name: string; uncompressedBytes: number };
  /** the source: a case whose source an earlier case read needs no warm-up run (page cache) */
  src: string;
  /** false where the image's bytes do not move (inspect, push again, mounts): no MB/s */
  movesBytes?: boolean;
  /** The argv of one run of `tool`; undefined where the tool has nothing equivalent (not run). */
  argv(tool: Tool, run: RunContext): string[] | undefined;
  /** the path whose size is the run's output (a file or directory), if it has one */
  output?(run: RunContext): string | undefined;
  /** once before the case's first run: start what it needs (memoised by the file that defines it) */
  prepare?(): Promise<void>;
  /** once per tool before its first run of the case, outside the timings (with keepStore: fills that tool's store) */
  setup?(tool: Tool, run: RunContext): Promise<void>;
  /** before each run, outside its timing (a fresh registry, skopeo's cache cleared) */
  before?(tool: Tool, run: RunContext): Promise<void> | void;
  /** after each run, outside its timing */
  after?(tool: Tool, run: RunContext): Promise<void> | void;
  /** each ocikit build keeps one store across the case's runs (the one `setup` filled) */
  keepStore?: boolean;
  /** ocikit alone, through the store the named cold case (same section) left after its last run; skopeo's figure is that case's */
  warm?: { from: string };
  /** also timed in the start-up table (with NODE_EXTRA_CA_CERTS as set and unset) */
  startup?: boolean;
  note?: string;
}

// skopeo remembers where blobs live (its blob-info cache) and would mount them from a repository an
// earlier run pushed to; ocikit's store is fresh for every cold run. Cases forget skopeo's memory
// before each of its cold runs so that both tools start from nothing.
const SKOPEO_CACHES = ['/var/lib/containers/cache/blob-info-cache-v1.boltdb', '/var/lib/containers/cache/blob-info-cache-v1.sqlite'];
export function clearSkopeoCache(): void {
  for (const f of SKOPEO_CACHES) rmSync(f, { force: true });
}

/** Where a destination reference writes (for sizes): oci:PATH:REF, dir:PATH, …-archive:PATH:… -> PATH; registries: none. */
export function destPath(ref: string): string | undefined {
  const rest = ref.slice(ref.indexOf(':') + 1);
  return rest.startsWith('//') || ref.startsWith('docker-daemon:') || ref.startsWith('containers-storage:') ? undefined : rest.split(':')[0];
}

/** A case that is one `copy` for each tool (crane only where `crane` gives its argv). */
export interface CopySpec extends Omit<Case, 'argv' | 'output'> {
  /** the destination of a run */
  dst: (run: RunContext) => string;
  /** flags of each tool's copy (a function where they are known only once prepare() ran) */
  ocikitFlags?: string[] | (() => string[]);
  skopeoFlags?: string[] | (() => string[]);
  /** --policy FILE for ocikit and skopeo instead of --insecure-policy (bench/signature.ts) */
  policy?: string;
  /** crane's argv (after `crane`) for the same work, where it has one */
  crane?: (src: string, dst: string, run: RunContext) => string[] | undefined;
}

export function copyCase(spec: CopySpec): Case {
  const { dst, ocikitFlags = [], skopeoFlags = [], policy, crane, ...rest } = spec;
  // --insecure-policy unless the case names a policy: the cases measure copying, and
  // bench/signature.ts measures what a policy check adds.
  const pol = policy ? ['--policy', policy] : ['--insecure-policy'];
  return {
    ...rest,
    // A getter: a registry source is known only once its registry has started (prepare).
    get src() {
      return spec.src;
    },
    argv(tool, run) {
      const to = dst(run);
      const flags = (f: string[] | (() => string[])): string[] => (typeof f === 'function' ? f() : f);
      if (tool.kind === 'ocikit') return tool.command([...pol, '--store', run.store, 'copy', '-q', ...flags(ocikitFlags), spec.src, to]);
      if (tool.kind === 'skopeo') return tool.command([...pol, 'copy', '-q', ...flags(skopeoFlags), spec.src, to]);
      if (tool.kind === 'crane' && crane) {
        const args = crane(spec.src, to, run);
        return args && tool.command(args);
      }
      return undefined;
    },
    output: (run) => destPath(dst(run)),
  };
}

/** `fn` run once, its promise shared by every caller. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}
