/**
 * The executor: runs a parsed tree (parser.ts) on data, with Go's rules for truth, fields, maps,
 * variables and scopes, range and its break/continue, and the functions scripts use.
 */
import type { Command, Node, Operand, Pipeline } from './parser.js';
import { TemplateError } from './error.js';
import { GoNil, GoStruct, NO_VALUE, formatValue, goJson, isMap, sprint, sprintf, typeName } from './values.js';

/** {{break}} and {{continue}}, thrown up to the {{range}} that runs the loop (outside one: an error). */
export class BreakSignal {
  constructor(readonly kind: 'break' | 'continue') {}
}

/** Go's truth for if, with, and, or, not: false, 0, "", nil, a missing key and empty slices and maps are false. */
export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === NO_VALUE || v === false || v === 0 || v === '') return false;
  if (v instanceof GoNil) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

function field(v: unknown, name: string, pos: number): unknown {
  if (v instanceof GoStruct) {
    if (!(name in v.fields)) throw new TemplateError(`can't evaluate field ${name} in type ${typeName(v)}`, pos);
    return v.fields[name];
  }
  if (v instanceof GoNil && v.kind === 'map') return NO_VALUE;
  if (isMap(v)) return Object.prototype.hasOwnProperty.call(v, name) ? v[name] : NO_VALUE;
  if (v === null || v === undefined || v === NO_VALUE) throw new TemplateError(`nil pointer evaluating ${typeName(v)}.${name}`, pos);
  throw new TemplateError(`can't evaluate field ${name} in type ${typeName(v)}`, pos);
}

function lengthOf(v: unknown, pos: number): number {
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (Array.isArray(v)) return v.length;
  if (v instanceof GoNil) return 0;
  if (isMap(v)) return Object.keys(v).length;
  throw new TemplateError(`len of type ${typeName(v)}`, pos);
}

function compare(a: unknown, b: unknown, pos: number): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new TemplateError(`incompatible types for comparison: ${typeName(a)} and ${typeName(b)}`, pos);
}

