/** lib/template/parser.ts: the tree a template parses to, and what it refuses before anything runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Parser, type Node } from '../../lib/template/parser.js';
import { templateError } from './helpers.js';

const FUNCS = new Set(['len', 'printf', 'eq']);
const parse = (src: string): Node[] => new Parser(src, FUNCS).parse();

const failure = (src: string): { message: string; pos: number } => templateError(() => parse(src));

test('text and a printing action: the pipeline of commands and their operands', () => {
  assert.deepEqual(parse('a{{.A.B | printf "%s" $x.Y}}'), [
    { t: 'text', text: 'a' },
    {
      t: 'action',
      pos: 3,
      pipe: {
        pos: 3,
        decl: [],
        cmds: [
          { pos: 3, args: [{ k: 'dot', pos: 3, fields: ['A', 'B'] }] },
          {
            pos: 10,
            args: [
              { k: 'func', pos: 10, name: 'printf' },
              { k: 'lit', pos: 17, value: '%s' },
              { k: 'var', pos: 22, name: '$x', fields: ['Y'] },
            ],
          },
        ],
      },
    },
  ]);
});

test('literals, a parenthesised pipeline with fields after it, and a field chain broken by a space', () => {
  const [n] = parse('{{eq (len .L).X true nil 3 .A .B}}');
  assert.equal(n!.t, 'action');
  const args = (n as Extract<Node, { t: 'action' }>).pipe.cmds[0]!.args;
  assert.deepEqual(
    args.map((a) => a.k),
    ['func', 'paren', 'lit', 'lit', 'lit', 'dot', 'dot'],
  );
  assert.deepEqual((args[1] as { fields: string[] }).fields, ['X']);
  assert.deepEqual(
    args.slice(2, 5).map((a) => (a as { value: unknown }).value),
    [true, null, 3],
  );
});

test('declarations: $x := and $x =, and the two variables of a range', () => {
  const [d, a] = parse('{{$x := 1}}{{$x = 2}}');
  assert.deepEqual([(d as { pipe: { decl: string[]; op?: string } }).pipe.decl, (d as { pipe: { op?: string } }).pipe.op], [['$x'], ':=']);
  assert.deepEqual([(a as { pipe: { decl: string[] } }).pipe.decl, (a as { pipe: { op?: string } }).pipe.op], [['$x'], '=']);
  const [r] = parse('{{range $i, $e := .L}}{{$e}}{{end}}');
  assert.equal(r!.t, 'range');
  assert.deepEqual((r as Extract<Node, { t: 'range' }>).pipe.decl, ['$i', '$e']);
  // Outside range, "$a, $b :=" is not a declaration.
  assert.equal(failure('{{$a, $b := .L}}').message, 'unexpected "," in operand');
});

test('if / else if / else share one {{end}}; range and with take an else; break and continue are nodes', () => {
  const [n] = parse('{{if .A}}a{{else if .B}}b{{else}}c{{end}}');
  const branch = n as Extract<Node, { t: 'if' | 'with' }>;
  assert.equal(branch.t, 'if');
  assert.deepEqual(branch.then, [{ t: 'text', text: 'a' }]);
  const inner = branch.else![0] as Extract<Node, { t: 'if' | 'with' }>;
  assert.equal(inner.t, 'if');
  assert.deepEqual(inner.then, [{ t: 'text', text: 'b' }]);
  assert.deepEqual(inner.else, [{ t: 'text', text: 'c' }]);
  const [r] = parse('{{range .L}}{{break}}{{continue}}{{else}}none{{end}}');
  const range = r as Extract<Node, { t: 'range' }>;
  assert.deepEqual(
    range.body.map((b) => b.t),
    ['break', 'continue'],
  );
  assert.deepEqual(range.else, [{ t: 'text', text: 'none' }]);
  const [w] = parse('{{with .A}}x{{else with .B}}y{{end}}');
  assert.equal(((w as Extract<Node, { t: 'if' | 'with' }>).else![0] as { t: string }).t, 'with');
});

test('refused before anything runs, at the offending offset', () => {
  const cases: Array<[string, string, number]> = [
    ['{{nosuch .A}}', 'function "nosuch" not defined', 2],
    ['a\n{{end}}', 'unexpected {{end}}', 4],
    ['{{else}}', 'unexpected {{else}}', 2],
    ['{{if .A}}x', 'unexpected EOF: {{if}} has no {{end}}', 2],
    ['{{range .L}}x{{else}}', 'unexpected EOF: {{range}} has no {{end}}', 2],
    ['{{if .A}}{{end .B}}', 'unexpected token after end', 15],
    ['{{if .A}}{{else .B}}{{end}}', 'unexpected token after else', 16],
    ['{{}}', 'missing value for command', 2],
    ['{{$x :=}}', 'missing value for command', 2],
    ['{{| len}}', 'missing command before |', 2],
    ['{{len .A |}}', 'missing command after |', 9],
    ['{{(len .A}}', 'unclosed left paren', 2],
    ['{{)}}', 'unexpected ")" in operand', 2],
    ['{{define "x"}}{{end}}', '{{define}} is not supported', 2],
    ['{{template "x"}}', '{{template}} is not supported', 2],
  ];
  for (const [src, message, pos] of cases) assert.deepEqual(failure(src), { message, pos }, src);
});
