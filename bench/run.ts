/**
 * `npm run bench`: ocikit against skopeo, side by side in one run, on images generated from real
 * files (bench/generate.ts), plus micro-benchmarks (bench/micro.ts).
 *
 * Environment:
 *   OCIKIT_BENCH_SIZE=small|full   (default full: ~1.5 GB uncompressed / ~0.5 GB gzip; small: a tenth)
 *   OCIKIT_BENCH_RUNS=N            measured runs per case and tool, after one warm-up (default 3, at least 3)
 *   OCIKIT_BENCH_ONLY=a,b          run only the cases whose name contains one of these
 *   OCIKIT_BENCH_NO_MICRO=1        skip the micro-benchmarks
 *   OCIKIT_BENCH_NO_REGISTRY=1     skip the registry cases; OCIKIT_BENCH_NO_DAEMON=1 the docker-daemon:/containers-storage: ones
 *
 * Each run of each tool starts from a cold ocikit store (a fresh --store) and an absent
 * destination, unless the case says otherwise (repack: one store across the ten archives, which
 * is the point of it). Wall time and peak RSS come from /usr/bin/time (-f "%e %M"): the peak RSS
 * of the process, which for ocikit includes its worker threads (they are threads, not processes).
 *
 * Benchmarks are not tests: nothing here asserts speed. Results: bench/results/<size>-<stamp>.json
 * and bench/results/<size>-latest.md (the table).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, createWriteStream } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { WorkerPool } from '../lib/pool/index.js';
import { ensurePeers, which } from '../test/helpers/peers.js';
import { registryCases } from './registry.js';
import { DAEMON_CASE_NAMES, daemonCases } from './daemon.js';
import { generateImages, generateRepackImages, type BenchSize, type ImageInfo } from './generate.js';
import { runMicro, type MicroResult } from './micro.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: dist/bench/run.js -> ../.. */
const root = resolve(here, '..', '..');
/**
 * The CLI the bench runs: a private snapshot of dist/ taken at start (see main), so that a build
 * running meanwhile (other work in the same tree) cannot swap modules under a measured run.
 */
let cli = join(root, 'dist', 'cli', 'main.js');
const benchDir = join(root, 'bench');
const workDir = join(benchDir, 'work');
const resultsDir = join(benchDir, 'results');

const size: BenchSize = process.env.OCIKIT_BENCH_SIZE === 'small' ? 'small' : 'full';
const runs = Math.max(3, Number(process.env.OCIKIT_BENCH_RUNS ?? 3) || 3);
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

