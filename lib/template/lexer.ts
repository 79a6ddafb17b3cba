/**
 * The lexer: a template's text split into literal text and {{actions}} (trim markers applied,
 * comments dropped), and an action's content split into tokens. Positions are offsets in the whole
 * template, for error messages.
 */
import { TemplateError } from './error.js';

/** One token of an action: its kind, its text as written, its value (strings and numbers), its offset in the template. */
export interface Token {
  kind: 'ident' | 'field' | 'var' | 'string' | 'number' | 'lparen' | 'rparen' | 'pipe' | 'declare' | 'assign' | 'comma' | 'dot';
  text: string;
  value?: unknown;
  pos: number;
}

const GO_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };

/** Tokens of one action's content, `start` being its offset in the template. */
export function lexAction(src: string, start: number): Token[] {
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
export interface RawAction {
  content: string;
  pos: number;
}

/** The template, in order: literal text and the actions between it. */
export type Piece = { text: string } | RawAction;

/** Split the template into text and actions, applying trim markers. */
export function splitTemplate(src: string): Piece[] {
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
