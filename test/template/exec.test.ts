/** lib/template/exec.ts and values.ts: a parsed tree run on data, with Go's rules, and Go's printing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TemplateError } from '../../lib/template/error.js';
import { BreakSignal, Exec, FUNCS, truthy } from '../../lib/template/exec.js';
import { Parser } from '../../lib/template/parser.js';
import { GoNil, GoStruct, GoTime, NO_VALUE, formatValue, sprintf, toPlain } from '../../lib/template/values.js';
import { DATA, templateError } from './helpers.js';

const run = (src: string, data: unknown): string => new Exec(data).run(new Parser(src, new Set(Object.keys(FUNCS))).parse());

const failure = (src: string, data: unknown): { message: string; pos: number } => templateError(() => run(src, data));

test('truth as Go has it: zero values, nil, a missing key and empty collections are false', () => {
  for (const v of [false, 0, '', null, undefined, NO_VALUE, [], {}, new GoNil('map'), new GoNil('slice')]) assert.equal(truthy(v), false, formatValue(v));
  for (const v of [true, 1, -1, 'x', ['a'], { a: 1 }, new GoStruct({}), new GoTime('2024-01-01T00:00:00Z')]) assert.equal(truthy(v), true, formatValue(v));
});

test('fields: a missing map key is <no value>, a missing struct field an error, a field of nil a nil pointer', () => {
  assert.equal(run('{{.M.a}}|{{.M.zz}}|{{.Nil.k}}|{{.Sub.B}}', DATA), '1|<no value>|<no value>|two');
  assert.deepEqual(failure('{{.Nope}}', DATA), { message: "can't evaluate field Nope in type struct", pos: 2 });
  assert.deepEqual(failure('{{.S.X}}', DATA), { message: "can't evaluate field X in type string", pos: 2 });
  assert.deepEqual(failure('{{.M.zz.y}}', DATA), { message: 'nil pointer evaluating nil.y', pos: 2 });
});

test('variables: $ is the data, := declares in the current scope, = assigns an outer one, scopes end with their block', () => {
  assert.equal(run('{{$x := 1}}{{if true}}{{$x = 2}}{{$y := 3}}{{end}}{{$x}} {{$.S}}', DATA), '2 x');
  assert.deepEqual(failure('{{if true}}{{$y := 3}}{{end}}{{$y}}', DATA), { message: 'undefined variable: $y', pos: 31 });
  assert.deepEqual(failure('{{$z = 1}}', DATA), { message: 'undefined variable: $z', pos: 2 });
});

test('range: slices, maps in key order, integers, else for nothing; break and continue', () => {
  assert.equal(run('{{range $i, $e := .L}}{{$i}}={{$e}} {{end}}', DATA), '0=a 1=b 2=c ');
  assert.equal(run('{{range $k, $v := .M}}{{$k}}{{$v}}{{end}}', DATA), 'a1b2');
  assert.equal(run('{{range .N}}{{.}}{{end}}', DATA), '012');
  assert.equal(run('{{range .Nil}}x{{else}}empty{{end}}{{range .Empty}}x{{else}}none{{end}}', DATA), 'emptynone');
  assert.equal(run('{{range .L}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}', DATA), 'a');
  assert.equal(run('{{range .L}}{{if eq . "b"}}{{continue}}{{end}}{{.}}{{end}}', DATA), 'ac');
  assert.deepEqual(failure('{{range .S}}{{end}}', DATA), { message: "range can't iterate over x", pos: 2 });
  // Outside a range the signal reaches the caller, which reports it (template.ts).
  assert.throws(
    () => run('{{break}}', DATA),
    (err) => err instanceof BreakSignal && err.kind === 'break',
  );
});

test('with sets the dot; pipelines pass the value on as the last argument', () => {
  assert.equal(run('{{with .Sub}}{{.B}}{{end}}{{with .Nil}}x{{else}}no{{end}}', DATA), 'twono');
  assert.equal(run('{{.N | printf "%d!"}} {{"a" | printf "%s-%s" "b"}}', DATA), '3! b-a');
  assert.deepEqual(failure('{{.S 1}}', DATA), { message: "can't give argument to non-function .S", pos: 5 });
});

test('the functions: logic, comparison, len, index, slice, printing, json, join, upper, lower', () => {
  assert.equal(run('{{and 1 0 2}} {{or 0 "" "y"}} {{not .L}} {{and (gt .N 2) (lt .N 4) (ne .S "y")}}', DATA), '0 y false true');
  assert.equal(run('{{eq .S "a" "x"}} {{le 2 2}} {{ge "a" "b"}} {{eq nil .M.zz}}', DATA), 'true true false true');
  assert.equal(run('{{len .L}} {{len .M}} {{len "é"}} {{len .Nil}}', DATA), '3 2 2 0');
  assert.equal(run('{{index .L 2}} {{index .M "b"}} {{index .M "zz"}}| {{index .Nil "k"}}|', DATA), 'c 2 | |');
  assert.equal(run('{{slice .L 1 2}} {{slice .S 0 1}} {{slice .L 1}}', DATA), '[b] x [b c]');
  assert.equal(run('{{print 1 2 "a" 3}}|{{println .S .N}}|', DATA), '1 2a3|x 3\n|');
  assert.equal(run('{{json .M}} {{json .Sub}} {{json .Nil}} {{join .L ","}} {{upper .S}} {{lower "AB"}}', DATA), '{"a":"1","b":"2"} {"A":1,"B":"two"} null a,b,c X ab');
  const errors: Array<[string, string]> = [
    ['{{index .L 9}}', 'error calling index: index out of range: 9'],
    ['{{index .M 1}}', 'value has type int; should be string'],
    ['{{index .N 1}}', "can't index item of type int"],
    ['{{len .N}}', 'len of type int'],
    ['{{lt .S 1}}', 'incompatible types for comparison: string and int'],
    ['{{not 1 2}}', 'wrong number of args for not: want 1 got 2'],
    ['{{printf 1}}', 'printf: the format must be a string'],
    ['{{join .S ","}}', 'join: expected a list of strings and a separator'],
  ];
  for (const [src, message] of errors) assert.equal(failure(src, DATA).message, message, src);
});

test('printing: Go %v for every kind, Sprintf verbs with flags and width, plain JSON data', () => {
  assert.equal(run('{{.L}} {{.M}} {{.Nil}} {{.Empty}} {{.Sub}} {{.T}} {{.M.zz}} {{nil}}', DATA), '[a b c] map[a:1 b:2] map[] [] {1 two} 2024-05-06 07:08:09.12 +0000 UTC <no value> <nil>');
  assert.equal(formatValue(new GoTime('2024-05-06T07:08:09+02:00')), '2024-05-06 07:08:09 +0200 +0200');
  assert.equal(sprintf('%q %x %X %05d %+d %.2f %v%% %-3s| %t %5.1f', ['x', 255, 'hi', -42, 7, 1.5, ['a'], 'a', true, 2.14]), '"x" ff 6869 -0042 +7 1.50 [a]% a  | true   2.1');
  assert.equal(sprintf('%d %s', ['x']), '%!d(string=x) %!s(MISSING)');
  assert.equal(sprintf('%s', ['a', 1]), 'a%!(EXTRA int=1)');
  assert.throws(
    () => sprintf('%y', [1]),
    (err) => err instanceof TemplateError && err.message === 'printf: verb %y is not supported',
  );
  assert.deepEqual(toPlain(DATA), { S: 'x', N: 3, L: ['a', 'b', 'c'], M: { a: '1', b: '2' }, Nil: null, Empty: null, T: '2024-05-06T07:08:09.120Z', Sub: { A: 1, B: 'two' } });
});
