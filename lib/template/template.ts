/**
 * A small evaluator of Go's text/template language, for `inspect --format` as skopeo users write it.
 * There is no maintained Go-template package on npm, so this is the subset scripts use:
 *
 *   text and {{actions}}, trim markers {{- and -}}, comments {{/* … *\/}}
 *   fields .A.B (on structs and maps), $ and $variables, := and =, parenthesised pipelines, a | b
 *   literals: "strings" (Go escapes), `raw strings`, numbers, true, false, nil
 *   {{if}} {{else if}} {{else}} {{end}}, {{range}} (with $i, $e :=, {{else}}, break, continue), {{with}}
 *   functions: and or not len index printf print println eq ne lt le gt ge slice
 *              json (compact, no HTML escaping, as containers/common's report), join upper lower
 *
 * Values print as Go's fmt %v prints them: slices `[a b]`, maps `map[k:v]` in key order, structs
 * `{a b}`, nil `<nil>`, a missing map key `<no value>`, times `2006-01-02 15:04:05 +0000 UTC`.
 * Go types that matter for printing and truthiness are modelled by GoStruct, GoTime and GoNil.
 *
 * Errors are OcikitError E_USAGE with the line and column of the offending action, on one line.
 */
import { OcikitError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// Go-typed values

/** A Go struct: fields in declaration order. Field access on a missing name is an error (maps give <no value>). */
export class GoStruct {
  constructor(readonly fields: Record<string, unknown>) {}
}

/** A Go time.Time, kept as its RFC 3339 text (JSON) and printed as Go's Time.String(). */
export class GoTime {
  constructor(readonly rfc3339: string) {}
  toString(): string {
    const m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|z|[+-]\d{2}:?\d{2})$/.exec(this.rfc3339);
    if (!m) return this.rfc3339;
    const frac = m[3] ? m[3].replace(/0+$/, '') : '';
    if (m[4] === 'Z' || m[4] === 'z') return `${m[1]} ${m[2]}${frac === '.' ? '' : frac} +0000 UTC`;
    const off = m[4]!.replace(':', '');
    // Go names a parsed fixed offset by the offset itself.
    return `${m[1]} ${m[2]}${frac === '.' ? '' : frac} ${off} ${off}`;
  }
}

/** A typed nil: a nil map prints `map[]`, a nil slice `[]`; both are JSON null and empty. */
export class GoNil {
  constructor(readonly kind: 'map' | 'slice') {}
}

/** The value a missing map key yields. */
const NO_VALUE = Symbol('no value');

// ---------------------------------------------------------------------------------------------
// Lexing and parsing

type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pos: number; pipe: Pipeline }
  | { t: 'if' | 'with'; pos: number; pipe: Pipeline; then: Node[]; else?: Node[] }
  | { t: 'range'; pos: number; pipe: Pipeline; body: Node[]; else?: Node[] }
  | { t: 'break' | 'continue'; pos: number };

interface Pipeline {
  pos: number;
  decl: string[];
  /** ':=' declares, '=' assigns. */
  op?: ':=' | '=';
  cmds: Command[];
}

interface Command {
  pos: number;
  args: Operand[];
}

type Operand =
  | { k: 'dot'; pos: number; fields: string[] }
  | { k: 'var'; pos: number; name: string; fields: string[] }
  | { k: 'lit'; pos: number; value: unknown }
  | { k: 'func'; pos: number; name: string }
  | { k: 'paren'; pos: number; pipe: Pipeline; fields: string[] };

interface Token {
  kind: 'ident' | 'field' | 'var' | 'string' | 'number' | 'lparen' | 'rparen' | 'pipe' | 'declare' | 'assign' | 'comma' | 'dot';
  text: string;
  value?: unknown;
  pos: number;
}

class TemplateError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

const GO_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };

