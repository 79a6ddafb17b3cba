/**
 * Tar headers read the way Go's archive/tar reads them (and tar-split's fork of it, which
 * containers/storage uses): the zstd:chunked table of contents (zstd-chunked.ts) must say of
 * every entry exactly what a Go reader of the same bytes says, because newer containers/storage
 * compares the two field by field before it trusts a partial pull.
 *
 * Only parsing: the bytes themselves are never changed. Field offsets are the POSIX ustar ones;
 * GNU and star headers keep their access and change times elsewhere, and a ustar (or pax) header
 * has a prefix for long names.
 */
import { JobError } from './errors.js';

export const BLOCK = 512;

/** A time as Go keeps it: seconds since the epoch and nanoseconds. */
export interface TarTime {
  sec: number;
  nsec: number;
}

/** One header block, parsed. Strings are raw bytes (Go strings are bytes). */
export interface RawHeader {
  typeflag: number;
  name: Buffer;
  linkname: Buffer;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: TarTime;
  atime?: TarTime;
  ctime?: TarTime;
  devmajor: number;
  devminor: number;
}

/** The tar types with no data section, whatever their size field says (Go's isHeaderOnlyType). */
export function isHeaderOnly(typeflag: number): boolean {
  // '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo
  return typeflag >= 0x31 && typeflag <= 0x36;
}

/** Bytes to the next block boundary after `n` bytes of data. */
export function blockPadding(n: number): number {
  return (BLOCK - (n % BLOCK)) % BLOCK;
}

/** A field up to its first NUL. */
function str(b: Buffer, start: number, end: number): Buffer {
  const f = b.subarray(start, end);
  const nul = f.indexOf(0);
  return nul === -1 ? f : f.subarray(0, nul);
}

function bad(what: string): never {
  throw new JobError('E_BAD_INPUT', `not a valid tar: ${what}`);
}

/** Go's parseOctal: surrounding spaces and NULs trimmed, then octal up to the first NUL. */
function octal(b: Buffer, what: string): number {
  let s = 0;
  let e = b.length;
  while (s < e && (b[s] === 0x20 || b[s] === 0)) s++;
  while (e > s && (b[e - 1] === 0x20 || b[e - 1] === 0)) e--;
  if (s === e) return 0;
  let t = b.subarray(s, e);
  const nul = t.indexOf(0);
  if (nul !== -1) t = t.subarray(0, nul);
  const text = t.toString('latin1');
  if (!/^[0-7]+$/.test(text)) bad(`${what} is not an octal number`);
  const v = parseInt(text, 8);
  if (!Number.isSafeInteger(v)) bad(`${what} is too large`);
  return v;
}

/** Go's parseNumeric: base-256 when the top bit is set, else octal. */
function numeric(b: Buffer, what: string): number {
  if (b.length > 0 && (b[0]! & 0x80) !== 0) {
    const neg = (b[0]! & 0x40) !== 0;
    let x = 0n;
    for (let i = 0; i < b.length; i++) {
      let c = neg ? b[i]! ^ 0xff : b[i]!;
      if (i === 0) c &= 0x7f;
      if (x >> 56n > 0n) bad(`${what} overflows`);
      x = (x << 8n) | BigInt(c);
    }
    if (x >> 63n > 0n) bad(`${what} overflows`);
    const v = neg ? -x - 1n : x;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) bad(`${what} is too large`);
    return Number(v);
  }
  return octal(b, what);
}

/** True when the block is all zeros (an end-of-archive marker). */
export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

type Format = 'v7' | 'ustar' | 'gnu' | 'star';

/** Go's getFormat: the checksum (unsigned or signed sum) must match, then the magic decides. */
function formatOf(b: Buffer): Format {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  let want: number;
  try {
    want = octal(b.subarray(148, 156), 'checksum');
  } catch {
    bad('a header checksum is not a number');
  }
  if (want !== unsigned && want !== signed) bad('a header checksum does not match');
  const magic = b.toString('latin1', 257, 263);
  const version = b.toString('latin1', 263, 265);
  const trailer = b.toString('latin1', 508, 512);
  if (magic === 'ustar\0' && trailer === 'tar\0') return 'star';
  if (magic === 'ustar\0') return 'ustar';
  if (magic === 'ustar ' && version === ' \0') return 'gnu';
  return 'v7';
}

