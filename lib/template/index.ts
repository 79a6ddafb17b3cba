/** Go text/template, the subset `inspect --format` needs: see template.ts. */
export { parseTemplate, type Template } from './template.js';
export { formatValue, sprintf, toPlain, GoNil, GoStruct, GoTime } from './values.js';