/** Tokens of one action's content, `start` being its offset in the template. */
function lexAction(src: string, start: number): Token[] {
  const out: Token[] = [];
  let i = 0;
  const at = (): number => start + i;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const pos = at();
    if (c === '(') {
      out.push({ kind: 'lparen', text: c, pos });
      i++;
    } else if (c === ')') {
      out.push({ kind: 'rparen', text: c, pos });
      i++;
    } else if (c === '|') {
      out.push({ kind: 'pipe', text: c, pos });
      i++;
    } else if (c === ',') {
      out.push({ kind: 'comma', text: c, pos });
      i++;
    } else if (c === ':' && src[i + 1] === '=') {
      out.push({ kind: 'declare', text: ':=', pos });
      i += 2;
    } else if (c === '=') {
      out.push({ kind: 'assign', text: '=', pos });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      for (;;) {
        if (j >= src.length) throw new TemplateError('unterminated quoted string', pos);
        const d = src[j]!;
        if (d === '"') break;
        if (d === '\\') {
          const e = src[j + 1];
          if (e === 'x' || e === 'u' || e === 'U') {
            const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
            const hex = src.slice(j + 2, j + 2 + n);
            if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) throw new TemplateError('bad escape in quoted string', start + j);
            s += String.fromCodePoint(parseInt(hex, 16));
            j += 2 + n;
            continue;
          }
          if (e === undefined || !(e in GO_ESCAPES)) throw new TemplateError('bad escape in quoted string', start + j);
          s += GO_ESCAPES[e];
          j += 2;
          continue;
        }
        s += d;
        j++;
      }
      out.push({ kind: 'string', text: src.slice(i, j + 1), value: s, pos });
      i = j + 1;
    } else if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw new TemplateError('unterminated raw quoted string', pos);
      out.push({ kind: 'string', text: src.slice(i, j + 1), value: src.slice(i + 1, j), pos });
      i = j + 1;
    } else if (c === '.' && !/[0-9]/.test(src[i + 1] ?? '')) {
      const m = /^\.[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
      if (m) {
        out.push({ kind: 'field', text: m[0], pos });
        i += m[0].length;
      } else {
        out.push({ kind: 'dot', text: '.', pos });
        i++;
      }
    } else if (c === '$') {
      const m = /^\$[A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ kind: 'var', text: m[0], pos });
      i += m[0].length;
    } else if (/[0-9+\-.]/.test(c)) {
      const m = /^[+-]?(0[xX][0-9a-fA-F_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)/.exec(src.slice(i));
      const text = m?.[0] ?? '';
      if (text === '' || text === '+' || text === '-' || text === '.') throw new TemplateError(`unexpected ${JSON.stringify(c)} in operand`, pos);
      const value = Number(text.replace(/_/g, ''));
      if (Number.isNaN(value)) throw new TemplateError(`bad number syntax: ${JSON.stringify(text)}`, pos);
      out.push({ kind: 'number', text, value, pos });
      i += text.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ kind: 'ident', text: m[0], pos });
      i += m[0].length;
    } else {
      throw new TemplateError(`unexpected ${JSON.stringify(c)} in operand`, pos);
    }
  }
  return out;
}

/** One action as found in the text: its content and where the content starts. */
interface RawAction {
  content: string;
  pos: number;
}

type Piece = { text: string } | RawAction;

