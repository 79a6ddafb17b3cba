/**
 * The paths that name the process's own standard streams. Kept apart from the tar reader and
 * writer so that parsing a reference (docker-archive:/dev/stdin) loads neither.
 */

/** True for a path that names standard input: the archive is read once, as a stream. */
export function isStdinPath(p: string): boolean {
  return p === '/dev/stdin' || p === '/dev/fd/0' || p === '/proc/self/fd/0';
}

/** True for a path that names standard output: the archive is written once, as a stream. */
export function isStdoutPath(p: string): boolean {
  return p === '/dev/stdout' || p === '/dev/fd/1' || p === '/proc/self/fd/1';
}
