/**
 * Blob upload sessions (POST, PATCH, PUT of the distribution API), each a file in the store's tmp
 * directory that the server writes and hashes in the same pass.
 *
 * WHO VERIFIES: every byte a client sends is hashed by this module as it is written to the
 * session's file; the final PUT compares that digest with the one the client names, and only then
 * is the file placed in the store, with `BlobStore.adopt` — the rule adopt documents: a digest
 * ocikit computed itself over exactly the bytes it wrote. A wrong digest removes the file and
 * stores nothing. A monolithic upload (the whole blob in one POST or PUT) goes through
 * `BlobStore.put` with the expected digest instead, which verifies as it writes.
 *
 * A chunk that fails half-way (the client went away, a timeout) is rolled back: the file is cut
 * back to where the chunk began and the hash restored to its state then, so the client may resend
 * it. A session's file is created by its first byte, so sessions opened and abandoned leave no
 * files. Sessions live in memory: they end with the process (the store's gc removes the files of a
 * dead process), and an idle one is dropped after SESSION_IDLE_MS.
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { algorithmOf, digestFile, type Digest } from '../digest/index.js';
import type { BlobStore, StoredBlob } from '../store/index.js';
import { ApiError } from './errors.js';

/** An upload nobody touched for this long is dropped with its data. */
export const SESSION_IDLE_MS = 60 * 60_000;
/** Writes are gathered into blocks of this size before they reach the file. */
const WRITE_BLOCK = 1 << 20;

/** One upload in progress. */
export interface UploadSession {
  readonly id: string;
  readonly repository: string;
  readonly path: string;
  /** Bytes received so far. */
  offset: number;
  hash: Hash;
  /** The session's file, created by its first byte: a session opened and abandoned leaves no file. */
  fh: fsp.FileHandle | undefined;
  /** A request is writing to it now. */
  busy: boolean;
  lastUsed: number;
}

/** The server's uploads: create, append, finish, cancel; idle ones expire. */
export class Uploads {
  readonly #sessions = new Map<string, UploadSession>();
  readonly #timer: NodeJS.Timeout;
  /** Called when the number of open sessions changes (the server's gc lease watches it). */
  onChange: (() => void) | undefined;

  constructor(private readonly store: BlobStore) {
    this.#timer = setInterval(() => void this.#expire(), 60_000);
    this.#timer.unref();
  }

  get open(): number {
    return this.#sessions.size;
  }

  async create(repository: string): Promise<UploadSession> {
    const id = randomUUID();
    const path = this.store.tmpPath(`upload-${id}`);
    const s: UploadSession = { id, repository, path, offset: 0, hash: createHash('sha256'), fh: undefined, busy: false, lastUsed: Date.now() };
    this.#sessions.set(id, s);
    this.onChange?.();
    return s;
  }

  /** The session `id` of `repository`; BLOB_UPLOAD_UNKNOWN otherwise. */
  get(repository: string, id: string): UploadSession {
    const s = this.#sessions.get(id);
    if (!s || s.repository !== repository) throw new ApiError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid: id.slice(0, 64) });
    return s;
  }

  /** Take the session for one request; a second request at once is refused (chunks must come in order). */
  claim(s: UploadSession): void {
    if (s.busy) throw new ApiError('BLOB_UPLOAD_INVALID', 'another request is writing to this upload', { uuid: s.id });
    s.busy = true;
    s.lastUsed = Date.now();
  }

  release(s: UploadSession): void {
    s.busy = false;
    s.lastUsed = Date.now();
  }

  /**
   * Append the request body at the session's offset, hashing it as it is written. `start` (from
   * Content-Range) must equal the offset. On any failure the file and hash are rolled back to
   * where this chunk began.
   */
  async append(s: UploadSession, body: IncomingMessage, start?: number): Promise<void> {
    if (start !== undefined && start !== s.offset) {
      throw new ApiError('RANGE_INVALID', `the chunk starts at ${start}, the upload has ${s.offset} bytes`, undefined, {
        headers: { Range: `0-${Math.max(0, s.offset - 1)}`, 'Docker-Upload-UUID': s.id },
      });
    }
    const before = { offset: s.offset, hash: s.hash.copy() };
    try {
      let block: Buffer[] = [];
      let blockLen = 0;
      const flush = async (): Promise<void> => {
        if (blockLen === 0) return;
        const buf = block.length === 1 ? block[0]! : Buffer.concat(block, blockLen);
        block = [];
        blockLen = 0;
        const fh = await this.#file(s);
        let off = 0;
        while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, s.offset + off)).bytesWritten;
        s.offset += buf.length;
      };
      for await (const chunk of body as AsyncIterable<Buffer>) {
        s.hash.update(chunk);
        block.push(chunk);
        blockLen += chunk.length;
        s.lastUsed = Date.now();
        if (blockLen >= WRITE_BLOCK) await flush();
      }
      // A body cut short (the client went away) ends the iteration without an error on some paths.
      if (!body.complete) throw new ApiError('BLOB_UPLOAD_INVALID', 'the request body ended early');
      await flush();
    } catch (err) {
      s.hash = before.hash;
      s.offset = before.offset;
      await s.fh?.truncate(before.offset).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Finish the upload as the blob `digest`: compare what was hashed with it, and place the file in
   * the store. The session ends either way; a mismatch (DIGEST_INVALID) stores nothing.
   */
  async finish(s: UploadSession, digest: Digest, what: string): Promise<StoredBlob> {
    this.#sessions.delete(s.id);
    this.onChange?.();
    try {
      const got = algorithmOf(digest) === 'sha256' ? (`sha256:${s.hash.digest('hex')}` as Digest) : (await digestFile(s.path, algorithmOf(digest))).digest;
      if (got !== digest) throw new ApiError('DIGEST_INVALID', `the uploaded content has digest ${got}, not ${digest}`, { digest });
      const fh = await this.#file(s);
      if (this.store.durable) await fh.sync();
      s.fh = undefined;
      await fh.close();
      // adopt removes the file whatever happens.
      return await this.store.adopt(s.path, { digest, size: s.offset, what });
    } finally {
      await this.#drop(s);
      await fsp.rm(s.path, { force: true }).catch(() => undefined);
    }
  }

  /** The session's file, created on first use. */
  async #file(s: UploadSession): Promise<fsp.FileHandle> {
    return (s.fh ??= await fsp.open(s.path, 'wx', 0o600));
  }

  /** Close and remove the session's file, if it has one. */
  async #drop(s: UploadSession): Promise<void> {
    const fh = s.fh;
    s.fh = undefined;
    if (fh === undefined) return;
    await fh.close().catch(() => undefined);
    await fsp.rm(s.path, { force: true }).catch(() => undefined);
  }

  /** Drop the session and its data. */
  async cancel(s: UploadSession): Promise<void> {
    if (!this.#sessions.delete(s.id)) return;
    this.onChange?.();
    await this.#drop(s);
  }

  async #expire(): Promise<void> {
    const old = Date.now() - SESSION_IDLE_MS;
    for (const s of [...this.#sessions.values()]) if (!s.busy && s.lastUsed < old) await this.cancel(s);
  }

  /** Drop every session (the server is closing). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const s of [...this.#sessions.values()]) await this.cancel(s);
  }

  /** Remove every session's file now, synchronously (the process is exiting). */
  removeAllSync(rm: (path: string) => void): void {
    for (const s of this.#sessions.values()) rm(s.path);
    this.#sessions.clear();
  }
}
