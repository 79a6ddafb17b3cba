/**
 * zstd:chunked: a layer that any zstd reader decompresses to the same tar, and that
 * containers-storage can also pull in parts (only the files it lacks), because
 * - every file's data starts a new zstd frame, cut into chunks at content-defined points (a
 *   rolling checksum, as rsync and bup cut), with runs of 1 KiB or more of zeros as chunks of
 *   their own; the tar headers between files go into frames of their own;
 * - after the last data frame come three zstd skippable frames (which decompressors skip): the
 *   table of contents (TOC: JSON, zstd-compressed), the tar-split data (JSON lines describing
 *   the tar's headers and padding byte for byte, zstd-compressed), and a 64-byte footer saying
 *   where both are;
 * - the layer's descriptor carries three annotations: the TOC's digest (of its compressed bytes),
 *   its position, and the tar-split's position (lib/manifest/layer-annotations.ts).
 *
 * The format is containers/storage's (pkg/chunked): the TOC's entries say of each file what Go's
 * archive/tar says of its header (tar-header.ts), the TOC names the tar-split's digest, and the
 * chunk boundaries follow the same rules (a 16-bit rolling-sum split, 1 KiB zero runs), so chunks
 * of the same file made by either tool have the same digests. The zstd bytes differ from skopeo's
 * (another compressor), and so do the layer's digest and the TOC digest.
 *
 * DETERMINISTIC: frames are cut by content only, each one compressed single-threaded at the given
 * level; the same tar gives the same bytes on every machine, however its input arrives.
 *
 * Refused, as containers/storage's writer refuses them: pax global headers, sparse files, entry
 * types other than regular files, links, devices, directories and fifos, and a path listed twice.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
  ZSTD_CHUNKED_LEGACY_TOC_DIGEST,
  ZSTD_CHUNKED_LEGACY_TOC_POSITION,
  ZSTD_CHUNKED_TARSPLIT_POSITION,
  ZSTD_CHUNKED_TOC_DIGEST,
  ZSTD_CHUNKED_TOC_POSITION,
} from '../lib/manifest/layer-annotations.js';
import { JobError } from './errors.js';
import { BLOCK, blockPadding, cleanPath, isHeaderOnly, isZeroBlock, mergePax, parseHeader, parsePax, type RawHeader, type TarTime } from './tar-header.js';

type Binding = typeof import('zstd-napi/binding.js');

/** The footer's last 8 bytes. */
export const FOOTER_MAGIC = Buffer.from([0x47, 0x4e, 0x55, 0x6c, 0x49, 0x6e, 0x55, 0x78]);
/** The footer's size (a skippable frame of its own). */
export const FOOTER_SIZE = 64;
const SKIPPABLE_MAGIC = Buffer.from([0x50, 0x2a, 0x4d, 0x18]);
/** containers/storage's manifest type for this TOC (CRFS-compatible). */
const TOC_TYPE = 1;
/** Chunk boundaries: where the low 16 bits of the rolling sum are all ones. */
const SPLIT_MASK = 0xffff;
/** A run of this many zeros or more is a chunk of its own ("zeros"). */
const HOLE_MIN = 1024;
/** Go's limit for a pax or GNU long-name record. */
const MAX_SPECIAL = 1 << 20;
const ZEROS = Buffer.alloc(64 * 1024);

let binding: Binding | undefined;

/**
 * A zstd frame writer on one context: bytes in, whole frames out through `emit`. Most frames are
 * small (a tar header, a chunk of some 64 KiB): they are gathered and compressed in one call with
 * their size known, which lets zstd size its tables to them (a fresh frame with an unknown size
 * costs a full table reset). One that grows past SMALL_FRAME is streamed instead. Both ways the
 * frame's bytes depend only on its content.
 */
const SMALL_FRAME = 1 << 20;
class Frames {
  readonly #cctx: InstanceType<Binding['CCtx']>;
  readonly #b: Binding;
  readonly #out: Buffer;
  #gathered: Buffer[] = [];
  #streaming = false;
  /** Bytes taken into the frame being written. */
  pending = 0;

  constructor(
    b: Binding,
    level: number,
    readonly emit: (b: Buffer) => void,
  ) {
    this.#b = b;
    this.#cctx = new b.CCtx();
    this.#cctx.setParameter(b.CParameter.compressionLevel, level);
    this.#out = Buffer.allocUnsafe(b.cStreamOutSize());
  }

