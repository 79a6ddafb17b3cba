/**
 * `npm run bench`: ocikit against skopeo, side by side in one run, on images generated from real
 * files (bench/generate.ts), plus the limits of this machine (bench/micro.ts).
 *
 * Environment:
 *   OCIKIT_BENCH_SIZE=small|full   (default full: ~1.6 GB uncompressed / ~0.5 GB gzip; small: a tenth)
 *   OCIKIT_BENCH_ONLY=a,b          run only the cases whose name contains one of these
 *   OCIKIT_BENCH_NO_MICRO=1        skip the machine's limits
 *   OCIKIT_BENCH_NO_REGISTRY=1     skip the registry cases; OCIKIT_BENCH_NO_DAEMON=1 the docker-daemon:/containers-storage: ones
 *   OCIKIT_BENCH_REPACK=1          also run the repack case (ten docker-archives sharing a base; slow)
 *   OCIKIT_BENCH_NO_SERVE=1        skip ocikit serve against docker-registry (bench/serve.ts); OCIKIT_BENCH_ONLY=serve runs only it
 *
 * Fair comparison: both tools do the same work (same output compression; output sizes are in the
 * table), both are durable (skopeo fsyncs every blob; ocikit fsyncs before every rename that
 * makes a file visible), and they run alternately (ocikit, skopeo, ocikit, skopeo) so that a
 * change in the machine's load hits both. Each ocikit run starts from a cold store (a fresh
 * --store) and an absent destination, except the "warm" cases, which run the same conversion
 * again through the store their cold case left. One warm-up run (ocikit's) when no earlier case
 * read the same source, then two measured runs of each tool, and a third when those two differ by
 * more than 10% and are under 5 s; the median is reported. The engine cases (docker-daemon:, containers-storage:)
 * use the small image even in a full run: both tools move 20-60 MB/s there, bound by dockerd and
 * podman, and the big image made them two thirds of a 50-minute bench.
 *
 * Wall time and peak RSS come from /usr/bin/time (-f "%e %M"): the peak RSS of the process, which
 * for ocikit includes its worker threads (they are threads, not processes).
 *
 * Benchmarks are not tests: nothing here asserts speed. Results: bench/results/<size>-<stamp>.json,
 * and bench/results/<size>-latest.{md,svg,html}.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, createWriteStream, createReadStream } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { WorkerPool } from '../lib/pool/index.js';
import { ensurePeers } from '../test/helpers/peers.js';
import { registryCases } from './registry.js';
import { signatureCases, type PolicyCheckTiming } from './signature.js';
import { syncCases } from './sync.js';
import { DAEMON_CASE_NAMES, daemonCases } from './daemon.js';
import { serveBench, serveTable, type ServeBenchResult } from './serve.js';
import { generateImages, generateRepackImages, type BenchSize, type ImageInfo } from './generate.js';
import { runMicro, type MicroResult } from './micro.js';
import { chartSvg, reportHtml, type ChartRow } from './chart.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: dist/bench/run.js -> ../.. */
const root = resolve(here, '..', '..');
/**
 * The CLI the bench runs: a private snapshot of dist/ taken at start (see main), so that a build
 * running meanwhile (other work in the same tree) cannot swap modules under a measured run.
 */
let cli = join(root, 'dist', 'bin', 'main.js');
const benchDir = join(root, 'bench');
const workDir = join(benchDir, 'work');
const resultsDir = join(benchDir, 'results');

const size: BenchSize = process.env.OCIKIT_BENCH_SIZE === 'small' ? 'small' : 'full';
const only = (process.env.OCIKIT_BENCH_ONLY ?? '').split(',').filter(Boolean);
const cores = availableParallelism();

const log = (s: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
};

type Tool = 'ocikit' | 'skopeo';

interface RunStat {
  seconds: number;
  rssMiB: number;
}

interface ToolResult {
  runs: RunStat[];
  medianSeconds: number;
  /** MB/s of the image's uncompressed bytes */
  mbps: number;
  peakRssMiB: number;
  /** bytes at the destination after the last run */
  outBytes: number;
  /** when a run failed: the error */
  error?: string;
}

