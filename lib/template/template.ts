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
import { TemplateError, where } from './error.js';
import { BreakSignal, Exec, FUNCS } from './exec.js';
import { Parser, type Node } from './parser.js';

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
