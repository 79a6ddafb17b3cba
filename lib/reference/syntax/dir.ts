/** `dir:PATH`: a directory in skopeo's dir: format. */
import { usage, type TransportSyntax } from './common.js';

/** `dir:PATH`. The path is kept as typed (relative, "~" and all); see absolutePath. */
export interface DirReference {
  path: string;
}

/** Parse the part after "dir:". Any non-empty string is a path (colons included). Throws E_USAGE when empty. */
export function parseDirReference(rest: string): DirReference {
  if (rest === '') throw usage(`dir:${rest}`, 'the path is empty');
  return { path: rest };
}

/** Inverse of parseDirReference. */
export function formatDirReference(r: DirReference): string {
  if (r.path === '') throw usage('dir:', 'the path is empty');
  return r.path;
}

export const dirSyntax: TransportSyntax<DirReference> = { parse: parseDirReference, format: formatDirReference };
