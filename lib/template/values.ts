/**
 * Go-typed values and how Go prints them: the kinds a template's data is made of (GoStruct, GoTime,
 * GoNil, next to plain JSON data), fmt's %v (formatValue), Sprint and Sprintf, and JSON as Go's
 * encoder writes it. Printing is the one job the executor and the functions share.
 */
import { TemplateError } from './error.js';

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
export const NO_VALUE = Symbol('no value');

/** A plain object (a JSON map), not one of the Go kinds. */
export function isMap(v: unknown): v is Record<string, unknown> {
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
export function goJson(v: unknown): string {
  return JSON.stringify(toPlain(v));
}

/** The Go type name of a value, as Go's error messages and %!verb(type=value) show it. */
export function typeName(v: unknown): string {
  if (v === null || v === undefined || v === NO_VALUE) return 'nil';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof GoTime) return 'time.Time';
  if (v instanceof GoNil || Array.isArray(v)) return v instanceof GoNil && v.kind === 'map' ? 'map' : 'slice';
  if (v instanceof GoStruct) return 'struct';
  return 'map';
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
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  });
  return out;
}
