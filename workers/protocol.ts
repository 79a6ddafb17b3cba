/**
 * The message protocol between the main thread and the pool's workers.
 *
 * Jobs name files and regions of files, not buffers: a worker reads what it is told to read and
 * writes what it is told to write, so hundreds of megabytes never cross the thread boundary. The
 * one exception is a stream that exists only on the main thread (a registry download): its bytes
 * are posted to the worker through a MessagePort as transferred 1 MiB ArrayBuffers (a transfer
 * moves ownership without copying), with one acknowledgement per chunk for backpressure
 * (lib/pool/feed.ts and workers/io.ts speak that sub-protocol).
 *
 * A job may also run in the calling thread (WorkerPool runs small ones there, lib/pool/pool.ts):
 * the same code, called directly, with the same reply; its input may then be the stream itself.
 *
 * A worker ALWAYS replies `{ok: true, value}` or `{ok: false, code, message}` and never throws
 * across the thread boundary: an Error subclass posted from a worker arrives as a plain Error
 * without its `code`, so the main thread rebuilds the OcikitError from these fields instead.
 */
import type { Readable } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import type { CompressionAlgorithm, CompressionFormat } from '../lib/manifest/media-types.js';

/** Where a blob job reads its input. */
export type JobInput =
  /**
   * `length` bytes of a file from `offset` (a whole file, or a member inside an uncompressed tar);
   * `length` -1 reads to the end. `fd`, when given, is a descriptor the main thread holds open for
   * the job's duration (descriptors are process-wide): reading through it keeps reading the file
   * that was opened even if the path is replaced meanwhile.
   */
  | { kind: 'file'; path: string; fd?: number; offset: number; length: number }
  /** Chunks posted by the main thread (see lib/pool/feed.ts). */
  | { kind: 'port'; port: MessagePort }
  /**
   * A stream of the calling thread. Given to WorkerPool.run, which reads it itself when it runs the
   * job in this thread, and otherwise feeds it to the worker as a `port` input.
   */
  | { kind: 'stream'; stream: Readable };

/** Where a blob job writes one of its outputs. */
export type JobOutput =
  /** A file the worker creates exclusively (it MUST NOT exist) and removes again if the job fails. */
  | { kind: 'new-file'; path: string; sync?: boolean }
  /**
   * Exactly `length` bytes at `offset` of an existing file (a member reserved in an archive being
   * written). Fewer or more bytes fail the job with E_SIZE_MISMATCH.
   */
  | { kind: 'region'; path: string; offset: number; length: number; sync?: boolean };

/**
 * One blob, in one pass over its bytes: read the input once, hash it (and check it against
 * `expect`), write it as it is where `keep` says, decompress it (hashing the plain bytes: the diff
 * ID) and/or compress the plain bytes (hashing the result), writing each result where told.
 *
 * Every output a job writes is hashed by the job as it writes it; the reply carries each digest.
 * WHO VERIFIES: the job checks the input against `expect.digest`/`expect.size` and the plain bytes
 * against `decompress.diffID`; the main thread places the outputs under the digests the reply
 * names. The worker is ocikit's own code hashing the bytes it writes itself, so its digests are
 * trusted without a second read (lib/store's adopt documents the rule).
 */
export interface BlobJob {
  kind: 'blob';
  input: JobInput;
  /**
   * The input's expected digest and size (-1: unknown). Without a digest the input is not hashed
   * (a store file copied into an archive), unless `learn` asks for its digest: then it is hashed
   * (sha256) and the reply's `input.digest` is what was learned, checked against nothing.
   */
  expect: { digest?: string; size: number; learn?: boolean };
  /** Describes the blob in error messages: "layer sha256:ab12… from oci:/x". */
  what: string;
  /** Write the input bytes, unchanged, to each of these. */
  keep?: JobOutput[];
  /** Decompress the input; `diffID` is what the plain bytes must hash to (from the image config). */
  decompress?: { format: CompressionFormat; diffID?: string; out?: JobOutput };
  /**
   * Compress the plain bytes (the input, or the decompressed input) as `format` at `level`.
   * zstd:chunked needs a tar and replies with the annotations its descriptor must carry.
   */
  compress?: { format: CompressionAlgorithm; level: number; out: JobOutput; threads?: number };
  /**
   * Decrypt the input first (ocicrypt's AES-256-CTR; `hmac` is what the ciphertext's HMAC-SHA256
   * must be, checked at the end: crypt.ts), writing the decrypted bytes to `out` when given. Every
   * later stage works on the decrypted bytes. Keys travel base64-encoded.
   */
  decrypt?: { key: string; nonce: string; hmac: string; out?: JobOutput };
  /**
   * Encrypt the job's last result (the compressed bytes, else the decompressed ones, else the
   * decrypted or input bytes) and write the ciphertext to `out`; the reply gives its digest and HMAC.
   */
  encrypt?: { key: string; nonce: string; out: JobOutput };
  /**
   * Live progress: a SharedArrayBuffer holding a Float64Array(2): [input bytes read, bytes
   * written to the main output]. The worker stores into it; the main thread reads it when it draws.
   */
  progress?: SharedArrayBuffer;
}

/** A digest and a byte count. */
export interface Hashed {
  digest: string;
  size: number;
}

/** What a blob job computed: always the input; the plain and compressed results when it made them. */
export interface BlobResult {
  input: Hashed;
  plain?: Hashed;
  /** With `annotations` where the format describes itself in the descriptor (zstd:chunked). */
  compressed?: Hashed & { annotations?: Record<string, string> };
  /** With `decrypt`: the decrypted bytes. */
  decrypted?: Hashed;
  /** With `encrypt`: the ciphertext and its HMAC (base64). */
  encrypted?: Hashed & { hmac: string };
}

/** Hash a whole file (sha256). */
export interface HashJob {
  kind: 'hash';
  src: string;
}

export type Job = BlobJob | HashJob;

/** The result type of each job kind. */
export interface ResultOf {
  blob: BlobResult;
  hash: Hashed;
}

/** What a worker posts back. `code` is an OcikitError code ("E_IO", "E_BAD_INPUT", ...). */
export type JobReply<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

/** Messages on a port-fed input, main thread -> worker. */
export type FeedMessage = { type: 'chunk'; data: ArrayBuffer } | { type: 'end' } | { type: 'error'; code: string; message: string };
/**
 * Messages on a port-fed input, worker -> main thread: one `ack` per chunk consumed, carrying the
 * chunk's buffer back (transferred) when the worker is done with it, for the main thread to reuse.
 */
export type FeedAck = { type: 'ack'; data?: ArrayBuffer };
