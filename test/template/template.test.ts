/**
 * lib/template/template.ts, the whole: parse once, execute on data, and errors as one E_USAGE line
 * with the line and column, as Go reports them. (test/cli/parity.test.ts checks `inspect --format`
 * against skopeo's output.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOcikitError } from '../../lib/errors.js';
import { parseTemplate } from '../../lib/template/index.js';
import { DATA } from './helpers.js';

const t = (src: string): string => parseTemplate(src).execute(DATA);

test('the evaluator: Go printing, variables, range else/break, comparisons, printf verbs', () => {
  assert.equal(t('{{.L}} {{.M}} {{.Nil}} {{.Sub}} {{.T}}'), '[a b c] map[a:1 b:2] map[] {1 two} 2024-05-06 07:08:09.12 +0000 UTC');
  assert.equal(t('{{.M.a}}{{.M.zz}}'), '1<no value>');
  assert.equal(t('{{range .L}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}'), 'a');
  assert.equal(t('{{range .L}}{{if eq . "b"}}{{continue}}{{end}}{{.}}{{end}}'), 'ac');
  assert.equal(t('{{range .Nil}}x{{else}}empty{{end}}'), 'empty');
  assert.equal(t('{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}'), '2');
  assert.equal(t('{{if and (gt .N 2) (lt .N 4) (ne .S "y")}}yes{{end}}'), 'yes');
  assert.equal(t('{{printf "%q %x %05d %.2f %v%%" .S 255 -42 1.5 .L}}'), '"x" ff -0042 1.50 [a b c]%');
  assert.equal(t('{{.N | printf "%d!"}} {{json .M}} {{join .L ","}} {{upper .S}}'), '3! {"a":"1","b":"2"} a,b,c X');
  assert.equal(t('{{/* a comment */ -}} {{"tab\\there"}} {{`raw\\n`}}'), 'tab\there raw\\n');
  assert.equal(t('{{slice .L 1 2}} {{index .L 2}} {{index .M "b"}} {{len .S}}'), '[b] c 2 1');
  assert.throws(() => t('{{.S.X}}'), /column 3: can't evaluate field X in type string/);
  assert.throws(() => parseTemplate('a\n{{end}}'), /line 2, column 3: unexpected \{\{end\}\}/);
  assert.throws(() => t('{{eq .S 1}}'), /incompatible types for comparison/);
});

test('errors: E_USAGE, one line, the label, then the line and column (just the column on a one-line template)', () => {
  const cases: Array<[() => unknown, string]> = [
    [() => parseTemplate('ab{{.X', 'inspect --format'), 'inspect --format: column 3: unclosed action'],
    [() => parseTemplate('a\nb {{nosuch}}'), 'template: line 2, column 5: function "nosuch" not defined'],
    [() => t('x\n\n  {{.Nope}}'), "template: line 3, column 5: can't evaluate field Nope in type struct"],
    [() => t('{{break}}'), 'template: {{break}} outside {{range}}'],
    [() => t('{{if true}}{{continue}}{{end}}'), 'template: {{continue}} outside {{range}}'],
  ];
  for (const [f, message] of cases) {
    assert.throws(f, (err) => isOcikitError(err, 'E_USAGE') && (err as Error).message === message && !message.includes('\n'), message);
  }
});

test('parsed once, executed many times on different data', () => {
  const tpl = parseTemplate('{{.A}}-{{len .B}}');
  assert.equal(tpl.execute({ A: 1, B: [1, 2] }), '1-2');
  assert.equal(tpl.execute({ A: 'x', B: {} }), 'x-0');
});