function basicEq(a: unknown, b: unknown, pos: number): boolean {
  if ((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string') || (typeof a === 'boolean' && typeof b === 'boolean')) return a === b;
  if ((a === null || a === NO_VALUE) && (b === null || b === NO_VALUE)) return true;
  throw new TemplateError(`incompatible types for comparison: ${typeName(a)} and ${typeName(b)}`, pos);
}

type Fn = (pos: number, args: unknown[]) => unknown;

function arity(name: string, args: unknown[], n: number, pos: number): void {
  if (args.length !== n) throw new TemplateError(`wrong number of args for ${name}: want ${n} got ${args.length}`, pos);
}

/** The functions a template may call, by name; each gets its position (for errors) and its arguments. */
export const FUNCS: Record<string, Fn> = {
  and: (_p, a) => {
    for (const x of a) if (!truthy(x)) return x;
    return a[a.length - 1];
  },
  or: (_p, a) => {
    for (const x of a) if (truthy(x)) return x;
    return a[a.length - 1];
  },
  not: (p, a) => {
    arity('not', a, 1, p);
    return !truthy(a[0]);
  },
  len: (p, a) => {
    arity('len', a, 1, p);
    return lengthOf(a[0], p);
  },
  index: (p, a) => {
    if (a.length < 1) throw new TemplateError('wrong number of args for index: want at least 1 got 0', p);
    let v = a[0];
    for (const k of a.slice(1)) {
      if (Array.isArray(v) || typeof v === 'string') {
        if (typeof k !== 'number' || !Number.isInteger(k)) throw new TemplateError(`cannot index slice/array with type ${typeName(k)}`, p);
        if (k < 0 || k >= v.length) throw new TemplateError(`error calling index: index out of range: ${k}`, p);
        v = typeof v === 'string' ? Buffer.from(v, 'utf8')[k] : v[k];
      } else if (v instanceof GoNil || isMap(v)) {
        if (typeof k !== 'string') throw new TemplateError(`value has type ${typeName(k)}; should be string`, p);
        // A missing key yields the zero value of the map's element type (all our maps hold strings).
        v = v instanceof GoNil ? '' : Object.prototype.hasOwnProperty.call(v, k) ? v[k] : '';
      } else {
        throw new TemplateError(`can't index item of type ${typeName(v)}`, p);
      }
    }
    return v;
  },
  slice: (p, a) => {
    const [v, ...ix] = a;
    const nums = ix.map((x) => {
      if (typeof x !== 'number' || !Number.isInteger(x)) throw new TemplateError('slice: indexes must be integers', p);
      return x;
    });
    if (typeof v === 'string')
      return Buffer.from(v, 'utf8')
        .subarray(nums[0] ?? 0, nums[1])
        .toString('utf8');
    if (Array.isArray(v)) return (v as unknown[]).slice(nums[0] ?? 0, nums[1]);
    throw new TemplateError(`can't slice item of type ${typeName(v)}`, p);
  },
  print: (_p, a) => sprint(a),
  println: (_p, a) => a.map((x) => formatValue(x)).join(' ') + '\n',
  printf: (p, a) => {
    if (typeof a[0] !== 'string') throw new TemplateError('printf: the format must be a string', p);
    return sprintf(a[0], a.slice(1), p);
  },
  eq: (p, a) => {
    if (a.length < 2) throw new TemplateError('missing argument for comparison', p);
    return a.slice(1).some((b) => basicEq(a[0], b, p));
  },
  ne: (p, a) => {
    arity('ne', a, 2, p);
    return !basicEq(a[0], a[1], p);
  },
  lt: (p, a) => (arity('lt', a, 2, p), compare(a[0], a[1], p) < 0),
  le: (p, a) => (arity('le', a, 2, p), compare(a[0], a[1], p) <= 0),
  gt: (p, a) => (arity('gt', a, 2, p), compare(a[0], a[1], p) > 0),
  ge: (p, a) => (arity('ge', a, 2, p), compare(a[0], a[1], p) >= 0),
  json: (p, a) => (arity('json', a, 1, p), goJson(a[0])),
  join: (p, a) => {
    arity('join', a, 2, p);
    const [list, sep] = a;
    if (!(Array.isArray(list) || list instanceof GoNil) || typeof sep !== 'string') throw new TemplateError('join: expected a list of strings and a separator', p);
    return (Array.isArray(list) ? list : []).map((x) => formatValue(x)).join(sep);
  },
  upper: (p, a) => (arity('upper', a, 1, p), formatValue(a[0]).toUpperCase()),
  lower: (p, a) => (arity('lower', a, 1, p), formatValue(a[0]).toLowerCase()),
};

/** One run of a parsed template on `root` (the data `.` and `$` start as). */
export class Exec {
  private out = '';
  private readonly vars: Array<[string, unknown]> = [];
  constructor(private readonly root: unknown) {
    this.vars.push(['$', root]);
  }

  run(nodes: Node[]): string {
    this.walk(nodes, this.root);
    return this.out;
  }

  private lookup(name: string, pos: number): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]![0] === name) return this.vars[i]![1];
    throw new TemplateError(`undefined variable: ${name}`, pos);
  }

  private assign(name: string, v: unknown, pos: number): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]![0] === name) {
        this.vars[i]![1] = v;
        return;
      }
    }
    throw new TemplateError(`undefined variable: ${name}`, pos);
  }

  private walk(nodes: Node[], dot: unknown): void {
    const mark = this.vars.length;
    try {
      for (const n of nodes) {
        switch (n.t) {
          case 'text':
            this.out += n.text;
            break;
          case 'action': {
            const v = this.pipeline(n.pipe, dot);
            if (n.pipe.decl.length === 0) this.out += formatValue(v);
            break;
          }
          case 'if':
          case 'with': {
            const inner = this.vars.length;
            const v = this.pipeline(n.pipe, dot);
            if (truthy(v)) this.walk(n.then, n.t === 'with' ? v : dot);
            else if (n.else) this.walk(n.else, dot);
            this.vars.length = inner;
            break;
          }
          case 'range':
            this.range(n, dot);
            break;
          case 'break':
          case 'continue':
            throw new BreakSignal(n.t);
        }
      }
    } finally {
      this.vars.length = mark;
    }
  }

  private range(n: Extract<Node, { t: 'range' }>, dot: unknown): void {
    const decl = n.pipe.decl;
    const v = this.pipeline({ ...n.pipe, decl: [] }, dot);
    let items: Array<[unknown, unknown]>;
    if (Array.isArray(v)) items = v.map((x, i) => [i, x]);
    else if (v instanceof GoNil || v === null || v === NO_VALUE) items = [];
    else if (isMap(v))
      items = Object.keys(v)
        .sort()
        .map((k) => [k, v[k]]);
    else if (typeof v === 'number' && Number.isInteger(v)) items = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    else throw new TemplateError(`range can't iterate over ${formatValue(v)}`, n.pos);
    if (items.length === 0) {
      if (n.else) this.walk(n.else, dot);
      return;
    }
    for (const [k, x] of items) {
      const mark = this.vars.length;
      if (decl.length === 1) this.vars.push([decl[0]!, x]);
      else if (decl.length === 2) this.vars.push([decl[0]!, k], [decl[1]!, x]);
      try {
        this.walk(n.body, x);
      } catch (err) {
        if (!(err instanceof BreakSignal)) throw err;
        if (err.kind === 'break') break;
      } finally {
        this.vars.length = mark;
      }
    }
  }

  private pipeline(p: Pipeline, dot: unknown): unknown {
    let v: unknown = undefined;
    let piped = false;
    for (const c of p.cmds) {
      v = this.command(c, dot, piped ? [v] : []);
      piped = true;
    }
    if (p.decl.length === 1) {
      if (p.op === ':=') this.vars.push([p.decl[0]!, v]);
      else this.assign(p.decl[0]!, v, p.pos);
    }
    return v;
  }

  private command(c: Command, dot: unknown, piped: unknown[]): unknown {
    const [first, ...rest] = c.args;
    if (first!.k === 'func') {
      const args = [...rest.map((a) => this.operand(a, dot)), ...piped];
      return FUNCS[first!.name]!(first!.pos, args);
    }
    if (rest.length > 0 || piped.length > 0) throw new TemplateError(`can't give argument to non-function ${describe(first!)}`, (rest[0] ?? first!).pos);
    return this.operand(first!, dot);
  }

  private operand(o: Operand, dot: unknown): unknown {
    let v: unknown;
    let fields: string[] = [];
    switch (o.k) {
      case 'lit':
        return o.value;
      case 'func':
        return FUNCS[o.name]!(o.pos, []);
      case 'dot':
        v = dot;
        fields = o.fields;
        break;
      case 'var':
        v = this.lookup(o.name, o.pos);
        fields = o.fields;
        break;
      case 'paren':
        v = this.pipeline(o.pipe, dot);
        fields = o.fields;
        break;
    }
    for (const f of fields) v = field(v, f, o.pos);
    return v;
  }
}

function describe(o: Operand): string {
  switch (o.k) {
    case 'dot':
      return o.fields.length ? `.${o.fields.join('.')}` : '.';
    case 'var':
      return o.name + o.fields.map((f) => `.${f}`).join('');
    case 'lit':
      return JSON.stringify(o.value);
    default:
      return o.k;
  }
}