/** Split the template into text and actions, applying trim markers. */
function split(src: string): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  let trimNext = false;
  while (i <= src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    if (open < 0) {
      if (text !== '') out.push({ text });
      break;
    }
    let cStart = open + 2;
    if (src.startsWith('- ', cStart) || src.startsWith('-\t', cStart) || src.startsWith('-\n', cStart) || src.startsWith('-\r', cStart)) {
      text = text.replace(/[ \t\r\n]+$/, '');
      cStart += 1;
    }
    if (text !== '') out.push({ text });
    let close: number;
    if (src.startsWith('/*', cStart) || src.startsWith('/*', cStart + 1)) {
      const endC = src.indexOf('*/', cStart);
      if (endC < 0) throw new TemplateError('unclosed comment', open);
      close = src.indexOf('}}', endC + 2);
      if (close < 0) throw new TemplateError('comment ends before closing delimiter', open);
      trimNext = / -$/.test(src.slice(close - 2, close));
      i = close + 2;
      continue;
    }
    // The closing delimiter: the first "}}" outside a quoted string.
    close = -1;
    for (let j = cStart; j < src.length; j++) {
      const ch = src[j]!;
      if (ch === '"') {
        for (j++; j < src.length && src[j] !== '"'; j++) if (src[j] === '\\') j++;
      } else if (ch === '`') {
        j = src.indexOf('`', j + 1);
        if (j < 0) break;
      } else if (ch === '}' && src[j + 1] === '}') {
        close = j;
        break;
      }
    }
    if (close < 0) throw new TemplateError('unclosed action', open);
    let cEnd = close;
    trimNext = false;
    if (/[ \t\r\n]-$/.test(src.slice(cStart, close))) {
      cEnd = close - 1;
      trimNext = true;
    }
    out.push({ content: src.slice(cStart, cEnd), pos: cStart });
    i = close + 2;
  }
  return out;
}

class Parser {
  private readonly pieces: Piece[];
  private p = 0;
  constructor(
    src: string,
    private readonly funcs: Set<string>,
  ) {
    this.pieces = split(src);
  }

  parse(): Node[] {
    const { nodes, end } = this.list(new Set());
    if (end) throw new TemplateError(`unexpected {{${end.word}}}`, end.pos);
    return nodes;
  }

  /** Nodes up to one of `stops` ({{end}}, {{else}}); returns what stopped it. */
  private list(stops: Set<string>): { nodes: Node[]; end?: { word: string; pos: number; rest: Token[] } } {
    const nodes: Node[] = [];
    while (this.p < this.pieces.length) {
      const piece = this.pieces[this.p++]!;
      if ('text' in piece) {
        nodes.push({ t: 'text', text: piece.text });
        continue;
      }
      const toks = lexAction(piece.content, piece.pos);
      if (toks.length === 0) throw new TemplateError('missing value for command', piece.pos);
      const head = toks[0]!;
      const word = head.kind === 'ident' ? head.text : '';
      if (word === 'end' || word === 'else') {
        if (!stops.has(word)) throw new TemplateError(`unexpected {{${word}}}`, head.pos);
        if (word === 'end' && toks.length > 1) throw new TemplateError('unexpected token after end', toks[1]!.pos);
        return { nodes, end: { word, pos: head.pos, rest: toks.slice(1) } };
      }
      if (word === 'if' || word === 'with') {
        nodes.push(this.branch(word, head.pos, toks.slice(1)));
      } else if (word === 'range') {
        const pipe = this.pipeline(toks.slice(1), head.pos, true);
        const body = this.list(new Set(['end', 'else']));
        if (!body.end) throw new TemplateError('unexpected EOF: {{range}} has no {{end}}', head.pos);
        let elseNodes: Node[] | undefined;
        if (body.end.word === 'else') {
          const e = this.list(new Set(['end']));
          if (!e.end) throw new TemplateError('unexpected EOF: {{range}} has no {{end}}', head.pos);
          elseNodes = e.nodes;
        }
        nodes.push({ t: 'range', pos: head.pos, pipe, body: body.nodes, ...(elseNodes ? { else: elseNodes } : {}) });
      } else if (word === 'break' || word === 'continue') {
        nodes.push({ t: word, pos: head.pos });
      } else if (word === 'define' || word === 'template' || word === 'block') {
        throw new TemplateError(`{{${word}}} is not supported`, head.pos);
      } else {
        nodes.push({ t: 'action', pos: head.pos, pipe: this.pipeline(toks, head.pos, false) });
      }
    }
    return { nodes };
  }

