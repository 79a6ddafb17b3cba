/**
 * The shape of the import graph: no module of the shipped code (lib/, cli/, workers/, build/)
 * reaches itself again through its imports — static, type-only (`import type`, `typeof import`),
 * re-exports, or dynamic `import()` — so each module can be read, tested and loaded below the ones
 * that use it. A type-only circle costs nothing at run time but still ties two files together:
 * neither can be understood, moved or split without the other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from './helpers/paths.js';

const SHIPPED = ['lib', 'cli', 'workers', 'build'];

/** Every relative specifier a TypeScript source names: import/export ... from, import type, import(), typeof import(). */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** module (repository-relative path) -> the modules it imports, resolved to their .ts sources. */
function importGraph(dirs: string[]): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of dirs.flatMap((d) => sources(join(repoRoot, d)))) {
    const edges = new Set<string>();
    for (const m of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
      edges.add(relative(repoRoot, resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'))));
    }
    graph.set(relative(repoRoot, file), edges);
  }
  return graph;
}

/** The strongly connected components with more than one module (or a module importing itself): each is a circle. */
function circles(graph: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)!.has(v)) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('the import reader sees every kind of import, and every one names a source that exists', () => {
  const graph = importGraph(SHIPPED);
  assert.ok(graph.size > 100, `read ${graph.size} modules`);
  // One of each kind, as written in the tree today: a positive control for the reader.
  const has = (from: string, to: string): void => assert.ok(graph.get(from)?.has(to), `${from} -> ${to}`);
  has('lib/copy/copy.ts', 'lib/copy/single.ts'); // import { … } from
  has('lib/copy/single.ts', 'lib/copy/options.ts'); // import type { … } from
  has('lib/transports/store/transport.ts', 'lib/transports/store/source.ts'); // await import('./source.js')
  has('lib/reference/index.ts', 'lib/reference/transports.ts'); // export { … } from
  for (const [from, edges] of graph) for (const to of edges) assert.ok(existsSync(join(repoRoot, to)), `${from} imports ${to}, which does not exist`);
});

test('the circle finder finds a circle, a self-import and nothing in a line', () => {
  const g = (edges: Record<string, string[]>): Map<string, Set<string>> => new Map(Object.entries(edges).map(([k, v]) => [k, new Set(v)]));
  assert.deepEqual(circles(g({ a: ['b'], b: ['c'], c: ['a'], d: ['a'] })), [['a', 'b', 'c']]);
  assert.deepEqual(circles(g({ a: ['a'], b: [] })), [['a']]);
  assert.deepEqual(circles(g({ a: ['b'], b: ['c'], c: [] })), []);
});

test('no module of lib/, cli/, workers/ or build/ imports itself back, by any kind of import', () => {
  assert.deepEqual(circles(importGraph(SHIPPED)), []);
});

test('lib/ imports nothing from cli/, test/, bench/ or support/', () => {
  for (const [from, edges] of importGraph(['lib'])) {
    for (const to of edges) assert.ok(!/^(cli|test|bench|support)\//.test(to), `${from} imports ${to}`);
  }
});

test('bench/ takes the peers and images it shares with the tests from support/, never from test/; support/ imports neither', () => {
  for (const [from, edges] of importGraph(['bench', 'support'])) {
    for (const to of edges) assert.ok(!/^test\//.test(to) && !(from.startsWith('support/') && to.startsWith('bench/')), `${from} imports ${to}`);
  }
});
