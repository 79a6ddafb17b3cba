/**
 * Drawing what the bench measured: an SVG chart and a small HTML page with the chart and the tables.
 * Plain SVG written by hand: no dependency, opens anywhere.
 *
 * Left panel: ocikit's speed-up over skopeo per case, on a log scale, the bar growing from 1× to the
 * right (faster, green) or to the left (slower, red); the case's target is a black tick on its row
 * (for a target stated as a ratio to `node -e ""`, the speed-up that ratio would give); other ocikit
 * builds are hollow diamonds and crane a grey triangle, where they ran. Right panel: MB/s of the
 * image's uncompressed bytes for ocikit and skopeo, on a log scale, with the machine's measured
 * limits as dashed lines whose labels are laid out in rows below the axis so that none can overlap.
 */

/** One row of the chart. */
export interface ChartRow {
  name: string;
  /** skopeo seconds / ocikit seconds */
  speedup: number;
  /** where the target lies on the speed-up scale, if the case has one */
  tick?: number;
  /** other ocikit builds' speed-ups over skopeo */
  others: Array<{ label: string; speedup: number }>;
  /** crane's speed-up over skopeo, where it ran */
  crane?: number;
  /** MB/s of the image's uncompressed bytes, where the case moves them */
  ocikitMBps?: number;
  skopeoMBps?: number;
}

/** A section of rows under a heading. */
export interface ChartSection {
  title: string;
  rows: ChartRow[];
}

/** A measured limit of this machine (MB/s), drawn as a dashed line on the throughput panel. */
export interface ChartLimit {
  name: string;
  mbps: number;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '—');
const finite = (xs: Array<number | undefined>): number[] => xs.filter((x): x is number => x !== undefined && Number.isFinite(x) && x > 0);

/** Text with a white halo, readable over bars and grid lines. */
const halo = 'stroke="white" stroke-width="3" paint-order="stroke"';

// Labels of the limit lines are set in a monospace font, so their width is known exactly
// (0.6 em per character in DejaVu Sans Mono and its kin): the layout below relies on it.
const MONO = 'DejaVu Sans Mono, Menlo, Consolas, monospace';
const MONO_SIZE = 10;
const MONO_CHAR = 0.61 * MONO_SIZE;

/**
 * Lay labels centred on `xs` into rows so that no two in a row overlap (each at least `gap` apart),
 * every label inside [lo, hi]. Returns each label's row and left edge.
 */
export function layoutLabels(labels: Array<{ x: number; width: number }>, lo: number, hi: number, gap = 18): Array<{ row: number; left: number }> {
  const order = labels.map((l, i) => ({ ...l, i })).sort((a, b) => a.x - b.x);
  const rowEnds: number[] = [];
  const out = new Array<{ row: number; left: number }>(labels.length);
  for (const l of order) {
    const left = Math.max(lo, Math.min(hi - l.width, l.x - l.width / 2));
    let row = rowEnds.findIndex((end) => left >= end + gap);
    if (row < 0) row = rowEnds.push(-Infinity) - 1;
    rowEnds[row] = left + l.width;
    out[l.i] = { row, left };
  }
  return out;
}