/** The groups of pairs, each with the issue's target (speed-up over skopeo). */
const GROUPS = {
  'pass-through': 2.5,
  decompressing: 2,
  compressing: 1,
  'warm store': 20,
  registry: 1.5,
  'registry again': 1,
  'many layers': 1.5,
  signature: 1,
  sync: 3,
  engines: 1.5,
} as const;
type Group = keyof typeof GROUPS;

interface CaseResult {
  name: string;
  group: Group;
  target: number;
  image: string;
  uncompressedBytes: number;
  note?: string;
  ocikit: ToolResult;
  skopeo: ToolResult;
  /** skopeo seconds / ocikit seconds (> 1: ocikit faster) */
  speedup: number;
}

interface Case {
  name: string;
  group: Group;
  image: Pick<ImageInfo, 'name' | 'uncompressedBytes'>;
  /** source reference, the same for both tools */
  src: string;
  /** destination reference for a run directory */
  dst: (dir: string) => string;
  /** extra flags for each tool's copy */
  ocikitFlags?: string[];
  skopeoFlags?: string[];
  note?: string;
  /** --policy FILE for both tools instead of --insecure-policy (bench/signature.ts). */
  policy?: string;
  /** A command other than copy (sync): the whole argv of a run. */
  argv?: (tool: Tool, cli: string, dst: string, store: string) => string[];
  /** ocikit keeps one store across its runs (the one `skopeoFrom`'s last run left, else a first run fills it); skopeo is not run again but reuses `skopeoFrom`. */
  warm?: { skopeoFrom: string };
}

