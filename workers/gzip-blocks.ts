/**
 * Block-joined gzip, as pigz writes it: the input is cut into BLOCK_SIZE blocks, each block is
 * raw-deflated on its own with the 32 KiB of input before it as the dictionary, every block but
 * the last ends with a sync flush (an empty stored block, so the next block starts on a byte
 * boundary and the deflate streams simply concatenate), and the last block ends the deflate
 * stream. One gzip header before, crc32 and length of the whole input after.
 *
 * WHY THIS SHAPE: blocks are independent work (any worker can do any block, in any order), yet
 * each block's bytes depend only on the input, the level and BLOCK_SIZE. So the output is
 * byte-identical however many workers run and whichever one does which block, and a layer's
 * digest is reproducible. The dictionary keeps the ratio within a fraction of a percent of a
 * single deflate stream; the sync flush costs 5 bytes a block.
 *
 * WARNING: BLOCK_SIZE and the header bytes are part of the output. Changing either changes every
 * digest this code has ever produced (and the store's cached variants would then disagree with
 * a fresh compression of the same content): don't, without a new cache key.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { constants, crc32, deflateRawSync } from 'node:zlib';

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
 * Read block `[offset, offset+length)` of the open file `fd`, with up to DICT_SIZE bytes before
 * it. Returns the buffer and how many of its leading bytes are dictionary.
 */
export function readBlock(fd: number, offset: number, length: number): { buf: Buffer; dictLen: number; got: number } {
  const dictLen = Math.min(offset, DICT_SIZE);
  const buf = Buffer.allocUnsafe(dictLen + length);
  let filled = 0;
  while (filled < buf.length) {
    const n = readSync(fd, buf, filled, buf.length - filled, offset - dictLen + filled);
    if (n === 0) break;
    filled += n;
  }
  return { buf: buf.subarray(0, filled), dictLen, got: Math.max(0, filled - dictLen) };
}

/** Deflate one block (see the module comment). `buf` holds `dictLen` dictionary bytes, then the block. */
export function deflateBlock(buf: Buffer, dictLen: number, level: number, final: boolean): Buffer {
  const opts: import('node:zlib').ZlibOptions = {
    level,
    finishFlush: final ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
  };
  if (dictLen > 0) opts.dictionary = buf.subarray(0, dictLen);
  return deflateRawSync(buf.subarray(dictLen), opts);
}

/** crc32 of bytes, continuing from `prev` (node:zlib's, which is hardware-accelerated). */
export function crcOf(data: Uint8Array, prev = 0): number {
  return crc32(data, prev) >>> 0;
}

/** Read and deflate one block of the file at `path`. */
export function gzipBlockOfFile(path: string, offset: number, length: number, level: number, final: boolean): { data: Buffer; crc: number; length: number } {
  const fd = openSync(path, 'r');
  try {
    const { buf, dictLen, got } = readBlock(fd, offset, length);
    const data = deflateBlock(buf, dictLen, level, final);
    return { data, crc: crcOf(buf.subarray(dictLen)), length: got };
  } finally {
    closeSync(fd);
  }
}
