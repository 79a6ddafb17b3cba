/**
 * `npm run bench`: ocikit against skopeo (and crane when it is on PATH), side by side in one run, on
 * the typical image (Debian bookworm minbase, bench/typical.ts), a tiny one, and big images
 * generated from real files (bench/generate.ts), plus the limits of this machine (bench/micro.ts)
 * and start-up as a ratio to `node -e ""` (bench/startup.ts).
 *
 * Environment:
 *   OCIKIT_BENCH_SIZE=small|full   the big image (default full: ~1.6 GB uncompressed / ~0.5 GB gzip; small: a tenth)
 *   OCIKIT_BENCH_ONLY=a,b          only the cases whose section, image, group or name contains one of these
 *                                  (typical, registry, big, start-up, sync, engines, …; micro and serve name those parts)
 *   OCIKIT_BENCH_OCIKIT=DIR[,DIR]  measure these built checkouts' CLI instead of this one (bench/cli.ts);
 *                                  with several, the last is the headline and the others run beside it
 *   OCIKIT_BENCH_KEEP_NODE_EXTRA_CA_CERTS=1  run the cases with NODE_EXTRA_CA_CERTS as set (default: unset)
 *   OCIKIT_BENCH_NO_MICRO=1, OCIKIT_BENCH_NO_REGISTRY=1, OCIKIT_BENCH_NO_DAEMON=1, OCIKIT_BENCH_NO_SIGNATURE=1,
 *   OCIKIT_BENCH_NO_SERVE=1        leave those parts out
 *   OCIKIT_BENCH_REPACK=1          also run the repack case (ten docker-archives sharing a base; slow)
 *
 * Fair comparison: both tools do the same work (same destination kind and output compression;
 * output sizes are in the tables), both are durable (skopeo fsyncs every blob; ocikit fsyncs
 * before every rename that makes a file visible), they run alternately (bench/runner.ts), every
 * cold ocikit run has a fresh store and every cold skopeo run an empty blob-info cache. The engine
 * cases use the small image even in a full run (dockerd and podman bound both tools there).
 *
 * Benchmarks are not tests: nothing here asserts speed. Results: bench/results/<size>-<stamp>.json,
 * and bench/results/<size>-latest.{md,svg,html}.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { WorkerPool } from '../lib/pool/index.js';
import { ensurePeers } from '../support/peers.js';
import { copyCase, craneTool, SECTIONS, skopeoTool, type Case, type Section, type Tool } from './case.js';
import { chartSvg, reportHtml, type ChartLimit, type ChartSection } from './chart.js';
import { ocikitBuilds } from './cli.js';
import { daemonCases } from './daemon.js';
import { generateImages, generateRepackImages, type BenchSize, type GeneratedImages, type ImageInfo } from './generate.js';
import { runMicro, type MicroResult } from './micro.js';
import { registryCases } from './registry.js';
import { fmt, sectionTable, startupTable } from './report.js';
import { Runner, timed, type CaseResult } from './runner.js';
import { serveBench, serveTable, type ServeBenchResult } from './serve.js';
import { signatureCases } from './signature.js';
import { nodeSeconds, runStartup, startupCases, startupEnvs, type StartupResult } from './startup.js';
import { syncCases } from './sync.js';
import { typicalImages, type TypicalImages } from './typical.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: dist/bench/run.js -> ../.. */
const root = resolve(here, '..', '..');
const benchDir = join(root, 'bench');
const workDir = join(benchDir, 'work');
const resultsDir = join(benchDir, 'results');

const size: BenchSize = process.env.OCIKIT_BENCH_SIZE === 'small' ? 'small' : 'full';
const only = (process.env.OCIKIT_BENCH_ONLY ?? '')
  .toLowerCase()
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const cores = availableParallelism();

const log = (s: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
};

/** Whether OCIKIT_BENCH_ONLY selects a case (or a part named `key`: micro, serve). */
const selected = (c: Case | string): boolean => {
  if (only.length === 0) return true;
  const hay = typeof c === 'string' ? c : `${c.section} ${c.image.name} ${c.group} ${c.name}`.toLowerCase();
  return only.some((o) => hay.includes(o));
};

/** A source made by skopeo from an OCI image (cached next to the image). */
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

