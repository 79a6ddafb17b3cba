/**
 * The bench's tables (markdown, also turned into HTML by bench/chart.ts): one per section, the
 * start-up table, and whether each target is met.
 */
import { SECTIONS, type Section, type Target, type Tool } from './case.js';
import type { CaseResult } from './runner.js';
import type { StartupResult } from './startup.js';

export const fmt = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '—');

/** Each part of a target, met or not (undefined: not measured). */
export interface TargetCheck {
  speedup?: boolean;
  node?: boolean;
  rss?: boolean;
}

/** Check `c` against its target; `nodeS` is `node -e ""` in the environment `c` ran in. */
export function check(c: CaseResult, nodeS: number): TargetCheck {
  const o = c.tools.ocikit;
  const t = c.target;
  const known = (v: number, ok: boolean): boolean | undefined => (Number.isFinite(v) ? ok : undefined);
  return {
    ...(t.speedup !== undefined ? { speedup: known(c.speedup, c.speedup >= t.speedup) } : {}),
    ...(t.node !== undefined && o ? { node: known(o.medianSeconds / nodeS, o.medianSeconds / nodeS <= t.node) } : {}),
    ...(t.rssMiB !== undefined && o ? { rss: known(o.peakRssMiB, o.peakRssMiB <= t.rssMiB) } : {}),
  };
}

const mark = (ok: boolean | undefined): string => (ok === undefined ? '' : ok ? ' ✓' : ' ✗');

/** The target as text, each part marked met (✓) or missed (✗). */
export function targetText(t: Target, ok: TargetCheck): string {
  const parts: string[] = [];
  if (t.speedup !== undefined) parts.push(`≥${t.speedup}×${mark(ok.speedup)}`);
  if (t.node !== undefined) parts.push(`≤${t.node}× node${mark(ok.node)}`);
  if (t.rssMiB !== undefined) parts.push(`≤${t.rssMiB} MiB${mark(ok.rss)}`);
  return parts.join(', ') || '—';
}

/** The tool columns a table shows: the headline ocikit, skopeo, then crane and the other ocikit builds where they ran. */
function extraTools(tools: Tool[]): Tool[] {
  return tools.filter((t) => t.id !== 'ocikit' && t.id !== 'skopeo' && t.kind !== 'node');
}

/** One section's table. `nodeS`: `node -e ""` in the cases' environment, for the × node column (shown with `showNode`). */
export function sectionTable(section: Section, cases: CaseResult[], tools: Tool[], nodeS: number, showNode: boolean): string {
  const extra = extraTools(tools).filter((t) => cases.some((c) => c.tools[t.id]));
  const head = [
    SECTIONS[section],
    'ocikit s',
    'skopeo s',
    'speed-up',
    ...extra.map((t) => `${t.label} s (speed-up)`),
    ...(showNode ? ['ocikit × node'] : []),
    'target',
    'ocikit / skopeo MB/s',
    'peak RSS ocikit / skopeo MiB',
    'output MB ocikit / skopeo',
  ];
  const rows = cases.map((c) => {
    const o = c.tools.ocikit;
    const s = c.tools.skopeo;
    const sec = (r: typeof o): string => (r?.error ? 'failed' : fmt(r?.medianSeconds ?? NaN, 3));
    const out = (r: typeof o): string => (r?.outBytes ? fmt(r.outBytes / 1e6, r.outBytes < 1e6 ? 3 : 0) : '—');
    return [
      `${c.name}${!['typical', 'big', 'none'].includes(c.image) ? ` [${c.image}, ${c.uncompressedBytes < 1e6 ? `${fmt(c.uncompressedBytes / 1e3, 0)} KB` : `${fmt(c.uncompressedBytes / 1e6, 0)} MB`}]` : ''}`,
      sec(o),
      sec(s),
      `${fmt(c.speedup, 2)}×`,
      ...extra.map((t) => {
        const r = c.tools[t.id];
        return r ? `${sec(r)} (${fmt((s?.medianSeconds ?? NaN) / r.medianSeconds, 2)}×)` : '—';
      }),
      ...(showNode ? [`${fmt((o?.medianSeconds ?? NaN) / nodeS, 1)}×`] : []),
      targetText(c.target, check(c, nodeS)),
      c.movesBytes ? `${fmt(o?.mbps ?? NaN, 0)} / ${fmt(s?.mbps ?? NaN, 0)}` : '—',
      `${fmt(o?.peakRssMiB ?? NaN, 0)} / ${fmt(s?.peakRssMiB ?? NaN, 0)}`,
      `${out(o)} / ${out(s)}`,
    ];
  });
  return [head, head.map((_, i) => (i === 0 ? '---' : '---:')), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** The start-up table: ms and × node in each environment; the target is read on "unset". */
export function startupTable(r: StartupResult, tools: Tool[]): string {
  const keys = Object.keys(r.envs);
  const byName = (key: string, name: string): CaseResult | undefined => r.envs[key]?.find((c) => c.name === name);
  const nodeMs = (key: string): number => (byName(key, 'node -e ""')?.tools.node?.medianSeconds ?? NaN) * 1000;
  const extra = extraTools(tools);
  const head = [
    'start-up (median of 7)',
    ...keys.flatMap((k) => [`ocikit ms, NODE_EXTRA_CA_CERTS ${k}`, '× node']),
    'target (unset)',
    'skopeo ms',
    ...extra.map((t) => `${t.label} ms (× node, unset)`),
    'peak RSS ocikit / skopeo MiB',
  ];
  const names = (r.envs.unset ?? []).map((c) => c.name);
  const rows = names.map((name) => {
    const unset = byName('unset', name)!;
    const own = (key: string): number => {
      const c = byName(key, name);
      return ((name === 'node -e ""' ? c?.tools.node : c?.tools.ocikit)?.medianSeconds ?? NaN) * 1000;
    };
    return [
      name,
      ...keys.flatMap((k) => [fmt(own(k), 0), name === 'node -e ""' ? '1.0×' : `${fmt(own(k) / nodeMs(k), 2)}×`]),
      targetText({ ...(unset.target.node !== undefined ? { node: unset.target.node } : {}) }, check(unset, nodeMs('unset') / 1000)),
      fmt((unset.tools.skopeo?.medianSeconds ?? NaN) * 1000, 0),
      ...extra.map((t) => {
        const x = unset.tools[t.id];
        return x ? `${fmt(x.medianSeconds * 1000, 0)} (${fmt((x.medianSeconds * 1000) / nodeMs('unset'), 2)}×)` : '—';
      }),
      `${fmt(unset.tools.ocikit?.peakRssMiB ?? unset.tools.node?.peakRssMiB ?? NaN, 0)} / ${fmt(unset.tools.skopeo?.peakRssMiB ?? NaN, 0)}`,
    ];
  });
  return [head, head.map((_, i) => (i === 0 ? '---' : '---:')), ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
}
