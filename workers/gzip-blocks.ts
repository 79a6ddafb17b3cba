/**
 * Block-joined gzip, as pigz writes it: the input is cut into BLOCK_SIZE blocks, each block is
 * raw-deflated on its own with the 32 KiB of input before it as the dictionary, every block but
 * the last ends with a sync flush (an empty stored block, so the next block starts on a byte
 * boundary and the deflate streams simply concatenate), and the last block ends the deflate
 * stream. One gzip header before, crc32 and length of the whole input after.
 *
 * WHY THIS SHAPE: blocks are independent work, so one layer is compressed on every core at once:
 * `GzipBlockEncoder` hands up to `window` blocks at a time to node:zlib's asynchronous deflate,
 * which runs on libuv's thread pool (process-wide, shared by every worker thread), and emits the
 * results in order. Each block's bytes depend only on the input, the level and BLOCK_SIZE — not
 * on which thread ran it or how many there are — so the output is byte-identical on every machine
 * and a layer's digest is reproducible. The dictionary keeps the ratio within a fraction of a
 * percent of a single deflate stream; the sync flush costs 5 bytes a block.
 *
 * WARNING: BLOCK_SIZE, MEM_LEVEL and the header bytes are part of the output. Changing any of them
 * changes every digest this code produces: a layer compressed again no longer matches the same
 * layer compressed before (in a registry, in another store). Variants the store recorded before
 * stay true (each is a gzip of its content, verified when made) and are still reused. MEM_LEVEL
 * went from zlib's default 8 to 9 once, deliberately, for speed (the golden digests in
 * test/workers/gzip-blocks.test.ts changed with it); don't change these lightly.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { constants, crc32, deflateRaw, type ZlibOptions } from 'node:zlib';

/** Input bytes per block: 1 MiB (bench/README.md has the measurements behind the choice). */
export const BLOCK_SIZE = 1 << 20;
/** Deflate's window: the dictionary handed to each block. */
export const DICT_SIZE = 32 << 10;

/**
 * The 10-byte gzip header: no name, mtime 0 (reproducible), OS 255 "unknown" (the same bytes on
 * every platform), XFL 2 at level 9 and 4 at level 1 as RFC 1952 suggests.
 */
export function gzipHeader(level: number): Buffer {
  const xfl = level >= 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 0xff]);
}

/** The 8-byte gzip trailer: crc32 and input length modulo 2^32, little-endian. */
export function gzipTrailer(crc: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(crc >>> 0, 0);
  b.writeUInt32LE(length % 2 ** 32, 4);
  return b;
}

/**
 * zlib's memLevel: 9, its largest hash table (128K chains instead of 8's 32K). Fewer collisions
 * mean fewer candidates compared per match: measured on the bench's layers (1 MiB blocks with
 * their dictionaries, one core), level 4 went from 97 to 105 MB/s while the output grew by 0.2%
 * (54.55 -> 54.67 MB of 159 MB; skopeo's pgzip: 54.93 MB).
 * WARNING: part of the output like BLOCK_SIZE (see the module comment).
 */
export const MEM_LEVEL = 9;

/** Deflate one block asynchronously (libuv's pool): `dict` is the input before it (may be empty). */
function deflateBlock(block: Buffer, dict: Buffer, level: number, final: boolean): Promise<Buffer> {
  // chunkSize above the block's worst case: one trip to libuv's pool per block. At the default
  // (16 KiB) a block took ~20 trips, each waiting for this thread's event loop between them, and
  // two cores compressed hardly faster than one (bench micro: 85 MB/s on 2 cores, 81 on one).
  const opts: ZlibOptions = { level, memLevel: MEM_LEVEL, chunkSize: block.length + (64 << 10), finishFlush: final ? constants.Z_FINISH : constants.Z_SYNC_FLUSH };
  if (dict.length > 0) opts.dictionary = dict;
  return new Promise((resolve, reject) => deflateRaw(block, opts, (err, out) => (err ? reject(err) : resolve(out))));
}

/**
 * A Transform that gzips what passes through it as block-joined gzip (see the module comment),
 * with up to `window` blocks deflating at once. Memory stays bounded: `window` blocks of input
 * (1 MiB each) and their output. Validates the level (0..9) at construction with a RangeError.
 */
export class GzipBlockEncoder extends Transform {
  readonly #level: number;
  readonly #window: number;
  #parts: Buffer[] = [];
  #partsLen = 0;
  /** The last DICT_SIZE bytes of input before the next block. */
  #dict: Buffer = Buffer.alloc(0);
  readonly #inflight: Array<Promise<Buffer>> = [];
  #crc = 0;
  #total = 0;
  #headerSent = false;

  constructor(opts: { level: number; window?: number }) {
    super({ highWaterMark: 1 << 20 });
    if (!Number.isInteger(opts.level) || opts.level < 0 || opts.level > 9) throw new RangeError(`gzip level must be a whole number from 0 to 9, got ${String(opts.level)}`);
    this.#level = opts.level;
    this.#window = Math.max(1, opts.window ?? 4);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#parts.push(chunk);
    this.#partsLen += chunk.length;
    // A block is known not to be the last once input follows it: cut only while more than a block is held.
    while (this.#partsLen > BLOCK_SIZE) this.#dispatch(this.#take(BLOCK_SIZE), false);
    this.#drainTo(this.#window - 1).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    // The rest (possibly empty: an empty input is one empty final block) is the final block.
    this.#dispatch(this.#take(this.#partsLen), true);
    this.#drainTo(0).then(() => {
      this.#pushOut(gzipTrailer(this.#crc, this.#total));
      cb();
    }, cb);
  }

  /**
   * The first `n` bytes held, as one Buffer. Input arrives in 1 MiB chunks (workers/io.ts), so a
   * block is usually one chunk as it came: no copy. Joining everything held and keeping the rest as
   * a view (as this did) copied every byte once more and left a 2 MiB buffer behind each block
   * (peak RSS of a 1.6 GB gzip copy: 274 -> 168 MiB).
   */
  #take(n: number): Buffer {
    const out: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const p = this.#parts[0]!;
      const need = n - got;
      if (p.length <= need) {
        out.push(p);
        got += p.length;
        this.#parts.shift();
      } else {
        out.push(p.subarray(0, need));
        this.#parts[0] = p.subarray(need);
        got = n;
      }
    }
    this.#partsLen -= n;
    return out.length === 1 ? out[0]! : Buffer.concat(out, n);
  }

  #dispatch(block: Buffer, final: boolean): void {
    this.#crc = crc32(block, this.#crc) >>> 0;
    this.#total += block.length;
    const p = deflateBlock(block, this.#dict, this.#level, final);
    p.catch(() => undefined); // awaited in order by #drainTo; never an unhandled rejection meanwhile
    this.#inflight.push(p);
    const joined = this.#dict.length + block.length <= DICT_SIZE ? Buffer.concat([this.#dict, block]) : undefined;
    // A copy, so the next block's dictionary does not keep this whole block alive.
    this.#dict = Buffer.from(joined ?? block.subarray(Math.max(0, block.length - DICT_SIZE)));
  }

  /** Emit finished blocks, in order, until at most `n` are in flight. */
  async #drainTo(n: number): Promise<void> {
    while (this.#inflight.length > n) this.#pushOut(await this.#inflight.shift()!);
  }

  #pushOut(b: Buffer): void {
    if (!this.#headerSent) {
      this.#headerSent = true;
      this.push(gzipHeader(this.#level));
    }
    this.push(b);
  }
}
