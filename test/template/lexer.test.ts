/** lib/template/lexer.ts: text and actions, trim markers and comments; an action's tokens, with their offsets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lexAction, splitTemplate, type Token } from '../../lib/template/lexer.js';
import { templateError as failure } from './helpers.js';

/** [kind, text, value?] of each token, for comparing with literals. */
const toks = (src: string, start = 0): Array<[Token['kind'], string, unknown?]> => lexAction(src, start).map((t) => (t.value === undefined ? [t.kind, t.text] : [t.kind, t.text, t.value]));

test('splitTemplate: literal text and actions in order, each action with the offset of its content', () => {
  assert.deepEqual(splitTemplate(''), []);
  assert.deepEqual(splitTemplate('plain'), [{ text: 'plain' }]);
  assert.deepEqual(splitTemplate('a{{.X}}b{{ .Y }}'), [{ text: 'a' }, { content: '.X', pos: 3 }, { text: 'b' }, { content: ' .Y ', pos: 10 }]);
  // "}}" inside a quoted or raw string does not close the action.
  assert.deepEqual(splitTemplate('{{"}}"}}{{`}}`}}'), [
    { content: '"}}"', pos: 2 },
    { content: '`}}`', pos: 10 },
  ]);
});

test('splitTemplate: {{- trims the text before, -}} the text after; a dash without a space is not a marker', () => {
  // The markers trim the text around the action; its content keeps its spaces.
  assert.deepEqual(splitTemplate('a  \n {{- .X -}} \t b'), [{ text: 'a' }, { content: ' .X ', pos: 8 }, { text: 'b' }]);
  assert.deepEqual(splitTemplate('a {{-3}} b'), [{ text: 'a ' }, { content: '-3', pos: 4 }, { text: ' b' }]);
  // Whitespace-only text between two trimmed actions disappears.
  assert.deepEqual(splitTemplate('{{.A -}}  \n  {{- .B}}'), [
    { content: '.A ', pos: 2 },
    { content: ' .B', pos: 16 },
  ]);
});

test('splitTemplate: comments are dropped, trim markers around them still apply', () => {
  assert.deepEqual(splitTemplate('a{{/* note */}}b'), [{ text: 'a' }, { text: 'b' }]);
  assert.deepEqual(splitTemplate('a {{- /* note */ -}} b'), [{ text: 'a' }, { text: 'b' }]);
});

test('splitTemplate: an unclosed action or comment fails at the opening delimiter', () => {
  assert.deepEqual(
    failure(() => splitTemplate('ab{{.X')),
    { message: 'unclosed action', pos: 2 },
  );
  assert.deepEqual(
    failure(() => splitTemplate('{{"}}')),
    { message: 'unclosed action', pos: 0 },
  );
  assert.deepEqual(
    failure(() => splitTemplate('x{{/* no end')),
    { message: 'unclosed comment', pos: 1 },
  );
  assert.deepEqual(
    failure(() => splitTemplate('{{/* c */ x')),
    { message: 'comment ends before closing delimiter', pos: 0 },
  );
});

test('lexAction: every kind of token, whitespace skipped, offsets counted from the start given', () => {
  assert.deepEqual(toks('$x := index .Labels "k" | printf "%s" ( . ) , $y = .'), [
    ['var', '$x'],
    ['declare', ':='],
    ['ident', 'index'],
    ['field', '.Labels'],
    ['string', '"k"', 'k'],
    ['pipe', '|'],
    ['ident', 'printf'],
    ['string', '"%s"', '%s'],
    ['lparen', '('],
    ['dot', '.'],
    ['rparen', ')'],
    ['comma', ','],
    ['var', '$y'],
    ['assign', '='],
    ['dot', '.'],
  ]);
  assert.deepEqual(
    lexAction(' .A.B $', 10).map((t) => [t.text, t.pos]),
    [
      ['.A', 11],
      ['.B', 13],
      ['$', 16],
    ],
  );
});

test('lexAction: strings with Go escapes, raw strings as written, numbers as Go reads them', () => {
  assert.deepEqual(toks(String.raw`"a\tb\n\x41\u00e9\U0001F600\"\\"`), [['string', String.raw`"a\tb\n\x41\u00e9\U0001F600\"\\"`, 'a\tb\nAé😀"\\']]);
  assert.deepEqual(toks('`raw\\n`'), [['string', '`raw\\n`', 'raw\\n']]);
  assert.deepEqual(
    toks('42 -7 +3 1.5 .5 1e3 0x1F 1_000').map((t) => t[2]),
    [42, -7, 3, 1.5, 0.5, 1000, 31, 1000],
  );
});

test('lexAction: malformed tokens fail at their own offset', () => {
  const cases: Array<[string, number, string, number]> = [
    ['"open', 5, 'unterminated quoted string', 5],
    ['`open', 0, 'unterminated raw quoted string', 0],
    ['x "\\q"', 0, 'bad escape in quoted string', 3],
    ['"\\x4"', 0, 'bad escape in quoted string', 1],
    ['. ; .', 0, 'unexpected ";" in operand', 2],
    ['-', 0, 'unexpected "-" in operand', 0],
  ];
  for (const [src, start, message, pos] of cases)
    assert.deepEqual(
      failure(() => lexAction(src, start)),
      { message, pos },
      src,
    );
});
