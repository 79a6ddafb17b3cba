/**
 * Duplicate keys in configuration files (policy.json, auth.json, registries.d and sync YAML).
 *
 * JSON.parse keeps the last of two equal keys, so a reviewer reading the first value of
 * `"default"` in a policy.json would see another policy than the one enforced; skopeo refuses such
 * files. YAML says keys are unique and the yaml package refuses them, but without naming the key.
 * These helpers find the line and the key, for one-line errors "FILE:LINE: duplicate key "K"".
 */
import type { Document, Scalar, YAMLError, YAMLMap, YAMLSeq } from 'yaml';
import { OcikitError, quoteUntrusted } from './errors.js';
import { yaml } from './lazy.js';

// The yaml package's node tests, through the loader (lib/lazy.ts): nothing is loaded until a file is parsed.
export const isMap = (n: unknown): n is YAMLMap => yaml().isMap(n);
export const isSeq = (n: unknown): n is YAMLSeq => yaml().isSeq(n);
export const isScalar = (n: unknown): n is Scalar => yaml().isScalar(n);

/** Where a key first appears twice in one object. */
export interface DuplicateKey {
  line: number;
  key: string;
}

/**
 * The first key that appears twice in one object of `text`, which MUST already have parsed as JSON
 * (JSON.parse): so the scan below meets only valid tokens and need not validate anything.
 */
export function duplicateJsonKey(text: string): DuplicateKey | undefined {
  // One entry per open bracket: the keys seen in an object, null for an array.
  const stack: Array<Set<string> | null> = [];
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    else if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const token = text.slice(i, j + 1);
      i = j;
      // A string is a key when the next non-blank character is a colon.
      let k = j + 1;
      while (k < text.length && ' \t\r\n'.includes(text[k]!)) k++;
      const keys = stack[stack.length - 1];
      if (text[k] !== ':' || !keys) continue;
      const key = JSON.parse(token) as string;
      if (keys.has(key)) return { line, key };
      keys.add(key);
    }
  }
  return undefined;
}

/** The key a yaml DUPLICATE_KEY error points at, with its line; undefined for any other error. */
export function duplicateYamlKey(doc: Document, err: YAMLError): DuplicateKey | undefined {
  if (err.code !== 'DUPLICATE_KEY') return undefined;
  let key: string | undefined;
  const { visit } = yaml();
  visit(doc, {
    Pair(_, pair) {
      const k = pair.key as { range?: [number, number, number]; value?: unknown } | null;
      if (k?.range?.[0] === err.pos[0]) {
        key = String(k.value);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return key === undefined ? undefined : { line: err.linePos?.[0]?.line ?? 1, key };
}

/** A YAML configuration file, parsed, with what its checks need to name lines. */
export interface YamlConfig {
  doc: Document;
  /** The line a node starts on (1 when it has no position). */
  lineOf: (node: unknown) => number;
  /** Throw E_BAD_INPUT "FILE:LINE: MSG". */
  fail: (line: number, msg: string) => never;
}

/**
 * Parse YAML configuration text (`file` names it in messages). Keys must be unique; the first
 * problem of the text (a duplicate key, with its name, or a syntax error) is thrown as one line.
 */
export function parseYamlConfig(text: string, file: string): YamlConfig {
  const { LineCounter, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  const lineOf = (n: unknown): number => {
    const r = (n as { range?: [number, number, number] } | null | undefined)?.range;
    return r ? lines.linePos(r[0]).line : 1;
  };
  const fail = (line: number, msg: string): never => {
    throw new OcikitError('E_BAD_INPUT', `${file}:${line}: ${msg}`);
  };
  const e = doc.errors[0];
  if (e) {
    const dup = duplicateYamlKey(doc, e);
    if (dup) fail(dup.line, `duplicate key ${quoteUntrusted(dup.key)}`);
    // The library's message may quote a whole block of the file: keep its first line.
    fail(e.linePos?.[0]?.line ?? 1, `not valid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  return { doc, lineOf, fail };
}