  /** if / with, with their else-if chains. */
  private branch(word: 'if' | 'with', pos: number, toks: Token[]): Node {
    const pipe = this.pipeline(toks, pos, false);
    const then = this.list(new Set(['end', 'else']));
    if (!then.end) throw new TemplateError(`unexpected EOF: {{${word}}} has no {{end}}`, pos);
    let elseNodes: Node[] | undefined;
    if (then.end.word === 'else') {
      const rest = then.end.rest;
      if (rest.length > 0 && rest[0]!.kind === 'ident' && (rest[0]!.text === 'if' || rest[0]!.text === 'with')) {
        // {{else if X}} is {{else}}{{if X}}…{{end}} sharing the outer {{end}}.
        elseNodes = [this.branch(rest[0]!.text, rest[0]!.pos, rest.slice(1))];
      } else {
        if (rest.length > 0) throw new TemplateError('unexpected token after else', rest[0]!.pos);
        const e = this.list(new Set(['end']));
        if (!e.end) throw new TemplateError(`unexpected EOF: {{${word}}} has no {{end}}`, pos);
        elseNodes = e.nodes;
      }
    }
    return { t: word, pos, pipe, then: then.nodes, ...(elseNodes ? { else: elseNodes } : {}) };
  }

  private pipeline(toks: Token[], pos: number, inRange: boolean): Pipeline {
    const pipe: Pipeline = { pos, decl: [], cmds: [] };
    // Declarations: $x := …, $x = …, and in range $i, $e := …
    let k = 0;
    if (toks[0]?.kind === 'var') {
      if (toks[1]?.kind === 'declare' || toks[1]?.kind === 'assign') {
        pipe.decl.push(toks[0].text);
        pipe.op = toks[1].kind === 'declare' ? ':=' : '=';
        k = 2;
      } else if (inRange && toks[1]?.kind === 'comma' && toks[2]?.kind === 'var' && (toks[3]?.kind === 'declare' || toks[3]?.kind === 'assign')) {
        pipe.decl.push(toks[0].text, toks[2].text);
        pipe.op = toks[3].kind === 'declare' ? ':=' : '=';
        k = 4;
      }
    }
    const rest = toks.slice(k);
    if (rest.length === 0) throw new TemplateError('missing value for command', pos);
    let cmd: Command | undefined;
    for (let i = 0; i < rest.length; i++) {
      const t = rest[i]!;
      if (t.kind === 'pipe') {
        if (!cmd) throw new TemplateError('missing command before |', t.pos);
        pipe.cmds.push(cmd);
        cmd = undefined;
        continue;
      }
      cmd ??= { pos: t.pos, args: [] };
      const [op, next] = this.operand(rest, i);
      cmd.args.push(op);
      i = next - 1;
    }
    if (!cmd) throw new TemplateError('missing command after |', rest[rest.length - 1]!.pos);
    pipe.cmds.push(cmd);
    return pipe;
  }