/**
 * The local pairs on one image: pass-through, decompressing and compressing, each copying `img`
 * (an oci: layout with gzip layers; `plain` the same image with uncompressed layers).
 */
function localPairs(section: Section, img: ImageInfo, plain: ImageInfo, t: { pass: number; decompress: number; compress: number; rss?: number }): Case[] {
  const gzip = 'gzip: ocikit level 4, skopeo its default';
  const oci = (run: { dir: string }): string => `oci:${run.dir}/out:latest`;
  const archive = (run: { dir: string }): string => `docker-archive:${run.dir}/out.tar:bench/${img.name}:latest`;
  // Sources made by skopeo are made when a case first needs them (prepare), not for unselected cases.
  const made = (kind: 'oci-archive' | 'docker-archive' | 'dir'): { src: string; prepare: () => Promise<void> } => {
    const p = join(dirname(img.path), `${img.name}.${kind}${kind === 'dir' ? '' : '.tar'}`);
    const src = kind === 'oci-archive' ? `oci-archive:${p}:latest` : kind === 'docker-archive' ? `docker-archive:${p}` : `dir:${p}`;
    return {
      src,
      prepare: async () => {
        skopeoMade(img, kind);
      },
    };
  };
  const base = { section, image: img };
  return [
    copyCase({ ...base, name: 'oci->oci', group: 'pass-through', target: { speedup: t.pass }, src: img.ref, dst: oci }),
    copyCase({ ...base, name: 'oci->dir', group: 'pass-through', target: { speedup: t.pass }, src: img.ref, dst: (run) => `dir:${run.dir}/out` }),
    copyCase({ ...base, name: 'oci->oci-archive', group: 'pass-through', target: { speedup: t.pass }, src: img.ref, dst: (run) => `oci-archive:${run.dir}/out.tar:latest` }),
    copyCase({ ...base, name: 'oci-archive->oci', group: 'pass-through', target: { speedup: t.pass }, ...made('oci-archive'), dst: oci }),
    copyCase({ ...base, name: 'dir->oci', group: 'pass-through', target: { speedup: t.pass }, ...made('dir'), dst: oci }),
    copyCase({
      ...base,
      name: 'oci->docker-archive',
      group: 'decompressing',
      target: { speedup: t.decompress, ...(t.rss ? { rssMiB: t.rss } : {}) },
      src: img.ref,
      dst: archive,
      note: 'decompresses every layer',
    }),
    copyCase({ ...base, name: 'dir->docker-archive', group: 'decompressing', target: { speedup: t.decompress }, ...made('dir'), dst: archive, note: 'decompresses every layer' }),
    copyCase({
      ...base,
      name: 'oci->dir --dest-decompress',
      group: 'decompressing',
      target: { speedup: t.decompress },
      src: img.ref,
      dst: (run) => `dir:${run.dir}/out`,
      ocikitFlags: ['--dest-decompress'],
      skopeoFlags: ['--dest-decompress'],
    }),
    copyCase({ ...base, name: 'docker-archive->oci', group: 'compressing', target: { speedup: t.compress }, ...made('docker-archive'), dst: oci, note: gzip }),
    copyCase({
      ...base,
      image: plain,
      name: 'oci(tar)->dir --dest-compress',
      group: 'compressing',
      target: { speedup: t.compress },
      src: plain.ref,
      dst: (run) => `dir:${run.dir}/out`,
      ocikitFlags: ['--dest-compress'],
      skopeoFlags: ['--dest-compress'],
      note: gzip,
    }),
    copyCase({
      ...base,
      name: 'oci->oci zstd',
      group: 'compressing',
      target: { speedup: t.compress },
      src: img.ref,
      dst: oci,
      ocikitFlags: ['--dest-compress-format', 'zstd'],
      skopeoFlags: ['--dest-compress-format', 'zstd'],
      note: 'gzip -> zstd level 3 for both',
    }),
  ];
}

