/**
 * "Did you mean …?" for a mistyped command or flag, by cobra's rule (which skopeo's commands
 * follow): a candidate at most two edits away, ignoring case, or one the typed text begins.
 */

/** Edit distance (insertions, deletions, substitutions) between two short strings. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The candidates `typed` may have meant, closest first (at most three). */
export function suggestions(typed: string, candidates: Iterable<string>): string[] {
  const t = typed.toLowerCase();
  if (t === '') return [];
  const scored: Array<[string, number]> = [];
  for (const c of new Set(candidates)) {
    const lc = c.toLowerCase();
    const d = editDistance(t, lc);
    if (d <= 2 || lc.startsWith(t)) scored.push([c, d]);
  }
  return scored
    .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, 3)
    .map(([c]) => c);
}

/** " (did you mean X? …)" as a hint's start: "did you mean copy? " or "". */
export function didYouMean(typed: string, candidates: Iterable<string>, prefix = ''): string {
  const s = suggestions(typed, candidates);
  return s.length === 0 ? '' : `did you mean ${s.map((c) => prefix + c).join(' or ')}? `;
}
