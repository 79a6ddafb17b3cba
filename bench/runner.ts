/**
 * Running one bench case: every tool in turn, run after run (ocikit, skopeo, ocikit, skopeo, …) so
 * that a change in the machine's load hits all of them, each run under /usr/bin/time for its peak
 * RSS, medians reported. Nothing here asserts speed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SECTIONS, type Case, type RunContext, type Target, type Tool } from './case.js';

export interface RunStat {
  seconds: number;
  rssMiB: number;
}

export interface ToolResult {
  runs: RunStat[];
  medianSeconds: number;
  /** MB/s of the image's uncompressed bytes (NaN where the case moves no bytes) */
  mbps: number;
  peakRssMiB: number;
  /** bytes at the destination after the last run */
  outBytes: number;
  /** when a run failed: the error */
  error?: string;
}

export interface CaseResult {
  name: string;
  section: Case['section'];
  group: string;
  target: Target;
  image: string;
  uncompressedBytes: number;
  movesBytes: boolean;
  note?: string;
  /** by tool id ("ocikit", "ocikit-1", "skopeo", "crane", "node"); a tool with nothing equivalent is absent */
  tools: Record<string, ToolResult>;
  /** skopeo seconds / headline ocikit seconds (> 1: ocikit faster) */
  speedup: number;
}

export interface RunOptions {
  /** the environment of every run (default: this process's) */
  env?: NodeJS.ProcessEnv;
  /** exactly this many measured runs of each tool (default: 2; up to 5 when they take under 1 s; a third when two differ by over 10%) */
  runs?: number;
  /** leave each ocikit build's store of the last run for a warm case that names this one */
  keepForWarm?: boolean;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function duBytes(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (st.isFile()) return st.size;
  let n = 0;
  for (const name of readdirSync(p)) n += duBytes(join(p, name));
  return n;
}

/**
 * Run `argv` under /usr/bin/time: wall seconds measured here (the 10 ms steps of time's %e are too
 * coarse for start-up; the wrapper's own fork and exec, about a millisecond, is in every tool's
 * figure alike) and peak RSS (MiB) from time's %M. Throws with the end of stderr when it fails.
 */
export function timed(argv: string[], what: string, env: NodeJS.ProcessEnv = process.env): RunStat {
  const tf = join(tmpdir(), `ocikit-bench-time.${process.pid}`);
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', tf, ...argv], { encoding: 'utf8', maxBuffer: 64 << 20, env });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
  const kb = Number(readFileSync(tf, 'utf8').trim().split('\n').at(-1));
  rmSync(tf, { force: true });
  return { seconds, rssMiB: kb / 1024 };
}

const slug = (name: string): string => name.replace(/[^a-z0-9]+/gi, '-');
const spread = (xs: RunStat[]): number => (xs.length < 2 ? 1 : Math.max(...xs.map((x) => x.seconds)) / Math.max(0.001, Math.min(...xs.map((x) => x.seconds))));

export class Runner {
  /** Sources an earlier case read: in the page cache now, so a case on one needs no warm-up run. */
  private readonly sourcesRead = new Set<string>();
  /** numbers runs across the whole bench, so destinations that must be new never repeat */
  private n = 0;

  constructor(
    private readonly workDir: string,
    private readonly log: (s: string) => void,
  ) {}

  /** Where a cold case (named within `section`) leaves an ocikit build's store for its warm case. */
  private keptStore(section: string, caseName: string, toolId: string): string {
    return join(this.workDir, 'kept-stores', slug(`${section} ${caseName}`), toolId);
  }

