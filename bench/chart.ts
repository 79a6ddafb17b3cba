/**
 * Drawing what the bench measured: an SVG chart (speed-up over skopeo per pair against its target
 * line; MB/s of ocikit and skopeo per pair against the machine's measured limits) and a small HTML
 * page with the chart and the table. Plain SVG written by hand: no dependency, opens anywhere.
 */

/** One measured pair, as the chart needs it. */
export interface ChartRow {
  name: string;
  group: string;
  /** skopeo seconds / ocikit seconds */
  speedup: number;
  target: number;
  ocikitMBps: number;
  skopeoMBps: number;
}

/** A measured limit of this machine (MB/s), drawn as a vertical line on the throughput panel. */
export interface ChartLimit {
  name: string;
  mbps: number;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '—');

/** The chart: two panels side by side, one row per pair. */
export function chartSvg(rows: ChartRow[], limits: ChartLimit[], title: string): string {
  const rowH = 22;
  const top = 56;
  const labelW = 270;
  const panelW = 330;
  const gap = 60;
  const height = top + rows.length * rowH + 70;
  const width = labelW + panelW + gap + panelW + 30;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`);

  // Panel 1: speed-up on a log scale from 0.25x to the largest value.
  const maxSpeed = Math.max(4, ...rows.map((r) => (Number.isFinite(r.speedup) ? r.speedup : 0)), ...rows.map((r) => r.target));
  const lo = Math.log(0.25);
  const hi = Math.log(maxSpeed * 1.1);
  const x1 = (v: number): number => labelW + ((Math.log(Math.max(0.25, v)) - lo) / (hi - lo)) * panelW;
  out.push(`<text x="${labelW}" y="44" font-weight="bold">speed-up over skopeo (× , log scale; | = target)</text>`);
  for (const t of [0.5, 1, 2, 5, 10, 20, 50].filter((t) => t <= maxSpeed * 1.1)) {
    out.push(`<line x1="${x1(t)}" y1="${top - 4}" x2="${x1(t)}" y2="${top + rows.length * rowH}" stroke="#ddd"/>`);
    out.push(`<text x="${x1(t)}" y="${top + rows.length * rowH + 14}" text-anchor="middle" fill="#666">${t}×</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    out.push(`<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(r.name)}</text>`);
    const ok = r.speedup >= r.target;
    if (Number.isFinite(r.speedup)) {
      out.push(`<rect x="${x1(0.25)}" y="${y + 4}" width="${Math.max(1, x1(r.speedup) - x1(0.25))}" height="${rowH - 8}" fill="${ok ? '#3a8f3a' : '#c0504d'}"/>`);
      out.push(`<text x="${x1(r.speedup) + 4}" y="${y + 15}" fill="#333">${fmt(r.speedup, 2)}×</text>`);
    }
    out.push(`<line x1="${x1(r.target)}" y1="${y + 1}" x2="${x1(r.target)}" y2="${y + rowH - 1}" stroke="black" stroke-width="2"/>`);
  });

  // Panel 2: MB/s (of the image's uncompressed bytes), linear, with the measured limits.
  const left2 = labelW + panelW + gap;
  const maxMBps = Math.max(100, ...rows.flatMap((r) => [r.ocikitMBps, r.skopeoMBps].filter(Number.isFinite)), ...limits.map((l) => l.mbps));
  const x2 = (v: number): number => left2 + (Math.min(v, maxMBps) / maxMBps) * panelW;
  out.push(`<text x="${left2}" y="44" font-weight="bold">MB/s (uncompressed image bytes): <tspan fill="#2e6db4">ocikit</tspan> / <tspan fill="#999">skopeo</tspan></text>`);
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    if (Number.isFinite(r.ocikitMBps)) out.push(`<rect x="${left2}" y="${y + 3}" width="${Math.max(1, x2(r.ocikitMBps) - left2)}" height="${(rowH - 6) / 2}" fill="#2e6db4"/>`);
    if (Number.isFinite(r.skopeoMBps)) out.push(`<rect x="${left2}" y="${y + 3 + (rowH - 6) / 2}" width="${Math.max(1, x2(r.skopeoMBps) - left2)}" height="${(rowH - 6) / 2}" fill="#999"/>`);
  });
  limits.forEach((l, i) => {
    const x = x2(l.mbps);
    out.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${top + rows.length * rowH}" stroke="#e08a00" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${x}" y="${top + rows.length * rowH + 14 + (i % 3) * 13}" text-anchor="middle" fill="#e08a00" font-size="10">${esc(l.name)} ${fmt(l.mbps, 0)}</text>`);
  });
  out.push(`<text x="${left2 + panelW}" y="${top + rows.length * rowH + 56}" text-anchor="end" fill="#666" font-size="10">dashed: limits measured on this machine</text>`);
  out.push('</svg>');
  return out.join('\n');
}

/** The HTML page: a heading, the chart (inline), the table, the notes. `tableMd` is the markdown table. */
export function reportHtml(title: string, intro: string, svg: string, tableMd: string, notes: string[]): string {
  const lines = tableMd
    .trim()
    .split('\n')
    .filter((l) => !/^\|[-:| ]+\|$/.test(l));
  const cells = (l: string): string[] =>
    l
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim());
  const head = cells(lines[0] ?? '');
  const body = lines.slice(1).map(cells);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:24px;max-width:1200px}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}</style>
</head><body>
<h1>${esc(title)}</h1>
<p>${esc(intro)}</p>
${svg}
<h2>Table</h2>
<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>
${body.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n')}
</table>
${notes.map((n) => `<p>${esc(n)}</p>`).join('\n')}
</body></html>
`;
}
