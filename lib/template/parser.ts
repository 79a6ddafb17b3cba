/**
 * The parser: pieces and tokens (lexer.ts) into a tree of nodes — text, actions with their
 * pipelines, if/with/range with their else branches, break and continue. Function names are checked
 * here against the executor's table, so an unknown one fails before anything runs.
 */
import { TemplateError } from './error.js';
import { lexAction, splitTemplate, type Piece, type Token } from './lexer.js';

/** A node of the tree: literal text, an action that prints (or declares), a branch, a range, break or continue. */
export type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pos: number; pipe: Pipeline }
  | { t: 'if' | 'with'; pos: number; pipe: Pipeline; then: Node[]; else?: Node[] }
  | { t: 'range'; pos: number; pipe: Pipeline; body: Node[]; else?: Node[] }
  | { t: 'break' | 'continue'; pos: number };

/** `$x := a b | c d`: declared variables and the commands, each fed the previous one's value as its last argument. */
export interface Pipeline {
  pos: number;
  decl: string[];
  /** ':=' declares, '=' assigns. */
  op?: ':=' | '=';
  cmds: Command[];
}

/** One command of a pipeline: a function and its arguments, or a single operand. */
export interface Command {
  pos: number;
  args: Operand[];
}

/** An argument: . or .Field chains, $var chains, a literal, a function name, a parenthesised pipeline. */
export type Operand =
  | { k: 'dot'; pos: number; fields: string[] }
  | { k: 'var'; pos: number; name: string; fields: string[] }
  | { k: 'lit'; pos: number; value: unknown }
  | { k: 'func'; pos: number; name: string }
  | { k: 'paren'; pos: number; pipe: Pipeline; fields: string[] };

/** Parses one template; `funcs` are the function names the executor knows (others are refused here). */
export class Parser {
  private readonly pieces: Piece[];
  private p = 0;
  constructor(
    src: string,
    private readonly funcs: Set<string>,
  ) {
    this.pieces = splitTemplate(src);
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
