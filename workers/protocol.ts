/**
 * The message protocol between the main thread and the pool's workers.
 *
 * Jobs name files, not buffers: a worker reads the file it is given and writes the file it is
 * told to write, so hundreds of megabytes never cross the thread boundary. The one exception is
 * `gzip-block`, whose reply carries one compressed block (a fraction of BLOCK_SIZE) as a
 * transferred ArrayBuffer: the main thread must put the blocks of a layer in order into one
 * stream, and a transfer moves ownership without copying.
 *
 * A worker ALWAYS replies `{ok: true, value}` or `{ok: false, code, message}` and never throws
 * across the thread boundary: an Error subclass posted from a worker arrives as a plain Error
 * without its `code`, so the main thread rebuilds the OcikitError from these fields instead.
 */

/** Compression formats a job can produce or undo. */
export type CodecFormat = 'gzip' | 'zstd';

/** Hash a file (sha256). */
export interface HashJob {
  kind: 'hash';
  src: string;
}
export interface HashResult {
  digest: string;
  size: number;
}

/**
 * Compress `src` into `dst` (which MUST NOT exist) as `format` at `level`. gzip output is the
 * same block-joined stream the parallel path produces (see workers/gzip-blocks.ts), so one
 * worker and many produce identical bytes. zstd uses `threads` native threads (>= 1; the output
 * does not depend on the number).
 */
export interface CompressJob {
  kind: 'compress';
  src: string;
  dst: string;
  format: CodecFormat;
  level: number;
  threads?: number;
}
/** digest/size of the compressed output, plus size of the input. */
export interface CompressResult {
  digest: string;
  size: number;
  inputSize: number;
}

/**
 * Decompress `src` (gzip or zstd) into `dst` (which MUST NOT exist). The digest of the output is
 * the layer's diff ID.
 */
export interface DecompressJob {
  kind: 'decompress';
  src: string;
  dst: string;
  format: CodecFormat;
}
/** digest/size of the decompressed output (the diff ID), plus size of the input. */
export interface DecompressResult {
  digest: string;
  size: number;
  inputSize: number;
}

/**
 * Deflate bytes [offset, offset+length) of `src` as one block of a block-joined gzip member:
 * the 32 KiB before `offset` is the dictionary; a non-final block ends byte-aligned (sync flush),
 * the final block ends the deflate stream.
 */
export interface GzipBlockJob {
  kind: 'gzip-block';
  src: string;
  offset: number;
  length: number;
  level: number;
  final: boolean;
}
export interface GzipBlockResult {
  /** raw deflate bytes of this block */
  data: Uint8Array;
  /** crc32 of the block's input bytes */
  crc: number;
  /** input bytes actually read (less than `length` only when the file shrank) */
  length: number;
}

/** A job that fails on purpose, for tests of error rebuilding across the thread boundary. */
export interface FailJob {
  kind: 'fail';
  code: string;
  message: string;
  /** throw a plain Error (not via the reply), to prove the entry point catches it */
  raw?: boolean;
}

export type Job = HashJob | CompressJob | DecompressJob | GzipBlockJob | FailJob;

/** The result type of each job kind. */
export interface ResultOf {
  hash: HashResult;
  compress: CompressResult;
  decompress: DecompressResult;
  'gzip-block': GzipBlockResult;
  fail: never;
}

/** What a worker posts back. `code` is an OcikitError code ("E_IO", "E_BAD_INPUT", ...). */
export type JobReply<T> = { ok: true; value: T } | { ok: false; code: string; message: string };
