/** Go text/template, the subset `inspect --format` needs: see template.ts. */
export { parseTemplate, formatValue, sprintf, toPlain, GoNil, GoStruct, GoTime, type Template } from './template.js';
