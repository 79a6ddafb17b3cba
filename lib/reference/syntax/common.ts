/**
 * What every transport's syntax shares: the shape of a syntax (a parser and its inverse), the
 * E_USAGE error that quotes the whole image name, and the two sub-grammars several transports use
 * (a docker reference inside a name, a `@N` source index).
 */
import { OcikitError } from '../../errors.js';
import { parseDockerReference, quote, type DockerReference } from '../docker.js';

/**
 * One transport's image-name syntax. `parse(rest)` takes the part after "TRANSPORT:" and returns
 * plain data; `format(value)` is its inverse and gives the canonical within-transport string, so
 * that `parse(format(parse(s)))` deep-equals `parse(s)`. Both throw E_USAGE quoting the image name.
 */
export interface TransportSyntax<R> {
  parse(rest: string): R;
  format(value: R): string;
}

/** A syntax error in an image name: E_USAGE (the user typed it), quoting the whole name. */
export function usage(image: string, why: string, options: { cause?: unknown; hint?: string } = {}): OcikitError {
  return new OcikitError('E_USAGE', `invalid image name ${quote(image)}: ${why}`, options);
}

/** Parse a docker reference inside an image name, turning its E_BAD_INPUT into this name's E_USAGE. */
export function dockerRefIn(image: string, s: string, hint?: string): DockerReference {
  try {
    return parseDockerReference(s);
  } catch (err) {
    throw usage(image, (err as Error).message, hint === undefined ? { cause: err } : { cause: err, hint });
  }
}

/** "@N" → N; throws E_USAGE unless N is a non-negative decimal integer. */
export function parseSourceIndex(image: string, s: string): number {
  const digits = s.slice(1);
  if (/^-[0-9]+$/.test(digits)) throw usage(image, `source index ${s} must not be negative`);
  const n = Number(digits);
  if (!/^[0-9]+$/.test(digits) || !Number.isSafeInteger(n)) {
    throw usage(image, `source index ${quote(s)} is not a non-negative integer`);
  }
  return n;
}