  /** One operand starting at toks[i]; returns it and the index after it. */
  private operand(toks: Token[], i: number): [Operand, number] {
    const t = toks[i]!;
    const fieldsAfter = (j: number): [string[], number] => {
      const fs: string[] = [];
      while (toks[j]?.kind === 'field' && toks[j]!.pos === toks[j - 1]!.pos + toks[j - 1]!.text.length) {
        fs.push(toks[j]!.text.slice(1));
        j++;
      }
      return [fs, j];
    };
    switch (t.kind) {
      case 'dot':
        return [{ k: 'dot', pos: t.pos, fields: [] }, i + 1];
      case 'field': {
        const [fs, j] = fieldsAfter(i + 1);
        return [{ k: 'dot', pos: t.pos, fields: [t.text.slice(1), ...fs] }, j];
      }
      case 'var': {
        const [fs, j] = fieldsAfter(i + 1);
        return [{ k: 'var', pos: t.pos, name: t.text, fields: fs }, j];
      }
      case 'string':
      case 'number':
        return [{ k: 'lit', pos: t.pos, value: t.value }, i + 1];
      case 'ident':
        if (t.text === 'true' || t.text === 'false') return [{ k: 'lit', pos: t.pos, value: t.text === 'true' }, i + 1];
        if (t.text === 'nil') return [{ k: 'lit', pos: t.pos, value: null }, i + 1];
        if (!this.funcs.has(t.text)) throw new TemplateError(`function ${JSON.stringify(t.text)} not defined`, t.pos);
        return [{ k: 'func', pos: t.pos, name: t.text }, i + 1];
      case 'lparen': {
        let depth = 0;
        let j = i;
        for (; j < toks.length; j++) {
          if (toks[j]!.kind === 'lparen') depth++;
          else if (toks[j]!.kind === 'rparen' && --depth === 0) break;
        }
        if (j >= toks.length) throw new TemplateError('unclosed left paren', t.pos);
        const inner = this.pipeline(toks.slice(i + 1, j), t.pos, false);
        const [fs, after] = fieldsAfter(j + 1);
        return [{ k: 'paren', pos: t.pos, pipe: inner, fields: fs }, after];
      }
      default:
        throw new TemplateError(`unexpected ${JSON.stringify(t.text)} in operand`, t.pos);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Printing (fmt's %v) and JSON

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof GoStruct) && !(v instanceof GoTime) && !(v instanceof GoNil);
}

/** A value as Go's fmt prints it with %v. */
export function formatValue(v: unknown): string {
  if (v === NO_VALUE) return '<no value>';
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof GoTime) return v.toString();
  if (v instanceof GoNil) return v.kind === 'map' ? 'map[]' : '[]';
  if (Array.isArray(v)) return `[${v.map((x) => formatValue(x)).join(' ')}]`;
  if (v instanceof GoStruct)
    return `{${Object.values(v.fields)
      .map((x) => formatValue(x))
      .join(' ')}}`;
  if (isMap(v)) {
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${formatValue(v[k])}`).join(' ')}]`;
  }
  // Left here: bigints and the like. Template data is parsed JSON plus the Go* kinds above, so no other object arrives.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- see above
  return String(v);
}

/** Plain JSON-able data for a template value (GoStruct → object, GoTime → its text, GoNil → null). */
export function toPlain(v: unknown): unknown {
  if (v === NO_VALUE || v === undefined) return null;
  if (v instanceof GoTime) return v.rfc3339;
  if (v instanceof GoNil) return null;
  if (v instanceof GoStruct) return Object.fromEntries(Object.entries(v.fields).map(([k, x]) => [k, toPlain(x)]));
  if (Array.isArray(v)) return v.map(toPlain);
  if (isMap(v))
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, toPlain(v[k])]),
    );
  return v;
}

/** JSON as Go's encoder with SetEscapeHTML(false): compact, map keys sorted. */
function goJson(v: unknown): string {
  return JSON.stringify(toPlain(v));
}

// ---------------------------------------------------------------------------------------------
// Execution

class BreakSignal {
  constructor(readonly kind: 'break' | 'continue') {}
}

function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === NO_VALUE || v === false || v === 0 || v === '') return false;
  if (v instanceof GoNil) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

function typeName(v: unknown): string {
  if (v === null || v === undefined || v === NO_VALUE) return 'nil';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof GoTime) return 'time.Time';
  if (v instanceof GoNil || Array.isArray(v)) return v instanceof GoNil && v.kind === 'map' ? 'map' : 'slice';
  if (v instanceof GoStruct) return 'struct';
  return 'map';
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