  write(data: Buffer): void {
    if (data.length === 0) return;
    this.pending += data.length;
    if (!this.#streaming && this.pending <= SMALL_FRAME) {
      this.#gathered.push(Buffer.from(data));
      return;
    }
    if (!this.#streaming) {
      this.#streaming = true;
      const before = Buffer.concat(this.#gathered);
      this.#gathered = [];
      this.#run(before, this.#b.EndDirective.continue);
    }
    this.#run(data, this.#b.EndDirective.continue);
  }

  /** End the frame being written (none is written when it has no bytes). */
  end(): void {
    if (this.pending === 0) return;
    this.pending = 0;
    if (this.#streaming) {
      this.#streaming = false;
      this.#run(Buffer.alloc(0), this.#b.EndDirective.end);
      return;
    }
    const src = this.#gathered.length === 1 ? this.#gathered[0]! : Buffer.concat(this.#gathered);
    this.#gathered = [];
    const dst = Buffer.allocUnsafe(this.#b.compressBound(src.length));
    this.emit(dst.subarray(0, this.#cctx.compress2(dst, src)));
  }

  #run(data: Buffer, op: number): void {
    let chunk = data;
    for (;;) {
      const [left, produced, consumed] = this.#cctx.compressStream2(this.#out, chunk, op);
      if (produced > 0) this.emit(Buffer.from(this.#out.subarray(0, produced)));
      chunk = chunk.subarray(consumed);
      if (chunk.length === 0 && (op === this.#b.EndDirective.continue || left === 0)) return;
    }
  }
}

/**
 * CRC-64/ISO as Go's hash/crc64 computes it (tar-split's per-file checksum; not for security),
 * eight bytes at a time (slicing-by-8), each 64-bit value as two 32-bit halves.
 */
class Crc64 {
  static #hi: Uint32Array | undefined;
  static #lo: Uint32Array | undefined;
  #h = 0xffffffff;
  #l = 0xffffffff;

  constructor() {
    if (!Crc64.#hi) {
      const hi = new Uint32Array(8 * 256);
      const lo = new Uint32Array(8 * 256);
      const poly = 0xd800000000000000n;
      const t = new Array<bigint>(256);
      for (let i = 0; i < 256; i++) {
        let c = BigInt(i);
        for (let j = 0; j < 8; j++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
        t[i] = c;
      }
      for (let i = 0; i < 256; i++) {
        let c = t[i]!;
        for (let k = 0; k < 8; k++) {
          hi[k * 256 + i] = Number(c >> 32n);
          lo[k * 256 + i] = Number(c & 0xffffffffn);
          c = (c >> 8n) ^ t[Number(c & 0xffn)]!;
        }
      }
      Crc64.#hi = hi;
      Crc64.#lo = lo;
    }
  }

  update(b: Buffer, start = 0, end = b.length): void {
    const th = Crc64.#hi!;
    const tl = Crc64.#lo!;
    let h = this.#h;
    let l = this.#l;
    let i = start;
    for (; i + 8 <= end; i += 8) {
      const xl = (l ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24))) >>> 0;
      const xh = (h ^ (b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24))) >>> 0;
      const a = 7 * 256 + (xl & 0xff);
      const c = 6 * 256 + ((xl >>> 8) & 0xff);
      const d = 5 * 256 + ((xl >>> 16) & 0xff);
      const e = 4 * 256 + (xl >>> 24);
      const f = 3 * 256 + (xh & 0xff);
      const g = 2 * 256 + ((xh >>> 8) & 0xff);
      const k = 256 + ((xh >>> 16) & 0xff);
      const m = xh >>> 24;
      l = tl[a]! ^ tl[c]! ^ tl[d]! ^ tl[e]! ^ tl[f]! ^ tl[g]! ^ tl[k]! ^ tl[m]!;
      h = th[a]! ^ th[c]! ^ th[d]! ^ th[e]! ^ th[f]! ^ th[g]! ^ th[k]! ^ th[m]!;
    }
    for (; i < end; i++) {
      const x = (l ^ b[i]!) & 0xff;
      l = ((l >>> 8) | ((h & 0xff) << 24)) ^ tl[x]!;
      h = (h >>> 8) ^ th[x]!;
    }
    this.#h = h >>> 0;
    this.#l = l >>> 0;
  }

  /** The checksum, big-endian, as Go's Sum appends it. */
  sum(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32BE(~this.#h >>> 0, 0);
    out.writeUInt32BE(~this.#l >>> 0, 4);
    return out;
  }
}

/** A chunk of one file's data: where it starts in the file and in the layer, and what it holds. */
interface Chunk {
  chunkOffset: number;
  offset: number;
  size: number;
  digest: string;
  zeros: boolean;
}

/** One file's data being cut into chunks (containers/storage's rolling checksum and hole rules). */
class FileChunker {
  // bup's rolling sum over a 64-byte window (s1, s2 as uint32)
  #s1 = 64 * 31;
  #s2 = 64 * 63 * 31;
  readonly #win = new Uint8Array(64);
  #wofs = 0;
  /** Zeros seen but not yet known to be data (fewer than HOLE_MIN so far). */
  #zeros = 0;
  /** Length of the hole being read (HOLE_MIN zeros or more), 0 outside one. */
  #hole = 0;
  #written = 0;
  #cur: { offset: number; start: number; size: number; hash: Hash } | undefined;
  readonly chunks: Chunk[] = [];
  readonly digest = createHash('sha256');
  readonly crc = new Crc64();

  constructor(
    private readonly frames: Frames,
    private readonly pos: () => number,
  ) {}

  #roll(c: number): boolean {
    const drop = this.#win[this.#wofs]!;
    this.#win[this.#wofs] = c;
    this.#wofs = (this.#wofs + 1) & 63;
    this.#s1 = (this.#s1 + c - drop) >>> 0;
    this.#s2 = (this.#s2 + this.#s1 - 64 * (drop + 31)) >>> 0;
    return (this.#s2 & SPLIT_MASK) === SPLIT_MASK;
  }

  /** Bytes of the current chunk (a new one starts at its first byte, in a new frame). */
  #put(b: Buffer, start: number, end: number): void {
    if (end <= start) return;
    if (!this.#cur) this.#cur = { offset: this.pos(), start: this.#written, size: 0, hash: createHash('sha256') };
    const part = b.subarray(start, end);
    this.frames.write(part);
    this.#cur.hash.update(part);
    this.#cur.size += part.length;
    this.digest.update(part);
    this.crc.update(part);
    this.#written += part.length;
  }

  #putZeros(n: number): void {
    for (let left = n; left > 0;) {
      const k = Math.min(left, ZEROS.length);
      this.#put(ZEROS, 0, k);
      left -= k;
    }
  }

  /** End the current chunk (and its frame). */
  #cut(zeros: boolean): void {
    const c = this.#cur;
    if (!c) return;
    this.frames.end();
    this.#cur = undefined;
    this.chunks.push({ chunkOffset: c.start, offset: c.offset, size: c.size, digest: `sha256:${c.hash.digest('hex')}`, zeros });
  }

  /** Pending zeros that turned out to be data: each rolled and checked for a split. */
  #zerosAsData(): void {
    let run = 0;
    for (let i = 0; i < this.#zeros; i++) {
      run++;
      if (this.#roll(0)) {
        this.#putZeros(run);
        run = 0;
        this.#cut(false);
      }
    }
    this.#putZeros(run);
    this.#zeros = 0;
  }

  #endHole(): void {
    this.#putZeros(this.#hole);
    this.#hole = 0;
    this.#cut(true);
  }

  update(b: Buffer): void {
    const n = b.length;
    let i = 0;
    let span = 0;
    while (i < n) {
      if (this.#hole > 0) {
        let j = i;
        while (j < n && b[j] === 0) j++;
        this.#hole += j - i;
        i = span = j;
        if (i < n) this.#endHole();
        continue;
      }
      const c = b[i]!;
      if (c === 0) {
        let j = i;
        while (j < n && b[j] === 0) j++;
        if (this.#zeros === 0 && j < n && j - i < HOLE_MIN) {
          // a short run of zeros inside this buffer: data, where it is
          for (let k = i; k < j; k++) {
            if (this.#roll(0)) {
              this.#put(b, span, k + 1);
              span = k + 1;
              this.#cut(false);
            }
          }
          i = j;
          continue;
        }
        // a run that may be a hole (long, or reaching the buffer's end): counted apart
        this.#put(b, span, i);
        this.#zeros += j - i;
        i = span = j;
        if (this.#zeros >= HOLE_MIN) {
          // A hole: the data before it is a chunk; the zeros roll without split checks.
          this.#cut(false);
          for (let k = 0; k < Math.min(this.#zeros, 64); k++) this.#roll(0);
          this.#wofs = (this.#wofs + Math.max(0, this.#zeros - 64)) & 63;
          this.#hole = this.#zeros;
          this.#zeros = 0;
        } else if (i < n) {
          this.#zerosAsData();
        }
        continue;
      }
      if (this.#zeros > 0) this.#zerosAsData();
      // the hot loop: #roll inlined on locals, up to the next zero or split
      let s1 = this.#s1;
      let s2 = this.#s2;
      let wofs = this.#wofs;
      const win = this.#win;
      let split = false;
      while (i < n) {
        const x = b[i]!;
        if (x === 0) break;
        const drop = win[wofs]!;
        win[wofs] = x;
        wofs = (wofs + 1) & 63;
        s1 = (s1 + x - drop) >>> 0;
        s2 = (s2 + s1 - 64 * (drop + 31)) >>> 0;
        i++;
        if ((s2 & SPLIT_MASK) === SPLIT_MASK) {
          split = true;
          break;
        }
      }
      this.#s1 = s1;
      this.#s2 = s2;
      this.#wofs = wofs;
      if (split) {
        this.#put(b, span, i);
        span = i;
        this.#cut(false);
      }
    }
    this.#put(b, span, n);
  }

  /** The file's data ended. */
  finish(): void {
    if (this.#hole > 0) this.#endHole();
    if (this.#zeros > 0) this.#zerosAsData();
    this.#cut(false);
  }
}

/** An entry of the TOC, in containers/storage's field order (Go's encoding/json of FileMetadata). */
type TocEntry = Record<string, unknown>;

const TYPES: Record<number, string> = { 0x30: 'reg', 0x31: 'hardlink', 0x32: 'symlink', 0x33: 'char', 0x34: 'block', 0x35: 'dir', 0x36: 'fifo' };

/** Go's RFC 3339 with nanoseconds (time.Time's JSON), in UTC. */
function goTime(t: TarTime): string {
  const d = new Date(t.sec * 1000);
  const y = d.getUTCFullYear();
  if (!Number.isFinite(y) || y < 0 || y > 9999) throw new JobError('E_BAD_INPUT', `a tar time (${t.sec}) is outside the years 0-9999`);
  const frac = t.nsec > 0 ? '.' + String(t.nsec).padStart(9, '0').replace(/0+$/, '') : '';
  return `${d.toISOString().slice(0, 19)}${frac}Z`;
}

/** JSON as Go's encoder writes strings (<, > and & escaped). */
function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');
function isUtf8(b: Buffer): boolean {
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

/** Where the compressor is in the tar. */
type State =
  { kind: 'header' } | { kind: 'special'; left: number; pad: number; type: number; parts: Buffer[] } | { kind: 'payload'; left: number } | { kind: 'pad'; left: number } | { kind: 'trailer' };

/**
 * The zstd:chunked compressor: a plain tar in, the layer out. After it ended, `annotations` holds
 * what the layer's descriptor must carry.
 */
export class ZstdChunkedEncoder extends Transform {
  annotations: Record<string, string> | undefined;
  readonly #level: number;
  #frames!: Frames;
  #split!: { frames: Frames; parts: Buffer[]; size: number; hash: Hash; plain: number; position: number };
  #pos = 0;
  #state: State = { kind: 'header' };
  readonly #block = Buffer.alloc(BLOCK);
  #blockLen = 0;
  #zeroBlocks = 0;
  /** Raw bytes (headers, padding) since the last tar-split entry. */
  #raw: Buffer[] = [];
  #pax: Map<string, Buffer> | undefined;
  #longName: Buffer | undefined;
  #longLink: Buffer | undefined;
  #file: { chunker: FileChunker; entry: TocEntry; startOffset: number; size: number; rawName: Buffer } | undefined;
  readonly #toc: TocEntry[] = [];
  readonly #seen = new Set<string>();

  constructor(level: number) {
    super({ highWaterMark: 1 << 20 });
    this.#level = level;
  }

  /** Loads zstd-napi's binding (native) on first use. */
  static async create(level: number): Promise<ZstdChunkedEncoder> {
    // A CommonJS module whose exports Node cannot list statically: as an ES module its namespace has
    // only `default` (the CLI's bundle hands over module.exports itself).
    const mod = (await import('zstd-napi/binding.js')) as Binding & { default?: Binding };
    binding ??= mod.default ?? mod;
    const e = new ZstdChunkedEncoder(level);
    e.#frames = new Frames(binding, level, (b) => {
      e.#pos += b.length;
      e.push(b);
    });
    const split = { parts: [] as Buffer[], size: 0, hash: createHash('sha256'), plain: 0, position: 0 };
    e.#split = Object.assign(split, {
      frames: new Frames(binding, level, (b) => {
        split.parts.push(Buffer.from(b));
        split.size += b.length;
        split.hash.update(b);
      }),
    });
    return e;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.#feed(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.#finish();
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb();
  }

  /** Raw tar bytes (headers, padding): into the current frame and the pending tar-split segment. */
  #raw_(b: Buffer): void {
    if (b.length === 0) return;
    this.#frames.write(b);
    this.#raw.push(Buffer.from(b));
  }

  #feed(b: Buffer): void {
    let i = 0;
    while (i < b.length) {
      const s = this.#state;
      switch (s.kind) {
        case 'trailer':
          this.#raw_(b.subarray(i));
          i = b.length;
          break;
        case 'pad': {
          const k = Math.min(s.left, b.length - i);
          this.#raw_(b.subarray(i, i + k));
          s.left -= k;
          i += k;
          if (s.left === 0) this.#state = { kind: 'header' };
          break;
        }
        case 'payload': {
          const k = Math.min(s.left, b.length - i);
          this.#file!.chunker.update(b.subarray(i, i + k));
          s.left -= k;
          i += k;
          if (s.left === 0) this.#endFile();
          break;
        }
        case 'special': {
          const k = Math.min(s.left + s.pad, b.length - i);
          const part = b.subarray(i, i + k);
          this.#raw_(part);
          const data = Math.max(0, Math.min(part.length, s.left));
          if (data > 0) s.parts.push(Buffer.from(part.subarray(0, data)));
          s.left -= data;
          s.pad -= part.length - data;
          i += k;
          if (s.left === 0 && s.pad === 0) this.#endSpecial(s.type, Buffer.concat(s.parts));
          break;
        }
        case 'header': {
          const k = Math.min(BLOCK - this.#blockLen, b.length - i);
          b.copy(this.#block, this.#blockLen, i, i + k);
          this.#raw_(b.subarray(i, i + k));
          this.#blockLen += k;
          i += k;
          if (this.#blockLen === BLOCK) {
            this.#blockLen = 0;
            this.#header();
          }
          break;
        }
      }
    }
  }

  #header(): void {
    if (isZeroBlock(this.#block)) {
      if (++this.#zeroBlocks === 2) this.#state = { kind: 'trailer' };
      return;
    }
    if (this.#zeroBlocks > 0) throw new JobError('E_BAD_INPUT', 'not a valid tar: a header follows an end-of-archive block');
    const h = parseHeader(this.#block);
    const t = h.typeflag;
    if (t === 0x78 /* x */ || t === 0x67 /* g */ || t === 0x4c /* L */ || t === 0x4b /* K */) {
      if (h.size > MAX_SPECIAL) throw new JobError('E_BAD_INPUT', `not a valid tar: a ${String.fromCharCode(t)} header of ${h.size} bytes`);
      this.#state = { kind: 'special', left: h.size, pad: blockPadding(h.size), type: t, parts: [] };
      if (h.size === 0) this.#endSpecial(t, Buffer.alloc(0));
      return;
    }
    this.#entry(h);
  }

  #endSpecial(type: number, data: Buffer): void {
    this.#state = { kind: 'header' };
    if (type === 0x67) throw new JobError('E_UNSUPPORTED', 'zstd:chunked cannot describe a tar with a pax global header (as containers/storage)');
    if (type === 0x78) {
      this.#pax = parsePax(data);
    } else {
      const nul = data.indexOf(0);
      const s = nul === -1 ? data : data.subarray(0, nul);
      if (type === 0x4c) this.#longName = s;
      else this.#longLink = s;
    }
  }

  /** A real entry's header is complete (its meta headers merged, as Go's reader merges them). */
  #entry(h: RawHeader): void {
    const pax = this.#pax ?? new Map<string, Buffer>();
    this.#pax = undefined;
    mergePax(h, pax);
    if (this.#longName) h.name = this.#longName;
    if (this.#longLink) h.linkname = this.#longLink;
    this.#longName = this.#longLink = undefined;
    let t = h.typeflag;
    if (t === 0) t = h.name[h.name.length - 1] === 0x2f ? 0x35 : 0x30;
    const name = utf8Lenient.decode(h.name);
    const type = TYPES[t];
    if (!type || [...pax.keys()].some((k) => k.startsWith('GNU.sparse.'))) {
      throw new JobError(
        'E_UNSUPPORTED',
        `zstd:chunked cannot describe ${JSON.stringify(name)}: ${type ? 'a sparse file' : `tar entry type ${JSON.stringify(String.fromCharCode(t))}`} (as containers/storage)`,
      );
    }
    const clean = cleanPath(name);
    if (this.#seen.has(clean)) throw new JobError('E_UNSUPPORTED', `zstd:chunked cannot describe a layer that lists ${JSON.stringify(name)} twice (as containers/storage)`);
    this.#seen.add(clean);

    // tar-split: the raw bytes so far (padding, meta headers, this header), then the file.
    this.#segment();
    const nb = isHeaderOnly(t) ? 0 : h.size;
    if (nb < 0) throw new JobError('E_BAD_INPUT', `not a valid tar: ${JSON.stringify(name)} has a negative size`);

    const xattrs: Record<string, string> = {};
    for (const [k, v] of [...pax.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice('SCHILY.xattr.'.length)] = v.toString('base64');
    }
    const entry: TocEntry = { type, name };
    if (h.linkname.length > 0) entry.linkName = utf8Lenient.decode(h.linkname);
    if (h.mode) entry.mode = h.mode;
    if (h.size) entry.size = h.size;
    if (h.uid) entry.uid = h.uid;
    if (h.gid) entry.gid = h.gid;
    entry.modtime = goTime(h.mtime);
    if (h.atime && (h.atime.sec !== 0 || h.atime.nsec !== 0)) entry.accesstime = goTime(h.atime);
    if (h.ctime && (h.ctime.sec !== 0 || h.ctime.nsec !== 0)) entry.changetime = goTime(h.ctime);
    if (h.devmajor) entry.devMajor = h.devmajor;
    if (h.devminor) entry.devMinor = h.devminor;
    if (Object.keys(xattrs).length > 0) entry.xattrs = xattrs;

    const pad = blockPadding(nb);
    if (nb === 0) {
      this.#toc.push(ordered(entry));
      this.#splitFile(h.name, h.size, h.size > 0 ? new Crc64().sum() : null);
      this.#state = pad > 0 ? { kind: 'pad', left: pad } : { kind: 'header' };
      return;
    }
    // The headers end their frame: the file's data starts a frame of its own.
    this.#frames.end();
    const startOffset = this.#pos;
    this.#file = { chunker: new FileChunker(this.#frames, () => this.#pos), entry, startOffset, size: h.size, rawName: h.name };
    this.#state = { kind: 'payload', left: nb };
  }

  #endFile(): void {
    const f = this.#file!;
    this.#file = undefined;
    f.chunker.finish();
    const chunks = f.chunker.chunks;
    const e = f.entry;
    e.digest = `sha256:${f.chunker.digest.digest('hex')}`;
    e.offset = chunks[0]?.offset ?? f.startOffset;
    e.endOffset = this.#pos;
    const entries: TocEntry[] = [e];
    if (chunks.length > 1) {
      chunks.forEach((c, i) => {
        const x: TocEntry = i === 0 ? e : { type: 'chunk', name: e.name };
        if (i > 0) {
          if (c.chunkOffset) x.chunkOffset = c.chunkOffset;
          x.offset = c.offset;
        }
        x.chunkSize = c.size;
        x.chunkDigest = c.digest;
        if (c.zeros) x.chunkType = 'zeros';
        if (i > 0) entries.push(x);
      });
    }
    this.#toc.push(...entries.map(ordered));
    this.#splitFile(f.rawName, f.size, f.chunker.crc.sum());
    const pad = blockPadding(f.size);
    this.#state = pad > 0 ? { kind: 'pad', left: pad } : { kind: 'header' };
  }

  /** A tar-split segment entry of the raw bytes collected since the last entry. */
  #segment(): void {
    if (this.#raw.length === 0) return;
    const payload = Buffer.concat(this.#raw);
    this.#raw = [];
    for (let off = 0; off < payload.length; off += 1 << 20) {
      this.#splitLine(`{"type":2,"payload":"${payload.subarray(off, off + (1 << 20)).toString('base64')}","position":${this.#split.position}}\n`);
    }
  }

  #splitFile(name: Buffer, size: number, crc: Buffer | null): void {
    const nameField = isUtf8(name) ? (name.length > 0 ? `"name":${goJson(name.toString('utf8'))},` : '') : `"name_raw":"${name.toString('base64')}",`;
    const sizeField = size ? `"size":${size},` : '';
    this.#splitLine(`{"type":1,${nameField}${sizeField}"payload":${crc ? `"${crc.toString('base64')}"` : 'null'},"position":${this.#split.position}}\n`);
  }

  #splitLine(line: string): void {
    const b = Buffer.from(line, 'utf8');
    this.#split.frames.write(b);
    this.#split.plain += b.length;
    this.#split.position++;
  }

  #finish(): void {
    const s = this.#state;
    if (s.kind === 'payload' || s.kind === 'special' || (s.kind === 'header' && this.#blockLen > 0)) {
      throw new JobError('E_BAD_INPUT', 'not a valid tar: it ends inside an entry (truncated?)');
    }
    if (s.kind === 'pad') throw new JobError('E_BAD_INPUT', 'not a valid tar: it ends inside the padding of an entry (truncated?)');
    if (this.#pax || this.#longName || this.#longLink) throw new JobError('E_BAD_INPUT', 'not a valid tar: it ends after an extended header');
    this.#segment();
    this.#frames.end();

    // tar-split, then the TOC that names its digest
    this.#split.frames.end();
    const tarSplit = Buffer.concat(this.#split.parts);
    const tarSplitDigest = `sha256:${this.#split.hash.digest('hex')}`;
    const tocJson = Buffer.from(`{"version":1,"entries":[${this.#toc.map(goJson).join(',')}],"tarSplitDigest":"${tarSplitDigest}"}`, 'utf8');
    const tocParts: Buffer[] = [];
    const tocFrames = new Frames(binding!, this.#level, (b) => tocParts.push(Buffer.from(b)));
    tocFrames.write(tocJson);
    tocFrames.end();
    const toc = Buffer.concat(tocParts);

    const tocOffset = this.#pos + 8;
    this.#skippable(toc);
    const splitOffset = this.#pos + 8;
    this.#skippable(tarSplit);
    const footer = Buffer.alloc(FOOTER_SIZE);
    const fields = [tocOffset, toc.length, tocJson.length, TOC_TYPE, splitOffset, tarSplit.length, this.#split.plain];
    fields.forEach((v, i) => footer.writeBigUInt64LE(BigInt(v), i * 8));
    FOOTER_MAGIC.copy(footer, 56);
    this.#skippable(footer);
    const tocDigest = `sha256:${createHash('sha256').update(toc).digest('hex')}`;
    const tocPosition = `${tocOffset}:${toc.length}:${tocJson.length}:${TOC_TYPE}`;
    this.annotations = {
      [ZSTD_CHUNKED_TOC_DIGEST]: tocDigest,
      [ZSTD_CHUNKED_TOC_POSITION]: tocPosition,
      [ZSTD_CHUNKED_TARSPLIT_POSITION]: `${splitOffset}:${tarSplit.length}:${this.#split.plain}`,
      [ZSTD_CHUNKED_LEGACY_TOC_DIGEST]: tocDigest,
      [ZSTD_CHUNKED_LEGACY_TOC_POSITION]: tocPosition,
    };
  }

  #skippable(data: Buffer): void {
    const head = Buffer.alloc(8);
    SKIPPABLE_MAGIC.copy(head, 0);
    head.writeUInt32LE(data.length, 4);
    for (const b of [head, data]) {
      this.#pos += b.length;
      this.push(b);
    }
  }
}

/** TOC fields in containers/storage's struct order, whatever order they were set in. */
const ORDER = [
  'type',
  'name',
  'linkName',
  'mode',
  'size',
  'uid',
  'gid',
  'modtime',
  'accesstime',
  'changetime',
  'devMajor',
  'devMinor',
  'xattrs',
  'digest',
  'offset',
  'endOffset',
  'chunkSize',
  'chunkOffset',
  'chunkDigest',
  'chunkType',
];
function ordered(e: TocEntry): TocEntry {
  const out: TocEntry = {};
  for (const k of ORDER) if (e[k] !== undefined) out[k] = e[k];
  return out;
}
