/** Errors of the template language: a message and the offset in the template it is about. */

/** A template error at `pos` (an offset in the template text); parseTemplate reports it as E_USAGE with line and column. */
export class TemplateError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

/** "line L, column C" (1-based) of an offset; just "column C" on a one-line template. */
export function where(src: string, pos: number): string {
  const before = src.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - (before.lastIndexOf('\n') + 1) + 1;
  return src.includes('\n') ? `line ${line}, column ${col}` : `column ${col}`;
}