/** Go's fmt.Sprintf for the verbs scripts use: %v %s %d %q %t %x %X %f %%, with flags, width and precision. */
export function sprintf(format: string, args: unknown[], pos = 0): string {
  let out = '';
  let n = 0;
  const re = /%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    out += format.slice(last, m.index);
    last = re.lastIndex;
    const [, flags = '', width, prec, verb] = m;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (n >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[n++];
    let s: string;
    switch (verb) {
      case 'v':
      case 's':
        s = verb === 's' && typeof a === 'number' ? `%!s(int=${a})` : formatValue(a);
        if (prec !== undefined && verb === 's') s = s.slice(0, Number(prec));
        break;
      case 'q':
        s = typeof a === 'string' ? JSON.stringify(a) : `%!q(${typeName(a)}=${formatValue(a)})`;
        break;
      case 'd':
        s = typeof a === 'number' && Number.isInteger(a) ? String(a) : `%!d(${typeName(a)}=${formatValue(a)})`;
        if (flags.includes('+') && typeof a === 'number' && a >= 0) s = '+' + s;
        break;
      case 't':
        s = typeof a === 'boolean' ? String(a) : `%!t(${typeName(a)}=${formatValue(a)})`;
        break;
      case 'x':
      case 'X':
        s = typeof a === 'number' ? Math.trunc(a).toString(16) : typeof a === 'string' ? Buffer.from(a, 'utf8').toString('hex') : `%!${verb}(${typeName(a)}=${formatValue(a)})`;
        if (verb === 'X') s = s.toUpperCase();
        break;
      case 'f':
        s = typeof a === 'number' ? a.toFixed(prec === undefined ? 6 : Number(prec)) : `%!f(${typeName(a)}=${formatValue(a)})`;
        break;
      default:
        throw new TemplateError(`printf: verb %${verb} is not supported`, pos);
    }
    if (width !== undefined && s.length < Number(width)) {
      const pad = Number(width) - s.length;
      if (flags.includes('-')) s = s + ' '.repeat(pad);
      else if (flags.includes('0') && /[dxXf]/.test(verb)) s = (s.startsWith('-') ? '-' : '') + '0'.repeat(pad) + s.replace(/^-/, '');
      else s = ' '.repeat(pad) + s;
    }
    out += s;
  }
  out += format.slice(last);
  if (n < args.length)
    out += `%!(EXTRA ${args
      .slice(n)
      .map((a) => `${typeName(a)}=${formatValue(a)}`)
      .join(', ')})`;
  return out;
}

/** Go's fmt.Sprint: spaces between operands when neither is a string. */
function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  });
  return out;
}

type Fn = (pos: number, args: unknown[]) => unknown;

function arity(name: string, args: unknown[], n: number, pos: number): void {
  if (args.length !== n) throw new TemplateError(`wrong number of args for ${name}: want ${n} got ${args.length}`, pos);
}

const FUNCS: Record<string, Fn> = {
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

class Exec {
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

/** "line L, column C" (1-based) of an offset; just "column C" on a one-line template. */
function where(src: string, pos: number): string {
  const before = src.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - (before.lastIndexOf('\n') + 1) + 1;
  return src.includes('\n') ? `line ${line}, column ${col}` : `column ${col}`;
}

/** A parsed template, ready to run on data. */
export interface Template {
  execute(data: unknown): string;
}

/**
 * Parse a Go text/template. Errors are E_USAGE: `${label}: column N: what went wrong`, on one line.
 */
export function parseTemplate(src: string, label = 'template'): Template {
  let nodes: Node[];
  try {
    nodes = new Parser(src, new Set(Object.keys(FUNCS))).parse();
  } catch (err) {
    if (err instanceof TemplateError) throw new OcikitError('E_USAGE', `${label}: ${where(src, err.pos)}: ${err.message}`);
    throw err;
  }
  return {
    execute(data: unknown): string {
      try {
        return new Exec(data).run(nodes);
      } catch (err) {
        if (err instanceof TemplateError) throw new OcikitError('E_USAGE', `${label}: ${where(src, err.pos)}: ${err.message}`);
        if (err instanceof BreakSignal) throw new OcikitError('E_USAGE', `${label}: {{${err.kind}}} outside {{range}}`);
        throw err;
      }
    },
  };
}