export function chartSvg(sections: ChartSection[], limits: ChartLimit[], title: string, subtitle: string): string {
  const rowH = 22;
  const headH = 26;
  const top = 86;
  const labelW = 370;
  const p1W = 430;
  // The speed-up figures sit in a column of their own right of the bars, so no marker or tick can
  // cover them.
  const valueW = 62;
  const gap = 26;
  const p2W = 300;
  const left1 = labelW;
  const left2 = labelW + p1W + valueW + gap;
  const width = left2 + p2W + 20;
  const all = sections.flatMap((s) => s.rows);

  // === vertical layout: a heading per section, then its rows
  const ys: number[] = [];
  const heads: Array<{ y: number; title: string }> = [];
  let y = top;
  for (const s of sections) {
    if (!s.rows.length) continue;
    heads.push({ y, title: s.title });
    y += headH;
    for (let i = 0; i < s.rows.length; i++, y += rowH) ys.push(y);
  }
  const bottom = y;

  // === panel 1 scale: log, 1× inside, room on both sides
  const speeds = finite(all.flatMap((r) => [r.speedup, r.tick, r.crane, ...r.others.map((o) => o.speedup)]));
  const lo1 = Math.min(0.25, ...speeds) / 1.6;
  const hi1 = Math.max(4, ...speeds) * 1.6;
  const x1 = (v: number): number => left1 + ((Math.log(Math.min(hi1, Math.max(lo1, v))) - Math.log(lo1)) / (Math.log(hi1) - Math.log(lo1))) * p1W;

  // === panel 2 scale: log MB/s
  const rates = finite([...all.flatMap((r) => [r.ocikitMBps, r.skopeoMBps]), ...limits.map((l) => l.mbps)]);
  const lo2 = Math.max(1, Math.min(10, ...rates) / 1.5);
  const hi2 = Math.max(1000, ...rates) * 1.3;
  const x2 = (v: number): number => left2 + ((Math.log(Math.min(hi2, Math.max(lo2, v))) - Math.log(lo2)) / (Math.log(hi2) - Math.log(lo2))) * p2W;

  // === limit labels: rows below the axis, none overlapping
  const limitText = limits.map((l) => `${l.name} ${fmt(l.mbps, 0)}`);
  const placed = layoutLabels(
    limits.map((l, i) => ({ x: x2(l.mbps), width: limitText[i]!.length * MONO_CHAR })),
    left2,
    left2 + p2W,
  );
  const labelRows = placed.reduce((m, p) => Math.max(m, p.row + 1), 0);
  const axisY = bottom + 16;
  const limitsTop = axisY + 14;
  const height = limitsTop + labelRows * 14 + 36;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="10" y="22" font-size="16" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="10" y="40" font-size="11" fill="#555">${esc(subtitle)}</text>`);

  // Legends.
  out.push(`<text x="${left1}" y="${top - 24}" font-weight="bold">ocikit's speed-up over skopeo (log scale)</text>`);
  const lg = top - 9;
  out.push(`<rect x="${left1}" y="${lg - 8}" width="10" height="9" fill="#3a8f3a"/><text x="${left1 + 14}" y="${lg}" font-size="10">faster</text>`);
  out.push(`<rect x="${left1 + 56}" y="${lg - 8}" width="10" height="9" fill="#c0504d"/><text x="${left1 + 70}" y="${lg}" font-size="10">slower</text>`);
  out.push(`<line x1="${left1 + 118}" y1="${lg - 9}" x2="${left1 + 118}" y2="${lg + 1}" stroke="black" stroke-width="2"/><text x="${left1 + 123}" y="${lg}" font-size="10">target</text>`);
  let lx = left1 + 170;
  if (all.some((r) => r.others.length)) {
    out.push(
      `<path d="M${lx} ${lg - 8} l4 4 l-4 4 l-4 -4 z" fill="white" stroke="#5b3fa0" stroke-width="1.5"/><text x="${lx + 8}" y="${lg}" font-size="10">${esc(
        all
          .find((r) => r.others.length)!
          .others.map((o) => o.label)
          .join(', '),
      )}</text>`,
    );
    lx += 150;
  }
  if (all.some((r) => r.crane !== undefined)) out.push(`<path d="M${lx} ${lg - 8} l4 8 l-8 0 z" fill="#777"/><text x="${lx + 8}" y="${lg}" font-size="10">crane</text>`);
  out.push(`<text x="${left2}" y="${top - 24}" font-weight="bold">MB/s, log scale: <tspan fill="#2e6db4">ocikit</tspan> / <tspan fill="#999">skopeo</tspan></text>`);
  out.push(
    `<line x1="${left2}" y1="${lg - 4}" x2="${left2 + 16}" y2="${lg - 4}" stroke="#e08a00" stroke-dasharray="4 3"/><text x="${left2 + 20}" y="${lg}" font-size="10">limits measured on this machine (below)</text>`,
  );

  // Grid, then the section bands over it (so no grid line runs through a heading).
  const ticks1 = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200].filter((t) => t >= lo1 && t <= hi1);
  for (const t of ticks1) {
    out.push(`<line x1="${x1(t)}" y1="${top}" x2="${x1(t)}" y2="${bottom}" stroke="${t === 1 ? '#888' : '#e2e2e2'}" stroke-width="${t === 1 ? 1.5 : 1}"/>`);
    out.push(`<text x="${x1(t)}" y="${axisY}" text-anchor="middle" fill="#555" font-size="11">${t}×</text>`);
  }
  const ticks2 = [1, 10, 100, 1000, 10000, 100000].filter((t) => t >= lo2 && t <= hi2);
  for (const t of ticks2) {
    out.push(`<line x1="${x2(t)}" y1="${top}" x2="${x2(t)}" y2="${bottom}" stroke="#e2e2e2"/>`);
    out.push(`<text x="${x2(t)}" y="${axisY}" text-anchor="middle" fill="#555" font-size="11">${t}</text>`);
  }

  for (const h of heads) {
    out.push(`<rect x="4" y="${h.y + 2}" width="${width - 8}" height="${headH - 4}" fill="#f0f0f0"/>`);
    out.push(`<text x="10" y="${h.y + 17}" font-weight="bold" fill="#333">${esc(h.title)}</text>`);
  }

  // Rows.
  all.forEach((r, i) => {
    const ry = ys[i]!;
    const mid = ry + rowH / 2;
    // Row names longer than the label column (about 6.6 px a character at 12 px) are cut short.
    const room = Math.floor((labelW - 16) / 6.6);
    const name = r.name.length > room ? `${r.name.slice(0, room - 1)}…` : r.name;
    out.push(`<text x="${labelW - 8}" y="${mid + 4}" text-anchor="end"><title>${esc(r.name)}</title>${esc(name)}</text>`);
    if (Number.isFinite(r.speedup)) {
      const a = x1(1);
      const b = x1(r.speedup);
      const faster = r.speedup >= 1;
      out.push(`<rect x="${Math.min(a, b)}" y="${ry + 4}" width="${Math.max(1, Math.abs(b - a))}" height="${rowH - 8}" fill="${faster ? '#3a8f3a' : '#c0504d'}"/>`);
      out.push(`<text x="${left1 + p1W + valueW - 6}" y="${mid + 4}" text-anchor="end" fill="${faster ? '#2a6e2a' : '#a03c39'}" font-weight="bold">${fmt(r.speedup, 2)}×</text>`);
    } else {
      out.push(`<text x="${left1 + p1W + valueW - 6}" y="${mid + 4}" text-anchor="end" fill="#999">—</text>`);
    }
    if (r.tick !== undefined && Number.isFinite(r.tick)) out.push(`<line x1="${x1(r.tick)}" y1="${ry + 1}" x2="${x1(r.tick)}" y2="${ry + rowH - 1}" stroke="black" stroke-width="2"/>`);
    for (const o of r.others)
      if (Number.isFinite(o.speedup))
        out.push(`<path d="M${x1(o.speedup)} ${mid - 5} l5 5 l-5 5 l-5 -5 z" fill="white" stroke="#5b3fa0" stroke-width="1.5"><title>${esc(`${o.label}: ${fmt(o.speedup, 2)}×`)}</title></path>`);
    if (r.crane !== undefined && Number.isFinite(r.crane)) out.push(`<path d="M${x1(r.crane)} ${mid - 5} l5 9 l-10 0 z" fill="#777"><title>crane: ${fmt(r.crane, 2)}×</title></path>`);
    const h = (rowH - 8) / 2;
    if (r.ocikitMBps !== undefined && Number.isFinite(r.ocikitMBps)) out.push(`<rect x="${left2}" y="${ry + 4}" width="${Math.max(1, x2(r.ocikitMBps) - left2)}" height="${h}" fill="#2e6db4"/>`);
    if (r.skopeoMBps !== undefined && Number.isFinite(r.skopeoMBps)) out.push(`<rect x="${left2}" y="${ry + 4 + h}" width="${Math.max(1, x2(r.skopeoMBps) - left2)}" height="${h}" fill="#999"/>`);
  });

  // Limits: dashed lines over the rows and leaders down to their labels first, then the labels (with
  // a halo) in their rows below the axis, so no line runs through a label's text.
  limits.forEach((l, i) => {
    const x = x2(l.mbps);
    const ly = limitsTop + placed[i]!.row * 14;
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#e08a00" stroke-dasharray="4 3"/>`);
    out.push(`<line x1="${x}" y1="${axisY + 3}" x2="${x}" y2="${ly - 9}" stroke="#e08a00" stroke-width="0.8"/>`);
  });
  limits.forEach((_, i) => {
    const p = placed[i]!;
    out.push(`<text x="${p.left}" y="${limitsTop + p.row * 14}" fill="#b06a00" font-family="${MONO}" font-size="${MONO_SIZE}" ${halo}>${esc(limitText[i]!)}</text>`);
  });
  out.push(
    `<text x="10" y="${height - 10}" font-size="10" fill="#555">A target stated as a ratio to node -e "" (≤N× node) is drawn at the speed-up over skopeo that would meet it, from this run's medians.</text>`,
  );
  out.push('</svg>');
  return out.join('\n');
}

/** The HTML page: a heading, the intro, the chart (inline), the tables (markdown), the notes. */
export function reportHtml(title: string, intro: string, svg: string, tablesMd: string[], notes: string[]): string {
  const cells = (l: string): string[] =>
    l
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim());
  const table = (md: string): string => {
    const lines = md
      .trim()
      .split('\n')
      .filter((l) => !/^\|[-:| ]+\|$/.test(l));
    const head = cells(lines[0] ?? '');
    const body = lines.slice(1).map(cells);
    return `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>\n${body.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n')}\n</table>`;
  };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:24px;max-width:1300px}table{border-collapse:collapse;font-size:13px;margin:12px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}</style>
</head><body>
<h1>${esc(title)}</h1>
<p>${esc(intro)}</p>
${svg}
<h2>Tables</h2>
${tablesMd.map(table).join('\n')}
${notes.map((n) => `<p>${esc(n)}</p>`).join('\n')}
</body></html>
`;
}
