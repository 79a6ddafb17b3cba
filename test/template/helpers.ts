/** Shared by the template tests: data with every kind of value, and the TemplateError a call throws. */
import assert from 'node:assert/strict';
import { TemplateError } from '../../lib/template/error.js';
import { GoNil, GoStruct, GoTime } from '../../lib/template/values.js';

/** A struct holding each kind a template meets: string, int, slice, map, nil map and slice, time, struct. */
export const DATA = new GoStruct({
  S: 'x',
  N: 3,
  L: ['a', 'b', 'c'],
  M: { b: '2', a: '1' },
  Nil: new GoNil('map'),
  Empty: new GoNil('slice'),
  T: new GoTime('2024-05-06T07:08:09.120Z'),
  Sub: new GoStruct({ A: 1, B: 'two' }),
});

/** The TemplateError `f` throws: its message and the offset it names. Fails when `f` throws nothing or something else. */
export function templateError(f: () => unknown): { message: string; pos: number } {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof TemplateError, String(err));
    return { message: err.message, pos: err.pos };
  }
  assert.fail('no error');
}