  /**
   * One case: `prepare`, each tool's `setup`, one warm-up run (the headline ocikit's, which brings
   * the source into the page cache for every tool) when no earlier case read the same source, then
   * the measured runs, alternating. A warm case runs the ocikit builds alone, each through the store
   * its cold case (of the same section) left, and takes skopeo's figure from that case (in `earlier`).
   */
  async run(c: Case, allTools: Tool[], earlier: CaseResult[], opts: RunOptions = {}): Promise<CaseResult> {
    await c.prepare?.();
    this.log(`case ${SECTIONS[c.section]}: ${c.name}${opts.env && opts.env.NODE_EXTRA_CA_CERTS === undefined && process.env.NODE_EXTRA_CA_CERTS ? ' (NODE_EXTRA_CA_CERTS unset)' : ''}: ${c.src}`);
    const base = join(this.workDir, 'runs', slug(`${c.section} ${c.name}`));
    rmSync(base, { recursive: true, force: true });
    const tools = c.warm ? allTools.filter((t) => t.kind === 'ocikit') : allTools;
    const headline = tools.find((t) => t.id === 'ocikit');
    const stats = new Map<string, RunStat[]>(tools.map((t) => [t.id, []]));
    const outBytes = new Map<string, number>();
    const errors = new Map<string, string>();
    /** tools for which the case has no argv */
    const absent = new Set<string>();
    const warmStores = new Map<string, string>();
    if (c.warm) for (const t of tools) if (existsSync(this.keptStore(c.section, c.warm.from, t.id))) warmStores.set(t.id, this.keptStore(c.section, c.warm.from, t.id));
    const storeOf = (t: Tool): string => warmStores.get(t.id) ?? join(base, `${t.id}-store`);
    const context = (t: Tool): RunContext => ({ dir: join(base, t.id, String(this.n)), store: storeOf(t), n: this.n++ });

    const once = async (t: Tool): Promise<RunStat | undefined> => {
      const run = context(t);
      // Cold runs start from an empty store; warm and keepStore cases keep theirs.
      if (!c.warm && !c.keepStore) rmSync(run.store, { recursive: true, force: true });
      mkdirSync(run.dir, { recursive: true });
      await c.before?.(t, run);
      try {
        const argv = c.argv(t, run);
        if (!argv) {
          absent.add(t.id);
          return undefined;
        }
        const st = timed(argv, `${t.label} ${c.name}`, opts.env);
        const out = c.output?.(run);
        if (out) outBytes.set(t.id, duBytes(out));
        return st;
      } finally {
        await c.after?.(t, run);
        rmSync(run.dir, { recursive: true, force: true });
      }
    };
    const attempt = async (t: Tool, record: boolean): Promise<void> => {
      try {
        const st = await once(t);
        if (st && record) stats.get(t.id)!.push(st);
      } catch (err) {
        errors.set(t.id, (err as Error).message);
      }
    };
    /** Whether tool `t` makes a measured run in round `i` (0-based). */
    const wants = (t: Tool, i: number): boolean => {
      if (errors.has(t.id) || absent.has(t.id)) return false;
      const s = stats.get(t.id)!;
      if (opts.runs !== undefined) return i < opts.runs;
      if (i < 2) return true;
      // Short runs are noisy and cheap: five. Longer ones: a third when two disagree by over 10%
      // and are under 5 s (above that a 10% difference is the machine's load, and a third run
      // costs more than it settles).
      if (Math.max(...s.map((x) => x.seconds)) < 1) return i < 5;
      return i === 2 && spread(s) > 1.1 && Math.min(...s.map((x) => x.seconds)) < 5;
    };

    try {
      if (c.setup)
        for (const t of tools) {
          try {
            await c.setup(t, context(t));
          } catch (err) {
            errors.set(t.id, (err as Error).message);
          }
        }
      // The warm-up: for a warm case without a kept store, the run that fills the store.
      if (headline && (c.warm ? !warmStores.has(headline.id) : !this.sourcesRead.has(c.src))) await attempt(headline, false);
      this.sourcesRead.add(c.src);
      for (let i = 0; tools.some((t) => wants(t, i)); i++) for (const t of tools) if (wants(t, i)) await attempt(t, true);
      if (opts.keepForWarm)
        for (const t of tools) {
          if (t.kind !== 'ocikit' || errors.has(t.id) || !existsSync(join(base, `${t.id}-store`))) continue;
          const kept = this.keptStore(c.section, c.name, t.id);
          rmSync(kept, { recursive: true, force: true });
          mkdirSync(dirname(kept), { recursive: true });
          renameSync(join(base, `${t.id}-store`), kept);
        }
    } finally {
      rmSync(base, { recursive: true, force: true });
      for (const s of warmStores.values()) rmSync(s, { recursive: true, force: true });
    }

    const movesBytes = c.movesBytes ?? true;
    const resultOf = (id: string): ToolResult => {
      const s = stats.get(id) ?? [];
      const med = s.length ? median(s.map((x) => x.seconds)) : NaN;
      return {
        runs: s,
        medianSeconds: med,
        mbps: movesBytes ? c.image.uncompressedBytes / 1e6 / med : NaN,
        peakRssMiB: s.length ? Math.max(...s.map((x) => x.rssMiB)) : NaN,
        outBytes: outBytes.get(id) ?? 0,
        ...(errors.has(id) ? { error: errors.get(id)! } : {}),
      };
    };
    const results: Record<string, ToolResult> = {};
    for (const t of tools) if (!absent.has(t.id)) results[t.id] = resultOf(t.id);
    if (c.warm) {
      const from = earlier.find((e) => e.section === c.section && e.name === c.warm!.from)?.tools.skopeo;
      if (from) results.skopeo = from;
    }
    for (const t of [...tools, ...(c.warm ? [{ id: 'skopeo', label: 'skopeo' }] : [])]) {
      const r = results[t.id];
      if (!r) continue;
      if (r.error) this.log(`  ${t.label}: ${r.error}`);
      else
        this.log(
          `  ${t.label.padEnd(8)} ${c.name}: median ${r.medianSeconds.toFixed(3)} s (${r.runs.map((x) => x.seconds.toFixed(3)).join(', ')})${c.warm && t.id === 'skopeo' ? ' [from the cold case]' : ''}, peak RSS ${r.peakRssMiB.toFixed(0)} MiB${r.outBytes ? `, out ${(r.outBytes / 1e6).toFixed(1)} MB` : ''}`,
        );
    }
    return {
      name: c.name,
      section: c.section,
      group: c.group,
      target: c.target,
      image: c.image.name,
      uncompressedBytes: c.image.uncompressedBytes,
      movesBytes,
      ...(c.note ? { note: c.note } : {}),
      tools: results,
      speedup: (results.skopeo?.medianSeconds ?? NaN) / (results.ocikit?.medianSeconds ?? NaN),
    };
  }
}
