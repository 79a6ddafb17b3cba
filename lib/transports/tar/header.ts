/**
 * Tar member headers (POSIX ustar, with a PAX extended header for names that do not fit), for the
 * archive writer's file mode, which places members at offsets it chooses and so needs a header's
 * bytes on their own. tar-stream's encoder is not part of its public API (its package exports
 * only the streams); the format is small and fixed, and every archive written is read back in the
 * tests by tar-stream's extractor, GNU tar, docker load, podman load and skopeo.
 */
import { OcikitError } from '../../errors.js';

export const BLOCK = 512;

/** A member header: what the archive writers need (regular files, directories, symlinks). */
export interface MemberHeader {
  name: string;
  type: 'file' | 'directory' | 'symlink';
  /** Data size (files only). */
  size: number;
  mode: number;
  linkname?: string;
}

const TYPEFLAG = { file: '0', directory: '5', symlink: '2' } as const;

/** Bytes of padding after `size` bytes of data, to the next 512-byte boundary. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/**
 * The header block(s) for a member: one 512-byte ustar block, preceded by a PAX extended header
 * (type 'x') when the name or link name does not fit ustar's fields. Times and owners are fixed
 * (mtime 0, uid/gid 0, no names), so the same content gives the same archive bytes, as docker
 * save and skopeo do.
 */
export function encodeHeader(h: MemberHeader): Buffer {
  const name = h.type === 'directory' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  const split = splitName(name);
  const link = h.linkname ?? '';
  const pax: Record<string, string> = {};
  if (!split) pax.path = name;
  if (Buffer.byteLength(link) > 100) pax.linkpath = link;
  const main = ustar({ ...h, name: split?.name ?? name.slice(0, 99), prefix: split?.prefix ?? '', linkname: pax.linkpath ? link.slice(0, 99) : link });
  if (Object.keys(pax).length === 0) return main;
  const body = paxBody(pax);
  const paxHeader = ustar({ name: 'PaxHeader', prefix: '', type: 'pax', size: body.length, mode: 0o644, linkname: '' });
  return Buffer.concat([paxHeader, body, Buffer.alloc(padding(body.length)), main]);
}

/** ustar's name fields: `prefix/name` with name <= 100 and prefix <= 155 bytes; undefined when it cannot be split so. */
function splitName(name: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { name, prefix: '' };
  for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest.length > 0) return { name: rest, prefix };
  }
  return undefined;
}

function paxBody(fields: Record<string, string>): Buffer {
  const parts = Object.entries(fields).map(([k, v]) => {
    // "<len> <key>=<value>\n", where <len> counts itself.
    const rest = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest);
    return `${len}${rest}`;
  });
  return Buffer.from(parts.join(''));
}

function ustar(h: { name: string; prefix: string; type: MemberHeader['type'] | 'pax'; size: number; mode: number; linkname: string }): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, 'utf8');
  octal(b, 100, 8, h.mode & 0o7777);
  octal(b, 108, 8, 0); // uid
  octal(b, 116, 8, 0); // gid
  size(b, 124, h.type === 'file' || h.type === 'pax' ? h.size : 0);
  octal(b, 136, 12, 0); // mtime
  b.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  b.write(h.type === 'pax' ? 'x' : TYPEFLAG[h.type], 156, 1, 'latin1');
  b.write(h.linkname, 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 8, 'latin1');
  b.write(h.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 8, 'latin1');
  return b;
}

function octal(b: Buffer, off: number, len: number, n: number): void {
  b.write(n.toString(8).padStart(len - 1, '0') + '\u0000', off, len, 'latin1');
}

/** The size field: octal up to 8 GiB - 1, GNU base-256 beyond (what tar-stream and GNU tar read). */
function size(b: Buffer, off: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new OcikitError('E_INTERNAL', `tar member size ${n} is not a whole number of bytes`);
  if (n < 8 ** 11) {
    octal(b, off, 12, n);
    return;
  }
  b[off] = 0x80;
  let v = n;
  for (let i = off + 11; i > off; i--) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
}