interface CaseResult {
  name: string;
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
  image: ImageInfo;
  /** source reference, the same for both tools */
  src: string;
  /** destination reference for a run directory */
  dst: (dir: string) => string;
  /** extra flags for each tool's copy */
  ocikitFlags?: string[];
  skopeoFlags?: string[];
  note?: string;
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

function toolArgv(tool: Tool, src: string, dst: string, store: string, flags: string[]): string[] {
  if (tool === 'ocikit') return [process.execPath, cli, '--store', store, 'copy', '-q', ...flags, src, dst];
  // --insecure-policy: the bench measures copying, not signature policy evaluation.
  return ['skopeo', '--insecure-policy', 'copy', '-q', ...flags, src, dst];
}

/** Where a destination reference writes (for sizes and cleanup). */
function destPath(ref: string): string {
  const rest = ref.slice(ref.indexOf(':') + 1);
  // oci:PATH:REF, oci-archive:PATH:REF, docker-archive:PATH:NAME:TAG -> PATH (bench paths have no ':')
  return rest.split(':')[0]!;
}

function runCase(c: Case): CaseResult {
  const res: Partial<Record<Tool, ToolResult>> = {};
  for (const tool of ['ocikit', 'skopeo'] as Tool[]) {
    const stats: RunStat[] = [];
    let outBytes = 0;
    let error: string | undefined;
    const base = join(workDir, 'runs', c.name.replace(/[^a-z0-9]+/gi, '-'), tool);
    try {
      for (let i = 0; i <= runs; i++) {
        rmSync(base, { recursive: true, force: true });
        mkdirSync(base, { recursive: true });
        const dst = c.dst(base);
        const st = timed(toolArgv(tool, c.src, dst, join(base, 'store'), (tool === 'ocikit' ? c.ocikitFlags : c.skopeoFlags) ?? []), `${tool} ${c.name}`);
        if (i > 0) stats.push(st); // run 0 is the warm-up
        outBytes = duBytes(destPath(dst));
      }
    } catch (err) {
      error = (err as Error).message;
      log(`  ${tool}: ${error}`);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
    const med = stats.length ? median(stats.map((s) => s.seconds)) : NaN;
    res[tool] = {
      runs: stats,
      medianSeconds: med,
      mbps: c.image.uncompressedBytes / 1e6 / med,
      peakRssMiB: stats.length ? Math.max(...stats.map((s) => s.rssMiB)) : NaN,
      outBytes,
      ...(error ? { error } : {}),
    };
    log(`  ${tool.padEnd(6)} ${c.name}: median ${med.toFixed(2)} s over ${stats.length} runs (${stats.map((s) => s.seconds.toFixed(2)).join(', ')}), peak RSS ${res[tool]!.peakRssMiB.toFixed(0)} MiB`);
  }
  return {
    name: c.name,
    image: c.image.name,
    uncompressedBytes: c.image.uncompressedBytes,
    ...(c.note ? { note: c.note } : {}),
    ocikit: res.ocikit!,
    skopeo: res.skopeo!,
    speedup: res.skopeo!.medianSeconds / res.ocikit!.medianSeconds,
  };
}

/** True when ocikit can write (and read back) `transport` now: its folder has landed. */
function transportWorks(transport: 'oci-archive' | 'docker-archive'): boolean {
  const dir = join(workDir, 'probe');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const hello = `oci:${join(root, 'fixtures', 'hello-oci')}:latest`;
  const ref = transport === 'oci-archive' ? `oci-archive:${join(dir, 'a.tar')}:latest` : `docker-archive:${join(dir, 'a.tar')}:bench/hello:latest`;
  const w = spawnSync(process.execPath, [cli, '--store', join(dir, 'store'), 'copy', '-q', hello, ref], { encoding: 'utf8' });
  const r = w.status === 0 ? spawnSync(process.execPath, [cli, '--store', join(dir, 'store2'), 'copy', '-q', ref, `oci:${join(dir, 'back')}:latest`], { encoding: 'utf8' }) : w;
  rmSync(dir, { recursive: true, force: true });
  return r.status === 0;
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
  const head = '| case | image (uncompressed) | ocikit s | skopeo s | ocikit MB/s | skopeo MB/s | speed-up (skopeo s / ocikit s) | peak RSS ocikit / skopeo MiB | output MB ocikit / skopeo |';
  const sep = '|---|---|---:|---:|---:|---:|---:|---:|---:|';
  const rows = cases.map((c) =>
    `| ${c.name} | ${c.image} (${fmt(c.uncompressedBytes / 1e6, 0)} MB) | ${fmt(c.ocikit.medianSeconds, 2)} | ${fmt(c.skopeo.medianSeconds, 2)} | ${fmt(c.ocikit.mbps, 0)} | ${fmt(c.skopeo.mbps, 0)} | ${fmt(c.speedup, 2)}× | ${fmt(c.ocikit.peakRssMiB, 0)} / ${fmt(c.skopeo.peakRssMiB, 0)} | ${fmt(c.ocikit.outBytes / 1e6, 0)} / ${fmt(c.skopeo.outBytes / 1e6, 0)} |`,
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
  cli = join(snapshot, 'cli', 'main.js');
  // The peers: skopeo (the anchor), pigz (micro-benchmarks), GNU time (peak RSS).
  const installed = ensurePeers(['skopeo', 'pigz', 'time', 'docker-registry']);
  if (installed.length) log(`installed: ${installed.join(' ')}`);
  if (!existsSync('/usr/bin/time')) throw new Error('GNU time (/usr/bin/time) is missing: apt-get install -y time');
  const skopeoVersion = spawnSync('skopeo', ['--version'], { encoding: 'utf8' }).stdout.trim();
  mkdirSync(workDir, { recursive: true });
  mkdirSync(resultsDir, { recursive: true });
  const load0 = loadavg();
  log(`size ${size}, ${runs} runs after a warm-up, ${cores} cores, ${skopeoVersion}, node ${process.version}, load ${load0.map((l) => l.toFixed(2)).join(' ')}`);

  const pool = new WorkerPool();
  let images;
  try {
    images = await generateImages(workDir, size, pool, log);
  } finally {
    await pool.close();
  }
  const { big, bigPlain, many } = images;

  // === micro-benchmarks, on a sample of the big image's uncompressed bytes
  let micro: MicroResult[] = [];
  if (!process.env.OCIKIT_BENCH_NO_MICRO) {
    const sample = join(workDir, 'micro-sample.bin');
    const want = size === 'full' ? 128e6 : 32e6;
    const idx = JSON.parse(readFileSync(join(bigPlain.path, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const m = JSON.parse(readFileSync(join(bigPlain.path, 'blobs', 'sha256', idx.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    // The second layer: real files of mixed kinds (the first one is mostly node's own tree).
    const layer = join(bigPlain.path, 'blobs', 'sha256', m.layers[Math.min(1, m.layers.length - 1)]!.digest.slice(7));
    await pipeline(createReadStream(layer, { start: 0, end: want - 1 }), createWriteStream(sample));
    micro = await runMicro(sample, workDir, cores, log);
    rmSync(sample, { force: true });
  }

  // === the matrix
  const cases: Case[] = [
    { name: 'oci->oci', image: big, src: big.ref, dst: (d) => `oci:${d}/out:latest` },
    { name: 'oci->dir', image: big, src: big.ref, dst: (d) => `dir:${d}/out` },
    { name: 'oci->dir --dest-decompress', image: big, src: big.ref, dst: (d) => `dir:${d}/out`, ocikitFlags: ['--dest-decompress'], skopeoFlags: ['--dest-decompress'], note: 'decompresses every layer' },
    { name: 'oci(tar)->dir --dest-compress', image: bigPlain, src: bigPlain.ref, dst: (d) => `dir:${d}/out`, ocikitFlags: ['--dest-compress'], skopeoFlags: ['--dest-compress'], note: 'compresses every layer (gzip -6 equivalent)' },
    { name: 'oci->oci --dest-compress-format zstd', image: big, src: big.ref, dst: (d) => `oci:${d}/out:latest`, ocikitFlags: ['--dest-compress-format', 'zstd'], skopeoFlags: ['--dest-compress-format', 'zstd'], note: 'gzip -> zstd: decompress and recompress every layer' },
    { name: 'many-layer oci->oci', image: many, src: many.ref, dst: (d) => `oci:${d}/out:latest`, note: `${many.layers} small layers` },
  ];
  const skipped: string[] = [];
  const hasOciArchive = transportWorks('oci-archive');
  const hasDockerArchive = transportWorks('docker-archive');
  if (hasOciArchive) {
    cases.push({ name: 'oci->oci-archive', image: big, src: big.ref, dst: (d) => `oci-archive:${d}/out.tar:latest` });
    cases.push({ name: 'oci-archive->oci', image: big, src: skopeoMade(big, 'oci-archive'), dst: (d) => `oci:${d}/out:latest` });
  } else skipped.push('oci->oci-archive, oci-archive->oci (ocikit has no oci-archive: transport yet)');
  if (hasDockerArchive) {
    cases.push({ name: 'oci->docker-archive', image: big, src: big.ref, dst: (d) => `docker-archive:${d}/out.tar:bench/big:latest`, note: 'decompresses every layer' });
    cases.push({ name: 'docker-archive->oci', image: big, src: skopeoMade(big, 'docker-archive'), dst: (d) => `oci:${d}/out:latest`, note: 'layers arrive uncompressed' });
    cases.push({ name: 'dir->docker-archive', image: big, src: skopeoMade(big, 'dir'), dst: (d) => `docker-archive:${d}/out.tar:bench/big:latest`, note: 'decompresses every layer' });
  } else skipped.push('oci->docker-archive, docker-archive->oci, dir->docker-archive, repack (ocikit has no docker-archive: transport yet)');
  // === registry cases: a real docker-registry on loopback, started and stopped here
  let registry: Awaited<ReturnType<typeof registryCases>>['registry'] | undefined;
  if (!process.env.OCIKIT_BENCH_NO_REGISTRY) {
    const r = await registryCases(big, (src, dst, flags) => {
      const s = spawnSync('skopeo', ['--insecure-policy', 'copy', '-q', ...flags, src, dst], { encoding: 'utf8' });
      if (s.status !== 0) throw new Error(`seeding ${dst}: ${s.stderr}`);
    });
    registry = r.registry;
    cases.push(...r.cases);
  }
  // === engine cases: a private dockerd and podman store (OCIKIT_BENCH_NO_DAEMON=1 skips them)
  const wanted = (name: string): boolean => only.length === 0 || only.some((o) => name.includes(o));
  const engines = process.env.OCIKIT_BENCH_NO_DAEMON || !DAEMON_CASE_NAMES.some(wanted) ? undefined : await daemonCases(big);
  cases.push(...(engines?.cases ?? []));
  const selected = cases.filter((c) => wanted(c.name));

  const results: CaseResult[] = [];
  for (const c of selected) {
    log(`case ${c.name}: ${c.src}`);
    results.push(runCase(c));
  }

  await registry?.stop();
  await engines?.stop();

  // === per-blob cost: the many-layer image against the big image's throughput
  const manyCase = results.find((r) => r.name === 'many-layer oci->oci');
  const bigCase = results.find((r) => r.name === 'oci->oci');
  let perBlobMs: { ocikit: number; skopeo: number } | undefined;
  if (manyCase && bigCase) {
    const per = (t: Tool): number => ((manyCase[t].medianSeconds - many.uncompressedBytes / 1e6 / bigCase[t].mbps) / many.layers) * 1000;
    perBlobMs = { ocikit: per('ocikit'), skopeo: per('skopeo') };
  }

  // === repack: ten docker-archives sharing base layers -> oci:, one after another
  let repack: { ocikit: number[]; skopeo: number[]; note: string } | undefined;
  if (hasDockerArchive && (only.length === 0 || only.some((o) => 'repack'.includes(o)))) {
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
    repack = { ocikit: [], skopeo: [], note: 'seconds per archive, in order; ocikit keeps one store across the ten' };
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
    // Ten archives of the shared base are gigabytes: make them again next time rather than keep them.
    rmSync(join(workDir, 'images', size, 'repack'), { recursive: true, force: true });
  } else if (!hasDockerArchive) {
    log('repack: skipped (no docker-archive: transport in ocikit yet)');
  }

  const load1 = loadavg();
  const totalSeconds = (Date.now() - started) / 1000;
  const out = {
    date: new Date().toISOString(),
    size,
    runs,
    machine: { cores, node: process.version, skopeo: skopeoVersion, loadAtStart: load0, loadAtEnd: load1 },
    images: { big, bigPlain, many, filesDigest: images.filesDigest },
    micro,
    cases: results,
    perBlobMs,
    repack,
    skipped,
    totalSeconds,
  };
  const stamp = out.date.replace(/[:.]/g, '-');
  writeFileSync(join(resultsDir, `${size}-${stamp}.json`), JSON.stringify(out, null, 2) + '\n');
  const md = [
    `ocikit bench, size ${size}, ${out.date}: ${cores} cores, node ${process.version}, ${skopeoVersion}; median of ${runs} runs after a warm-up, cold ocikit store each run; load average ${load0[0]!.toFixed(2)} at start, ${load1[0]!.toFixed(2)} at end; ${fmt(totalSeconds / 60, 1)} min in all.`,
    '',
    table(results),
    '',
    perBlobMs ? `Per-blob cost beyond bytes (many-layer image, ${many.layers} layers): ocikit ${fmt(perBlobMs.ocikit, 2)} ms, skopeo ${fmt(perBlobMs.skopeo, 2)} ms.` : '',
    repack
      ? `Repack (10 docker-archives sharing a base -> oci:), seconds each: ocikit ${repack.ocikit.map((s) => s.toFixed(2)).join(' ')}; skopeo ${repack.skopeo.map((s) => s.toFixed(2)).join(' ')}; archives 2-10: median speed-up ${fmt(median(repack.skopeo.slice(1)) / median(repack.ocikit.slice(1)), 1)}×.`
      : '',
    skipped.length ? `Not run: ${skipped.join('; ')}.` : '',
    '',
    micro.length ? '| micro-benchmark | MB/s | ratio | threads |\n|---|---:|---:|---:|\n' + micro.map((m) => `| ${m.name}${m.note ? ` (${m.note})` : ''} | ${fmt(m.mbps, 0)} | ${m.ratio !== undefined ? m.ratio.toFixed(3) : ''} | ${m.threads} |`).join('\n') : '',
  ]
    .filter((l, i, a) => l !== '' || (i > 0 && a[i - 1] !== ''))
    .join('\n');
  writeFileSync(join(resultsDir, `${size}-latest.md`), md + '\n');
  process.stdout.write(md + '\n');
  log(`done in ${fmt(totalSeconds / 60, 1)} min; results in ${resultsDir}`);
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
