/**
 * Member names of untrusted tar archives. Every name read from an archive header, and every path an
 * archive's own JSON (docker's manifest.json) points at, goes through `memberName` before it is
 * looked up; nothing is ever extracted to disk, so a name can only ever select another member.
 */
import { posix } from 'node:path';
import { OcikitError, quoteUntrusted } from '../../errors.js';
import { algorithmOf, hexOf, isDigest, type Digest } from '../../digest/index.js';

/** Longest member name accepted: PATH_MAX. Longer ones are hostile or broken. */
const MAX_NAME = 4096;

function refuse(where: string, what: string, name: string, why: string): OcikitError {
  return new OcikitError('E_BAD_INPUT', `reading ${where}: ${what} ${quoteUntrusted(name)} ${why}`);
}

/**
 * The canonical form of a member name: "./a//b/" becomes "a/b". Refuses (E_BAD_INPUT) an empty
 * name, an absolute one, one with a ".." component, a NUL or a backslash-free but over-long name,
 * naming `where` (the archive) and `what` ("member", "layer path in manifest.json").
 */
export function memberName(raw: string, where: string, what = 'member'): string {
  if (typeof raw !== 'string' || raw.length === 0) throw refuse(where, what, String(raw), 'is empty');
  if (raw.length > MAX_NAME) throw refuse(where, what, raw, 'is too long');
  if (raw.includes('\0')) throw refuse(where, what, raw, 'contains a NUL byte');
  if (raw.startsWith('/')) throw refuse(where, what, raw, 'is an absolute path');
  if (raw.split('/').includes('..')) throw refuse(where, what, raw, 'escapes the archive with ".."');
  const n = posix.normalize(raw).replace(/\/+$/, '');
  if (n === '' || n === '.') throw refuse(where, what, raw, 'names the archive root');
  return n;
}

/**
 * The member a link points at. A symlink's target is relative to the link's directory, a hard
 * link's to the archive root (tar semantics). Absolute targets and targets that climb out of the
 * archive are refused with E_BAD_INPUT: nothing in an image archive needs them.
 */
export function linkTarget(link: string, target: string, kind: 'symlink' | 'link', where: string): string {
  if (typeof target !== 'string' || target === '') throw refuse(where, kind, link, 'has an empty target');
  if (target.startsWith('/')) throw refuse(where, kind, link, `points at the absolute path ${quoteUntrusted(target)}, outside the archive`);
  const joined = kind === 'symlink' ? posix.join(posix.dirname(link), target) : posix.normalize(target);
  if (joined === '..' || joined.startsWith('../')) {
    throw refuse(where, kind, link, `points at ${quoteUntrusted(target)}, outside the archive`);
  }
  return memberName(joined, where, `target of ${kind}`);
}

/** "blobs/<alg>/<hex>": where an OCI layout (and Docker 25+'s save) keeps a blob. */
export function blobMemberName(d: Digest): string {
  return `blobs/${algorithmOf(d)}/${hexOf(d)}`;
}

/** The digest a member named "blobs/<alg>/<hex>" claims to hold, or undefined for other names. */
export function digestFromBlobName(name: string): Digest | undefined {
  const m = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(name);
  if (!m) return undefined;
  const d = `${m[1]}:${m[2]}`;
  return isDigest(d) ? d : undefined;
}