/** Run `argv` under /usr/bin/time; returns wall seconds and peak RSS (MiB), or throws with its stderr. */
function timed(argv: string[], what: string): RunStat {
  const tf = join(tmpdir(), `ocikit-bench-time.${process.pid}`);
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', tf, ...argv], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
  const [secs, kb] = readFileSync(tf, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  rmSync(tf, { force: true });
  return { seconds: secs!, rssMiB: kb! / 1024 };
}

function duBytes(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (st.isFile()) return st.size;
  let n = 0;
  for (const name of readdirSync(p)) n += duBytes(join(p, name));
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function toolArgv(tool: Tool, src: string, dst: string, store: string, flags: string[], policyFile?: string): string[] {
  // --insecure-policy (both tools) unless the case names a policy: the cases measure copying, and
  // bench/signature.ts measures what a policy check adds.
  const policy = policyFile ? ['--policy', policyFile] : ['--insecure-policy'];
  if (tool === 'ocikit') return [process.execPath, cli, ...policy, '--store', store, 'copy', '-q', ...flags, src, dst];
  return ['skopeo', ...policy, 'copy', '-q', ...flags, src, dst];
}

/** Where a destination reference writes (for sizes and cleanup). */
function destPath(ref: string): string {
  const rest = ref.slice(ref.indexOf(':') + 1);
  // oci:PATH:REF, oci-archive:PATH:REF, docker-archive:PATH:NAME:TAG -> PATH (bench paths have no ':')
  return rest.startsWith('//') ? '' : rest.split(':')[0]!;
}

/** Sources an earlier case already read: in the page cache now, so a case on one needs no warm-up. */
const sourcesRead = new Set<string>();
/** Where a cold case leaves the store of its last ocikit run for its warm case (see runCase). */
const keptStore = (caseName: string): string => join(workDir, 'kept-stores', slug(caseName));
/** A case name as a directory name. */
const slug = (name: string): string => name.replace(/[^a-z0-9]+/gi, '-');

/**
 * One case: measured runs alternating between the tools, after one warm-up run (ocikit's, which
 * also brings the source into the page cache) when no earlier case read the same source, so both
 * tools start from the same warm cache. (Until 2026-12-04 each tool had a warm-up run in every
 * case: a quarter of the bench's time.)
 *
 * A warm case runs ocikit again through the store its cold case (`warm.skopeoFrom`) left after its
 * last run (`keepStore`), so the store is filled by the very conversion the warm case repeats,
 * without a run of its own to fill it.
 */
function runCase(c: Case, earlier: CaseResult[], keepStore: boolean): CaseResult {
  const base = join(workDir, 'runs', slug(c.name));
  const dirOf = (tool: Tool): string => join(base, tool);
  const stats: Record<Tool, RunStat[]> = { ocikit: [], skopeo: [] };
  const outBytes: Record<Tool, number> = { ocikit: 0, skopeo: 0 };
  const errors: Partial<Record<Tool, string>> = {};
  const tools: Tool[] = c.warm ? ['ocikit'] : ['ocikit', 'skopeo'];
  const warmStore = c.warm && existsSync(keptStore(c.warm.skopeoFrom)) ? keptStore(c.warm.skopeoFrom) : undefined;
  const once = (tool: Tool): RunStat => {
    const d = dirOf(tool);
    // A warm case keeps its store (the cold case's, or its first run's); every run writes a fresh destination.
    const store = warmStore ?? join(base, `${tool}-store`);
    if (!c.warm) rmSync(store, { recursive: true, force: true });
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    const dst = c.dst(d);
    const argv = c.argv ? c.argv(tool, cli, dst, store) : toolArgv(tool, c.src, dst, store, (tool === 'ocikit' ? c.ocikitFlags : c.skopeoFlags) ?? [], c.policy);
    const st = timed(argv, `${tool} ${c.name}`);
    const p = destPath(dst);
    if (p) outBytes[tool] = duBytes(p);
    return st;
  };
  rmSync(base, { recursive: true, force: true });
  try {
    // The warm-up: for a warm case without a kept store, the run that fills the store.
    if (c.warm ? !warmStore : !sourcesRead.has(c.src)) {
      try {
        once('ocikit');
      } catch (err) {
        errors.ocikit = (err as Error).message;
      }
    }
    sourcesRead.add(c.src);
    // Two measured runs suffice when they agree within 10%, or when they are long (5 s or more):
    // there a 10% difference is the machine's load, and a third run costs more than it settles.
    const settled = (t: Tool): boolean => !!errors[t] || spread(stats[t]) <= 1.1 || Math.min(...stats[t].map((x) => x.seconds)) >= 5;
    for (let i = 0; i < 3; i++) {
      for (const tool of tools) {
        if (errors[tool] || (i === 2 && settled(tool))) continue;
        try {
          stats[tool].push(once(tool));
        } catch (err) {
          errors[tool] = (err as Error).message;
        }
      }
      if (i === 1 && tools.every(settled)) break;
    }
    if (keepStore && !errors.ocikit) {
      rmSync(keptStore(c.name), { recursive: true, force: true });
      mkdirSync(dirname(keptStore(c.name)), { recursive: true });
      renameSync(join(base, 'ocikit-store'), keptStore(c.name));
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
    if (warmStore) rmSync(warmStore, { recursive: true, force: true });
  }
  const result = (tool: Tool): ToolResult => {
    const med = stats[tool].length ? median(stats[tool].map((s) => s.seconds)) : NaN;
    return {
      runs: stats[tool],
      medianSeconds: med,
      mbps: c.image.uncompressedBytes / 1e6 / med,
      peakRssMiB: stats[tool].length ? Math.max(...stats[tool].map((s) => s.rssMiB)) : NaN,
      outBytes: outBytes[tool],
      ...(errors[tool] ? { error: errors[tool] } : {}),
    };
  };
  const o = result('ocikit');
  const s = c.warm ? earlier.find((e) => e.name === c.warm!.skopeoFrom)?.skopeo : result('skopeo');
  const sk: ToolResult = s ?? { runs: [], medianSeconds: NaN, mbps: NaN, peakRssMiB: NaN, outBytes: 0 };
  for (const [tool, r] of [
    ['ocikit', o],
    ['skopeo', sk],
  ] as const) {
    if (r.error) log(`  ${tool}: ${r.error}`);
    else
      log(
        `  ${tool.padEnd(6)} ${c.name}: median ${r.medianSeconds.toFixed(2)} s (${r.runs.map((x) => x.seconds.toFixed(2)).join(', ')})${c.warm && tool === 'skopeo' ? ' [from the cold case]' : ''}, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, out ${(r.outBytes / 1e6).toFixed(0)} MB`,
      );
  }
  return {
    name: c.name,
    group: c.group,
    target: size === 'small' ? 1.5 : GROUPS[c.group],
    image: c.image.name,
    uncompressedBytes: c.image.uncompressedBytes,
    ...(c.note ? { note: c.note } : {}),
    ocikit: o,
    skopeo: sk,
    speedup: sk.medianSeconds / o.medianSeconds,
  };
}

function spread(xs: RunStat[]): number {
  if (xs.length < 2) return 1;
  const s = xs.map((x) => x.seconds);
  return Math.max(...s) / Math.max(0.001, Math.min(...s));
}

/** A source made by skopeo from the big OCI image (cached next to the images). */
function skopeoMade(img: ImageInfo, kind: 'oci-archive' | 'docker-archive' | 'dir'): string {
  const p = join(dirname(img.path), `${img.name}.${kind}${kind === 'dir' ? '' : '.tar'}`);
  const ref = kind === 'oci-archive' ? `oci-archive:${p}:latest` : kind === 'docker-archive' ? `docker-archive:${p}:bench/${img.name}:latest` : `dir:${p}`;
  if (!existsSync(p)) {
    log(`making ${ref} with skopeo`);
    const r = spawnSync('skopeo', ['--insecure-policy', 'copy', '-q', img.ref, ref], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`skopeo copy ${img.ref} ${ref}: ${r.stderr}`);
  }
  // docker-archive sources are named by path alone (one image per archive); the others keep their ref.
  return kind === 'docker-archive' ? `docker-archive:${p}` : ref;
}

function fmt(n: number, d = 1): string {
  return Number.isFinite(n) ? n.toFixed(d) : '—';
}

function table(cases: CaseResult[]): string {
  const head = '| case | group | image (uncompressed) | ocikit s | skopeo s | ocikit MB/s | skopeo MB/s | speed-up | target | peak RSS ocikit / skopeo MiB | output MB ocikit / skopeo |';
  const sep = '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|';
  const rows = cases.map(
    (c) =>
      `| ${c.name} | ${c.group} | ${c.image} (${fmt(c.uncompressedBytes / 1e6, 0)} MB) | ${fmt(c.ocikit.medianSeconds, 2)} | ${fmt(c.skopeo.medianSeconds, 2)} | ${fmt(c.ocikit.mbps, 0)} | ${fmt(c.skopeo.mbps, 0)} | ${fmt(c.speedup, 2)}× ${c.speedup >= c.target ? '✓' : '✗'} | ${c.target}× | ${fmt(c.ocikit.peakRssMiB, 0)} / ${fmt(c.skopeo.peakRssMiB, 0)} | ${c.ocikit.outBytes ? fmt(c.ocikit.outBytes / 1e6, 0) : '—'} / ${c.skopeo.outBytes ? fmt(c.skopeo.outBytes / 1e6, 0) : '—'} |`,
  );
  return [head, sep, ...rows].join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  // Node resolves node_modules by walking up from the module, so a snapshot under bench/work/
  // still finds the repository's node_modules and package.json ("type": "module").
  mkdirSync(workDir, { recursive: true });
  const snapshot = join(workDir, `dist-snapshot-${process.pid}`);
  rmSync(snapshot, { recursive: true, force: true });
  cpSync(join(root, 'dist'), snapshot, { recursive: true });
  process.on('exit', () => rmSync(snapshot, { recursive: true, force: true }));
  cli = join(snapshot, 'bin', 'main.js');
  // The peers: skopeo (the anchor), pigz (reference), GNU time (peak RSS), docker-registry.
  const installed = ensurePeers(['skopeo', 'pigz', 'time', 'docker-registry']);
  if (installed.length) log(`installed: ${installed.join(' ')}`);
  if (!existsSync('/usr/bin/time')) throw new Error('GNU time (/usr/bin/time) is missing: apt-get install -y time');
  const skopeoVersion = spawnSync('skopeo', ['--version'], { encoding: 'utf8' }).stdout.trim();
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const shaNi = /\bsha_ni\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  mkdirSync(resultsDir, { recursive: true });
  const load0 = loadavg();
  log(`size ${size}, ${cores} cores (${cpu}${shaNi ? ', SHA-NI' : ', no SHA-NI'}), ${skopeoVersion}, node ${process.version}, load ${load0.map((l) => l.toFixed(2)).join(' ')}`);

  const pool = new WorkerPool();
  let images;
  try {
    images = await generateImages(workDir, size, pool, log);
  } finally {
    await pool.close();
  }
  const { big, bigPlain, many } = images;

  // === the machine's limits, on a sample of the big image's uncompressed bytes
  let micro: MicroResult[] = [];
  if (!process.env.OCIKIT_BENCH_NO_MICRO && (only.length === 0 || only.includes('micro'))) {
    const sample = join(workDir, 'micro-sample.bin');
    const want = size === 'full' ? 64e6 : 32e6;
    const idx = JSON.parse(readFileSync(join(bigPlain.path, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const m = JSON.parse(readFileSync(join(bigPlain.path, 'blobs', 'sha256', idx.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    // The second layer: real files of mixed kinds (the first one is mostly node's own tree).
    const layer = join(bigPlain.path, 'blobs', 'sha256', m.layers[Math.min(1, m.layers.length - 1)]!.digest.slice(7));
    await pipeline(createReadStream(layer, { start: 0, end: want - 1 }), createWriteStream(sample));
    micro = await runMicro(sample, workDir, cores, cli, big.ref, log);
    rmSync(sample, { force: true });
  }

  // === the pairs
  const cases: Case[] = [
    { name: 'oci->oci', group: 'pass-through', image: big, src: big.ref, dst: (d) => `oci:${d}/out:latest` },
    { name: 'oci->dir', group: 'pass-through', image: big, src: big.ref, dst: (d) => `dir:${d}/out` },
    { name: 'oci->oci-archive', group: 'pass-through', image: big, src: big.ref, dst: (d) => `oci-archive:${d}/out.tar:latest` },
    { name: 'oci-archive->oci', group: 'pass-through', image: big, src: skopeoMade(big, 'oci-archive'), dst: (d) => `oci:${d}/out:latest` },
    { name: 'dir->oci', group: 'pass-through', image: big, src: skopeoMade(big, 'dir'), dst: (d) => `oci:${d}/out:latest` },
    { name: 'oci->docker-archive', group: 'decompressing', image: big, src: big.ref, dst: (d) => `docker-archive:${d}/out.tar:bench/big:latest`, note: 'decompresses every layer' },
    { name: 'dir->docker-archive', group: 'decompressing', image: big, src: skopeoMade(big, 'dir'), dst: (d) => `docker-archive:${d}/out.tar:bench/big:latest`, note: 'decompresses every layer' },
    { name: 'oci->dir --dest-decompress', group: 'decompressing', image: big, src: big.ref, dst: (d) => `dir:${d}/out`, ocikitFlags: ['--dest-decompress'], skopeoFlags: ['--dest-decompress'] },
    { name: 'docker-archive->oci', group: 'compressing', image: big, src: skopeoMade(big, 'docker-archive'), dst: (d) => `oci:${d}/out:latest`, note: 'gzip: ocikit level 4, skopeo its default' },
    {
      name: 'oci(tar)->dir --dest-compress',
      group: 'compressing',
      image: bigPlain,
      src: bigPlain.ref,
      dst: (d) => `dir:${d}/out`,
      ocikitFlags: ['--dest-compress'],
      skopeoFlags: ['--dest-compress'],
      note: 'gzip: ocikit level 4, skopeo its default',
    },
    {
      name: 'oci->oci zstd',
      group: 'compressing',
      image: big,
      src: big.ref,
      dst: (d) => `oci:${d}/out:latest`,
      ocikitFlags: ['--dest-compress-format', 'zstd'],
      skopeoFlags: ['--dest-compress-format', 'zstd'],
      note: 'gzip -> zstd level 3 for both',
    },
    {
      name: 'docker-archive->oci, warm store',
      group: 'warm store',
      image: big,
      src: skopeoMade(big, 'docker-archive'),
      dst: (d) => `oci:${d}/out:latest`,
      warm: { skopeoFrom: 'docker-archive->oci' },
    },
    {
      name: 'oci(tar)->dir --dest-compress, warm store',
      group: 'warm store',
      image: bigPlain,
      src: bigPlain.ref,
      dst: (d) => `dir:${d}/out`,
      ocikitFlags: ['--dest-compress'],
      warm: { skopeoFrom: 'oci(tar)->dir --dest-compress' },
    },
    {
      name: 'oci->oci zstd, warm store',
      group: 'warm store',
      image: big,
      src: big.ref,
      dst: (d) => `oci:${d}/out:latest`,
      ocikitFlags: ['--dest-compress-format', 'zstd'],
      warm: { skopeoFrom: 'oci->oci zstd' },
    },
    { name: 'many-layer oci->oci', group: 'many layers', image: many, src: many.ref, dst: (d) => `oci:${d}/out:latest`, note: `${many.layers} small layers` },
  ];
  // === registry cases: a real docker-registry on loopback, started and stopped here
  let registry: Awaited<ReturnType<typeof registryCases>>['registry'] | undefined;
  const wantRegistry = !process.env.OCIKIT_BENCH_NO_REGISTRY && (only.length === 0 || only.some((o) => ['push', 'pull', 'registry'].some((k) => k.includes(o) || o.includes(k))));
  if (wantRegistry) {
    const r = await registryCases(big, (src, dst, flags) => {
      const s = spawnSync('skopeo', ['--insecure-policy', 'copy', '-q', ...flags, src, dst], { encoding: 'utf8' });
      if (s.status !== 0) throw new Error(`seeding ${dst}: ${s.stderr}`);
    });
    registry = r.registry;
    cases.push(...r.cases.map((c): Case => ({ ...c, group: c.name.startsWith('push again') ? 'registry again' : 'registry' })));
  }
  // === sync cases: a repository of 20 tags sharing layers, in a docker-registry on loopback
  let syncRegistry: Awaited<ReturnType<typeof syncCases>>['registry'] | undefined;
  if (!process.env.OCIKIT_BENCH_NO_REGISTRY && (only.length === 0 || only.some((o) => 'sync'.includes(o) || o.includes('sync')))) {
    const sb = await syncCases(size);
    syncRegistry = sb.registry;
    cases.push(...sb.cases.map((c): Case => ({ ...c, group: 'sync' })));
  }
  // === signature cases: the cost of verifying a signed image on copy
  let policyCheck: PolicyCheckTiming | undefined;
  let signatureCleanup: (() => void) | undefined;
  if (!process.env.OCIKIT_BENCH_NO_SIGNATURE && (only.length === 0 || only.some((o) => 'signed'.includes(o) || o.includes('signed')))) {
    const sc = await signatureCases(big, workDir, log);
    cases.push(...sc.cases.map((c): Case => ({ ...c, group: 'signature' })));
    policyCheck = sc.check;
    signatureCleanup = sc.cleanup;
  }
  // === engine cases: a private dockerd and podman store (OCIKIT_BENCH_NO_DAEMON=1 skips them)
  const wanted = (name: string): boolean => only.length === 0 || only.some((o) => name.includes(o));
  let engines: Awaited<ReturnType<typeof daemonCases<ImageInfo>>> | undefined;
  if (!process.env.OCIKIT_BENCH_NO_DAEMON && DAEMON_CASE_NAMES.some(wanted)) {
    // The small image even in a full run (see the header): the engines bound both tools.
    let engineImage = big;
    if (size === 'full') {
      const p = new WorkerPool();
      try {
        engineImage = { ...(await generateImages(workDir, 'small', p, log)).big, name: 'small' };
      } finally {
        await p.close();
      }
    }
    engines = await daemonCases(engineImage);
  }
  cases.push(...(engines?.cases ?? []).map((c): Case => ({ ...c, group: 'engines' })));
  const selected = cases.filter((c) => wanted(c.name));

  const results: CaseResult[] = [];
  try {
    const warmFrom = new Set(selected.flatMap((c) => (c.warm ? [c.warm.skopeoFrom] : [])));
    for (const c of selected) {
      log(`case ${c.name}: ${c.src}`);
      results.push(runCase(c, results, warmFrom.has(c.name)));
    }
  } finally {
    await registry?.stop();
    await syncRegistry?.stop();
    await engines?.stop();
    signatureCleanup?.();
  }

  // === serve (bench/serve.ts): ocikit serve and docker-registry serving the same image, side by side
  let serve: ServeBenchResult | undefined;
  if (!process.env.OCIKIT_BENCH_NO_SERVE && (only.length === 0 || only.includes('serve'))) serve = await serveBench(big, cli, workDir, log);

  // === per-blob cost: the many-layer image against the big image's throughput
  const manyCase = results.find((r) => r.name === 'many-layer oci->oci');
  const bigCase = results.find((r) => r.name === 'oci->oci');
  let perBlobMs: { ocikit: number; skopeo: number } | undefined;
  if (manyCase && bigCase) {
    const per = (t: Tool): number => ((manyCase[t].medianSeconds - many.uncompressedBytes / 1e6 / bigCase[t].mbps) / many.layers) * 1000;
    perBlobMs = { ocikit: per('ocikit'), skopeo: per('skopeo') };
  }

  // === repack (opt-in): ten docker-archives sharing base layers -> oci:, one after another
  let repack: { ocikit: number[]; skopeo: number[]; note: string } | undefined;
  if (process.env.OCIKIT_BENCH_REPACK) repack = await runRepack(big);

  const load1 = loadavg();
  const totalSeconds = (Date.now() - started) / 1000;
  const out = {
    date: new Date().toISOString(),
    size,
    machine: { cores, cpu, shaNi, node: process.version, skopeo: skopeoVersion, loadAtStart: load0, loadAtEnd: load1 },
    images: { big, bigPlain, many, filesDigest: images.filesDigest },
    micro,
    cases: results,
    perBlobMs,
    policyCheck,
    repack,
    serve,
    totalSeconds,
  };
  const stamp = out.date.replace(/[:.]/g, '-');
  writeFileSync(join(resultsDir, `${size}-${stamp}.json`), JSON.stringify(out, null, 2) + '\n');
  const title = `ocikit vs skopeo, ${size} image, ${out.date.slice(0, 16).replace('T', ' ')} UTC`;
  const intro = `${cores} cores (${cpu}${shaNi ? ', SHA-NI' : ', no SHA-NI'}), node ${process.version}, ${skopeoVersion}; median of 2-3 runs after a warm-up where the source was not yet cached, alternating the tools, cold ocikit store each run unless "warm store"; load average ${load0[0]!.toFixed(2)} at start, ${load1[0]!.toFixed(2)} at end; ${fmt(totalSeconds / 60, 1)} min in all.`;
  const tableMd = table(results);
  const notes = [
    policyCheck
      ? `Trust policy check alone (signedBy, one GPG signature, in process): first ${fmt(policyCheck.firstMs, 1)} ms (imports the key into a throwaway keyring), then median ${fmt(policyCheck.warmMedianMs, 1)} ms.`
      : '',
    perBlobMs ? `Per-blob cost beyond bytes (many-layer image, ${many.layers} layers): ocikit ${fmt(perBlobMs.ocikit, 2)} ms, skopeo ${fmt(perBlobMs.skopeo, 2)} ms.` : '',
    repack
      ? `Repack (10 docker-archives sharing a base -> oci:), seconds each: ocikit ${repack.ocikit.map((s) => s.toFixed(2)).join(' ')}; skopeo ${repack.skopeo.map((s) => s.toFixed(2)).join(' ')}.`
      : '',
    micro.length
      ? `Limits measured here: ${micro.map((m) => `${m.name} ${fmt(m.mbps, 0)}${m.key.startsWith('startup') ? ' ms' : ' MB/s'}${m.ratio !== undefined ? ` (ratio ${m.ratio.toFixed(3)})` : ''}${m.note ? ` (${m.note})` : ''}`).join('; ')}.`
      : '',
  ].filter(Boolean);
  const rows: ChartRow[] = results.map((r) => ({ name: r.name, group: r.group, speedup: r.speedup, target: r.target, ocikitMBps: r.ocikit.mbps, skopeoMBps: r.skopeo.mbps }));
  const pick = (key: string, mult = 1): number | undefined => {
    const m = micro.find((x) => x.key === key);
    return m ? m.mbps * mult : undefined;
  };
  const limits = [
    { name: `sha256 ×${cores}`, mbps: pick('sha256', cores) },
    { name: 'inflate, all layers', mbps: pick('inflate-all') },
    { name: 'gzip -4, all cores', mbps: pick('deflate-all') },
    { name: 'zstd -3, all cores', mbps: pick('zstd-all') },
    { name: 'disk write+fsync', mbps: pick('disk-write') },
  ].filter((l): l is { name: string; mbps: number } => l.mbps !== undefined);
  const svg = chartSvg(rows, limits, title);
  writeFileSync(join(resultsDir, `${size}-latest.svg`), svg);
  writeFileSync(join(resultsDir, `${size}-latest.html`), reportHtml(title, intro, svg, tableMd, notes));
  const md = [`${title}. ${intro}`, '', tableMd, '', ...(serve ? [serveTable(serve), ''] : []), ...notes, '', `Chart: ${size}-latest.svg (and ${size}-latest.html with the table).`].join('\n');
  writeFileSync(join(resultsDir, `${size}-latest.md`), md + '\n');
  process.stdout.write(md + '\n');
  log(`done in ${fmt(totalSeconds / 60, 1)} min; results in ${resultsDir}`);
}

/** Ten docker-archives sharing the big image as a base, converted one after another (ocikit keeps one store). */
async function runRepack(big: ImageInfo): Promise<{ ocikit: number[]; skopeo: number[]; note: string }> {
  const rpool = new WorkerPool();
  let layouts: string[];
  try {
    layouts = await generateRepackImages(workDir, size, big, 10, rpool);
  } finally {
    await rpool.close();
  }
  const archives = layouts.map((p, i) => {
    const a = `${p}.docker.tar`;
    if (!existsSync(a)) {
      const r = spawnSync('skopeo', ['--insecure-policy', 'copy', '-q', `oci:${p}:latest`, `docker-archive:${a}:bench/app-${i}:latest`], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`making ${a}: ${r.stderr}`);
    }
    return `docker-archive:${a}`;
  });
  const base = join(workDir, 'runs', 'repack');
  const repack = { ocikit: [] as number[], skopeo: [] as number[], note: 'seconds per archive, in order; ocikit keeps one store across the ten' };
  for (const tool of ['ocikit', 'skopeo'] as Tool[]) {
    rmSync(base, { recursive: true, force: true });
    mkdirSync(base, { recursive: true });
    for (const [i, a] of archives.entries()) {
      const st = timed(toolArgv(tool, a, `oci:${base}/out-${i}:latest`, join(base, 'store'), []), `${tool} repack ${i}`);
      repack[tool].push(st.seconds);
    }
    log(`  ${tool.padEnd(6)} repack: ${repack[tool].map((s) => s.toFixed(2)).join(', ')}`);
  }
  rmSync(base, { recursive: true, force: true });
  rmSync(join(workDir, 'images', size, 'repack'), { recursive: true, force: true });
  return repack;
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