/** Go's readHeader for one (non-zero) block. */
export function parseHeader(b: Buffer): RawHeader {
  const format = formatOf(b);
  const h: RawHeader = {
    typeflag: b[156]!,
    name: str(b, 0, 100),
    linkname: str(b, 157, 257),
    size: numeric(b.subarray(124, 136), 'size'),
    mode: numeric(b.subarray(100, 108), 'mode'),
    uid: numeric(b.subarray(108, 116), 'uid'),
    gid: numeric(b.subarray(116, 124), 'gid'),
    mtime: { sec: numeric(b.subarray(136, 148), 'mtime'), nsec: 0 },
    devmajor: 0,
    devminor: 0,
  };
  if (format === 'v7') return h;
  h.devmajor = numeric(b.subarray(329, 337), 'devmajor');
  h.devminor = numeric(b.subarray(337, 345), 'devminor');
  let prefix: Buffer = Buffer.alloc(0);
  if (format === 'ustar') {
    prefix = str(b, 345, 500);
  } else if (format === 'star') {
    prefix = str(b, 345, 476);
    h.atime = { sec: numeric(b.subarray(476, 488), 'atime'), nsec: 0 };
    h.ctime = { sec: numeric(b.subarray(488, 500), 'ctime'), nsec: 0 };
  } else {
    // GNU: the times, where set; a header whose times do not parse is read as the old, buggy Go
    // writer's, whose prefix field sat there (as Go's reader does).
    try {
      if (b[345] !== 0) h.atime = { sec: numeric(b.subarray(345, 357), 'atime'), nsec: 0 };
      if (b[357] !== 0) h.ctime = { sec: numeric(b.subarray(357, 369), 'ctime'), nsec: 0 };
    } catch {
      delete h.atime;
      delete h.ctime;
      const p = str(b, 345, 500);
      if (p.every((c) => c < 0x80)) prefix = p;
    }
  }
  if (prefix.length > 0) h.name = Buffer.concat([prefix, Buffer.from('/'), h.name]);
  return h;
}

/** Go's parsePAX: "LEN key=value\n" records. Values stay bytes (xattrs are binary). */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp === -1) bad('a pax record has no length');
    const lenText = data.toString('latin1', pos, sp);
    if (!/^[0-9]+$/.test(lenText)) bad('a pax record length is not a number');
    const len = parseInt(lenText, 10);
    if (len < 5 || pos + len > data.length || len <= lenText.length + 1) bad('a pax record has a bad length');
    const rec = data.subarray(sp + 1, pos + len);
    if (rec[rec.length - 1] !== 0x0a) bad('a pax record does not end with a newline');
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) bad('a pax record has no key');
    const key = rec.toString('utf8', 0, eq);
    if (key.includes('\0')) bad('a pax key holds a NUL');
    // The GNU sparse 0.0 map records come repeatedly; they only matter as "this is sparse".
    out.set(key, rec.subarray(eq + 1, rec.length - 1));
    pos += len;
  }
  return out;
}

/** Go's parsePAXTime: "SECONDS[.FRACTION]". */
export function parsePaxTime(v: Buffer, what: string): TarTime {
  const s = v.toString('latin1');
  const m = /^(-?[0-9]+)(?:\.([0-9]*))?$/.exec(s);
  if (!m) bad(`pax ${what} is not a time`);
  const sec = parseInt(m[1]!, 10);
  if (!Number.isSafeInteger(sec)) bad(`pax ${what} is too large`);
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  const nsec = parseInt(frac, 10);
  // Go: a negative time's fraction counts backwards too (time.Unix(secs, -nsecs)).
  return m[1]!.startsWith('-') && nsec > 0 ? { sec: sec - 1, nsec: 1e9 - nsec } : { sec, nsec };
}

/** Go's mergePAX: the records that override header fields. */
export function mergePax(h: RawHeader, pax: Map<string, Buffer>): void {
  const int = (k: string): number => {
    const t = pax.get(k)!.toString('latin1');
    if (!/^[+-]?[0-9]+$/.test(t)) bad(`pax ${k} is not a number`);
    const v = parseInt(t, 10);
    if (!Number.isSafeInteger(v)) bad(`pax ${k} is too large`);
    return v;
  };
  for (const k of pax.keys()) {
    switch (k) {
      case 'path':
        h.name = pax.get(k)!;
        break;
      case 'linkpath':
        h.linkname = pax.get(k)!;
        break;
      case 'uid':
        h.uid = int(k);
        break;
      case 'gid':
        h.gid = int(k);
        break;
      case 'size':
        h.size = int(k);
        break;
      case 'mtime':
        h.mtime = parsePaxTime(pax.get(k)!, k);
        break;
      case 'atime':
        h.atime = parsePaxTime(pax.get(k)!, k);
        break;
      case 'ctime':
        h.ctime = parsePaxTime(pax.get(k)!, k);
        break;
    }
  }
}

/** Go's path.Clean, for names: tar-split refuses a second entry of a path it cleans to the same. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = (rooted ? '/' : '') + out.join('/');
  return s === '' ? (rooted ? '/' : '.') : s;
}