async function main(): Promise<void> {
  const started = Date.now();
  mkdirSync(workDir, { recursive: true });
  // The peers: skopeo (the anchor), pigz (reference), GNU time (peak RSS), docker-registry.
  const installed = ensurePeers(['skopeo', 'pigz', 'time', 'docker-registry']);
  if (installed.length) log(`installed: ${installed.join(' ')}`);
  if (!existsSync('/usr/bin/time')) throw new Error('GNU time (/usr/bin/time) is missing: apt-get install -y time');
  // The ocikit builds measured, each from a private snapshot of its dist/ (bench/cli.ts).
  const builds = ocikitBuilds(root, workDir);
  const headline = builds.at(-1)!;
  const crane = craneTool();
  const tools: Tool[] = [headline, ...builds.slice(0, -1), skopeoTool, ...(crane ? [crane] : [])];
  const version = (argv: string[]): string => spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' }).stdout.trim().split('\n')[0] ?? '';
  const skopeoVersion = version(['skopeo', '--version']);
  const craneVersion = crane ? `crane ${version(['crane', 'version'])}` : 'crane not on PATH';
  const buildsText = builds.map((b) => `${b.label === 'ocikit' ? 'ocikit' : b.label} = ${b.checkout} @ ${b.rev}${b === headline ? ' (headline)' : ''}`).join('; ');
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const shaNi = /\bsha_ni\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  mkdirSync(resultsDir, { recursive: true });
  const load0 = loadavg();
  log(`size ${size}, ${cores} cores (${cpu}${shaNi ? ', SHA-NI' : ', no SHA-NI'}), ${skopeoVersion}, ${craneVersion}, node ${process.version}, load ${load0.map((l) => l.toFixed(2)).join(' ')}`);
  log(`builds: ${buildsText}`);

  // The cases run with NODE_EXTRA_CA_CERTS unset unless asked otherwise: most users do not set it,
  // no case needs it (every registry here is plain http on loopback), and it adds ~40 ms to every
  // Node start. The start-up table times both.
  const keepCa = !!process.env.OCIKIT_BENCH_KEEP_NODE_EXTRA_CA_CERTS || !process.env.NODE_EXTRA_CA_CERTS;
  const caseEnvKey: 'as set' | 'unset' = keepCa && process.env.NODE_EXTRA_CA_CERTS ? 'as set' : 'unset';
  const caseEnv = startupEnvs().find((e) => e.key === caseEnvKey)!.env;
  const envText = process.env.NODE_EXTRA_CA_CERTS
    ? `cases run with NODE_EXTRA_CA_CERTS ${caseEnvKey} (this machine sets it; the start-up table has both)`
    : 'NODE_EXTRA_CA_CERTS is not set on this machine';

  // === images
  const pool = new WorkerPool();
  let images: GeneratedImages;
  let typicals: TypicalImages;
  try {
    const generated = await generateImages(workDir, size, pool, log);
    images = generated;
    typicals = await typicalImages(workDir, pool, log, async () => (size === 'small' ? generated : await generateImages(workDir, 'small', pool, log)));
  } finally {
    await pool.close();
  }
  const { big, bigPlain, many } = images;
  const { typical, typicalPlain, tiny } = typicals;

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
    micro = await runMicro(sample, workDir, cores, log);
    rmSync(sample, { force: true });
  }

  // === the cases, in the order they run
  const seedRegistry = (src: string, dst: string): void => {
    const s = spawnSync('skopeo', ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', src, dst], { encoding: 'utf8' });
    if (s.status !== 0) throw new Error(`seeding ${dst}: ${s.stderr}`);
  };
  const registry = registryCases(typical, big, seedRegistry);
  const sync = syncCases(size);
  const signature = signatureCases(big, workDir, log);
  // The engines get the small image even in a full run (see the header).
  const engines = daemonCases(async () => {
    if (size === 'small') return { ...big, name: 'small' };
    const p = new WorkerPool();
    try {
      return { ...(await generateImages(workDir, 'small', p, log)).big, name: 'small' };
    } finally {
      await p.close();
    }
  });
  const inspectLocal: Case = {
    name: 'inspect of a local oci: image',
    section: 'typical',
    group: 'inspect',
    target: { node: 1.6 },
    image: typical,
    src: typical.ref,
    movesBytes: false,
    startup: true,
    argv: (tool, run) => (tool.kind === 'ocikit' ? tool.command(['--store', run.store, 'inspect', typical.ref]) : tool.kind === 'skopeo' ? tool.command(['inspect', typical.ref]) : undefined),
  };
  const cases: Case[] = [
    ...localPairs('typical', typical, typicalPlain, { pass: 1.5, decompress: 1.5, compress: 1 }),
    copyCase({
      name: 'tiny oci->oci',
      section: 'typical',
      group: 'pass-through',
      target: { speedup: 1.5 },
      image: tiny,
      src: tiny.ref,
      movesBytes: false,
      dst: (run) => `oci:${run.dir}/out:latest`,
      note: 'a few KB',
    }),
    inspectLocal,
    ...(process.env.OCIKIT_BENCH_NO_REGISTRY ? [] : [...registry.cases.filter((c) => c.section === 'registry'), ...sync.cases]),
    ...localPairs('big', big, bigPlain, { pass: 3, decompress: 2, compress: 1, rss: 150 }),
    ...(['docker-archive->oci', 'oci(tar)->dir --dest-compress', 'oci->oci zstd'] as const).map((from): Case =>
      copyCase({
        name: `${from}, warm store`,
        section: 'big',
        group: 'warm store',
        target: { speedup: 35 },
        image: from.startsWith('oci(tar)') ? bigPlain : big,
        src: from === 'docker-archive->oci' ? `docker-archive:${join(dirname(big.path), `${big.name}.docker-archive.tar`)}` : from.startsWith('oci(tar)') ? bigPlain.ref : big.ref,
        dst: (run) => (from.startsWith('oci(tar)') ? `dir:${run.dir}/out` : `oci:${run.dir}/out:latest`),
        ocikitFlags: from.startsWith('oci(tar)') ? ['--dest-compress'] : from.endsWith('zstd') ? ['--dest-compress-format', 'zstd'] : [],
        warm: { from },
        prepare: async () => void (from === 'docker-archive->oci' && skopeoMade(big, 'docker-archive')),
        note: 'the same conversion again through the store the cold case left',
      }),
    ),
    ...(process.env.OCIKIT_BENCH_NO_REGISTRY ? [] : registry.cases.filter((c) => c.section === 'big registry')),
    copyCase({
      name: 'many-layer oci->oci',
      section: 'more',
      group: 'many layers',
      target: { speedup: 9 },
      image: many,
      src: many.ref,
      dst: (run) => `oci:${run.dir}/out:latest`,
      note: `${many.layers} small layers`,
    }),
    ...(process.env.OCIKIT_BENCH_NO_SIGNATURE ? [] : signature.cases),
    ...(process.env.OCIKIT_BENCH_NO_DAEMON ? [] : engines.cases),
  ];
  const chosen = cases.filter(selected);
  const runner = new Runner(workDir, log);
  const results: CaseResult[] = [];
  let startup: StartupResult | undefined;
  try {
    const warmFrom = new Set(chosen.flatMap((c) => (c.warm ? [`${c.section}/${c.warm.from}`] : [])));
    for (const c of chosen) {
      results.push(await runner.run(c, tools, results, { env: caseEnv, keepForWarm: warmFrom.has(`${c.section}/${c.name}`) }));
    }
    // === start-up, while the registries are still up
    startup = await runStartup([...startupCases, ...chosen.filter((c) => c.startup)], tools, runner, log);
  } finally {
    await registry.stop();
    await sync.stop();
    await engines.stop();
    signature.cleanup();
  }

  // === serve (bench/serve.ts): ocikit serve and docker-registry serving the same image
  let serve: ServeBenchResult | undefined;
  if (!process.env.OCIKIT_BENCH_NO_SERVE && (only.length === 0 || only.includes('serve'))) {
    serve = await serveBench(big, (args) => headline.command(args), workDir, log);
  }

  // === per-blob cost: the many-layer image against the big image's throughput
  const manyCase = results.find((r) => r.name === 'many-layer oci->oci');
  const bigCase = results.find((r) => r.section === 'big' && r.name === 'oci->oci');
  let perBlobMs: { ocikit: number; skopeo: number } | undefined;
  if (manyCase && bigCase) {
    const per = (t: 'ocikit' | 'skopeo'): number => ((manyCase.tools[t]!.medianSeconds - many.uncompressedBytes / 1e6 / bigCase.tools[t]!.mbps) / many.layers) * 1000;
    perBlobMs = { ocikit: per('ocikit'), skopeo: per('skopeo') };
  }

  // === repack (opt-in): ten docker-archives sharing base layers -> oci:, one after another
  let repack: { ocikit: number[]; skopeo: number[]; note: string } | undefined;
  if (process.env.OCIKIT_BENCH_REPACK) repack = await runRepack(big, headline);

  // === reports
  const load1 = loadavg();
  const totalSeconds = (Date.now() - started) / 1000;
  const date = new Date().toISOString();
  const nodeCase = nodeSeconds(startup, caseEnvKey);
  const out = {
    date,
    size,
    machine: { cores, cpu, shaNi, node: process.version, skopeo: skopeoVersion, crane: craneVersion, loadAtStart: load0, loadAtEnd: load1 },
    builds: builds.map((b) => ({ id: b.id, label: b.label, checkout: b.checkout, rev: b.rev, bin: b.bin })),
    caseEnv: caseEnvKey,
    images: { typical: typicals, big, bigPlain, many, filesDigest: images.filesDigest },
    micro,
    cases: results,
    startup,
    perBlobMs,
    policyCheck: signature.check(),
    repack,
    serve,
    totalSeconds,
  };
  const stamp = date.replace(/[:.]/g, '-');
  writeFileSync(join(resultsDir, `${size}-${stamp}.json`), JSON.stringify(out, null, 2) + '\n');

  const title = `ocikit vs skopeo, ${date.slice(0, 16).replace('T', ' ')} UTC`;
  const intro = [
    `Typical image: ${typicals.description}. Big image: ${size} (${fmt(big.uncompressedBytes / 1e6, 0)} MB / ${fmt(big.compressedBytes / 1e6, 0)} MB gzip, ${big.layers} layers).`,
    `${cores} cores (${cpu}${shaNi ? ', SHA-NI' : ', no SHA-NI'}), node ${process.version}, ${skopeoVersion}, ${craneVersion}; ${buildsText}.`,
    `Tools alternate run by run; median of 2-5 runs (5 when a run takes under 1 s, 7 in the start-up table) after a warm-up where the source was not yet cached; every cold run from a fresh ocikit store and an empty skopeo blob-info cache; ${envText}.`,
    `Load average ${load0[0]!.toFixed(2)} at start, ${load1[0]!.toFixed(2)} at end (other work on the machine shows here); ${fmt(totalSeconds / 60, 1)} min in all.`,
  ].join(' ');
  const order: Section[] = ['registry', 'typical', 'big', 'big registry', 'more'];
  const tables: string[] = [];
  for (const s of order) {
    const rows = results.filter((r) => r.section === s);
    if (!rows.length) continue;
    tables.push(sectionTable(s, rows, tools, nodeCase, s === 'registry' || s === 'typical'));
    if (s === 'typical' && startup) tables.push(startupTable(startup, tools));
  }
  const notes = [
    typicals.fallback ? `NOTE: the typical image is a stand-in: ${typicals.description}.` : '',
    signature.check()
      ? `Trust policy check alone (signedBy, one GPG signature, in process): first ${fmt(signature.check()!.firstMs, 1)} ms (imports the key into a throwaway keyring), then median ${fmt(signature.check()!.warmMedianMs, 1)} ms.`
      : '',
    perBlobMs ? `Per-blob cost beyond bytes (many-layer image, ${many.layers} layers): ocikit ${fmt(perBlobMs.ocikit, 2)} ms, skopeo ${fmt(perBlobMs.skopeo, 2)} ms.` : '',
    repack
      ? `Repack (10 docker-archives sharing a base -> oci:), seconds each: ocikit ${repack.ocikit.map((s) => s.toFixed(2)).join(' ')}; skopeo ${repack.skopeo.map((s) => s.toFixed(2)).join(' ')}.`
      : '',
    micro.length ? `Limits measured here: ${micro.map((m) => `${m.name} ${fmt(m.mbps, 0)} MB/s${m.ratio !== undefined ? ` (ratio ${m.ratio.toFixed(3)})` : ''}`).join('; ')}.` : '',
  ].filter(Boolean);

  // === the chart
  const speedupOf = (c: CaseResult, id: string): number => (c.tools.skopeo?.medianSeconds ?? NaN) / (c.tools[id]?.medianSeconds ?? NaN);
  const tickOf = (c: CaseResult, nodeS: number): number | undefined => c.target.speedup ?? (c.target.node !== undefined ? (c.tools.skopeo?.medianSeconds ?? NaN) / (c.target.node * nodeS) : undefined);
  const chartRow = (c: CaseResult, nodeS: number, name = c.name): ChartSection['rows'][number] => ({
    name: `${name}${!['typical', 'big', 'none'].includes(c.image) && c.group !== 'sync' ? ` [${c.image}]` : ''}`,
    speedup: c.speedup,
    ...(tickOf(c, nodeS) !== undefined ? { tick: tickOf(c, nodeS)! } : {}),
    others: builds.slice(0, -1).flatMap((b) => (c.tools[b.id] ? [{ label: b.label, speedup: speedupOf(c, b.id) }] : [])),
    ...(c.tools.crane ? { crane: speedupOf(c, 'crane') } : {}),
    ...(c.movesBytes ? { ocikitMBps: c.tools.ocikit?.mbps ?? NaN, skopeoMBps: c.tools.skopeo?.mbps ?? NaN } : {}),
  });
  const sections: ChartSection[] = [];
  for (const s of order) {
    sections.push({ title: SECTIONS[s], rows: results.filter((r) => r.section === s).map((c) => chartRow(c, nodeCase)) });
    if (s === 'typical' && startup?.envs.unset)
      sections.push({
        title: 'Start-up, NODE_EXTRA_CA_CERTS unset (target: a ratio to node -e "")',
        rows: startup.envs.unset.filter((c) => c.name !== 'node -e ""').map((c) => chartRow(c, nodeSeconds(startup, 'unset'))),
      });
  }
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
  ].filter((l): l is ChartLimit => l.mbps !== undefined);
  const subtitle = `typical: ${typicals.description.slice(0, 120)}; big: ${size}; ${cores} cores; ${envText}`;
  const svg = chartSvg(sections, limits, title, subtitle);
  writeFileSync(join(resultsDir, `${size}-latest.svg`), svg);
  writeFileSync(join(resultsDir, `${size}-latest.html`), reportHtml(title, intro, svg, [...tables, ...(serve ? [serveTable(serve)] : [])], notes));
  const md = [
    `${title}. ${intro}`,
    '',
    ...tables.flatMap((t) => [t, '']),
    ...(serve ? [serveTable(serve), ''] : []),
    ...notes,
    '',
    `Chart: ${size}-latest.svg (and ${size}-latest.html with the tables).`,
  ].join('\n');
  writeFileSync(join(resultsDir, `${size}-latest.md`), md + '\n');
  process.stdout.write(md + '\n');
  log(`done in ${fmt(totalSeconds / 60, 1)} min; results in ${resultsDir}`);
}

/** Ten docker-archives sharing the big image as a base, converted one after another (ocikit keeps one store). */
async function runRepack(big: ImageInfo, ocikit: Tool): Promise<{ ocikit: number[]; skopeo: number[]; note: string }> {
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
  for (const tool of [ocikit, skopeoTool]) {
    rmSync(base, { recursive: true, force: true });
    mkdirSync(base, { recursive: true });
    for (const [i, a] of archives.entries()) {
      const c = copyCase({ name: 'repack', section: 'more', group: 'repack', target: {}, image: big, src: a, dst: () => `oci:${base}/out-${i}:latest` });
      const st = timed(c.argv(tool, { dir: base, store: join(base, 'store'), n: i })!, `${tool.label} repack ${i}`);
      repack[tool.kind === 'ocikit' ? 'ocikit' : 'skopeo'].push(st.seconds);
    }
    log(`  ${tool.label.padEnd(6)} repack: ${repack[tool.kind === 'ocikit' ? 'ocikit' : 'skopeo'].map((s) => s.toFixed(2)).join(', ')}`);
  }
  rmSync(base, { recursive: true, force: true });
  rmSync(join(workDir, 'images', size, 'repack'), { recursive: true, force: true });
  return repack;
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
