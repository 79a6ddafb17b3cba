/**
 * Blob upload sessions (POST, PATCH, PUT of the distribution API), kept in the store so that they
 * survive a restart of the server: `<store>/uploads/<id>.data` holds the bytes received,
 * `<id>.json` the session (repository, client, when it began). After a restart the client's next
 * PATCH or status GET carries on from the right offset: the data file's size.
 *
 * WHO VERIFIES: every byte a client sends is hashed by this module as it is written to the
 * session's file; the final PUT compares that digest with the one the client names, and only then
 * is the file placed in the store, with `BlobStore.adopt` — the rule adopt documents: a digest
 * ocikit computed itself over exactly the bytes it wrote. A session taken over from an earlier
 * process is hashed again from its file first (node:crypto cannot save a hash's state), once. A
 * wrong digest removes the file and stores nothing. A monolithic upload (the whole blob in one
 * POST or PUT) goes through `BlobStore.put` with the expected digest instead, which verifies as it
 * writes.
 *
 * DURABLE: each chunk's data is fsynced before the PATCH is answered (unless --no-sync), so the
 * offset a client was told survives a crash; a chunk that fails half-way (the client went away, a
 * timeout) is rolled back: the file is cut back to where the chunk began and the hash restored.
 *
 * BOUNDED: a session's data file is created by its first byte (sessions opened and abandoned leave
 * nothing but a small state file); a session idle for `expiryMs` is removed with its files, by a
 * timer and at start-up; one client (a user, or an address when anonymous) holds at most
 * `perClient` sessions at once — more are refused with 429 TOOMANYREQUESTS.
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { constants, promises as fsp, readFileSync, readdirSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { algorithmOf, digestFile, type Digest } from '../digest/index.js';
import type { BlobStore, StoredBlob } from '../store/index.js';
import { ApiError } from './errors.js';

/** Defaults: an upload nobody touched for this long is dropped with its data; sessions per client. */
export const DEFAULT_UPLOAD_EXPIRY_MS = 60 * 60_000;
export const DEFAULT_UPLOADS_PER_CLIENT = 100;
/** Writes are gathered into blocks of this size before they reach the file. */
const WRITE_BLOCK = 1 << 20;
const ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What `<id>.json` records. */
interface SessionState {
  repository: string;
  client: string;
  created: number;
}

/** One upload in progress. */
export interface UploadSession {
  readonly id: string;
  readonly repository: string;
  readonly client: string;
  /** The data file (created by the first byte). */
  readonly path: string;
  /** Bytes received so far. */
  offset: number;
  /** The hash of the first `offset` bytes; undefined until computed (a session from an earlier process). */
  hash: Hash | undefined;
  fh: fsp.FileHandle | undefined;
  /** A request is writing to it now. */
  busy: boolean;
  lastUsed: number;
}

export interface UploadOptions {
  expiryMs?: number;
  perClient?: number;
}

/** The server's uploads: create, append, finish, cancel; idle ones expire. */
export class Uploads {
  readonly #sessions = new Map<string, UploadSession>();
  readonly #timer: NodeJS.Timeout;
  readonly #dir: string;
  readonly #expiryMs: number;
  readonly #perClient: number;
  /** Called when the number of open sessions changes (the server's gc lease watches it). */
  onChange: (() => void) | undefined;

  constructor(
    private readonly store: BlobStore,
    opts: UploadOptions = {},
  ) {
    this.#dir = store.uploadsDir();
    this.#expiryMs = opts.expiryMs ?? DEFAULT_UPLOAD_EXPIRY_MS;
    this.#perClient = opts.perClient ?? DEFAULT_UPLOADS_PER_CLIENT;
    this.#loadAll();
    this.#timer = setInterval(() => void this.#expire(), Math.max(100, Math.min(60_000, Math.floor(this.#expiryMs / 4))));
    this.#timer.unref();
  }

  get open(): number {
    return this.#sessions.size;
  }

  /** Start a session for `client` (a user name, or "@ADDRESS" when anonymous); 429 over the cap. */
  async create(repository: string, client: string): Promise<UploadSession> {
    let held = 0;
    for (const s of this.#sessions.values()) if (s.client === client) held++;
    if (held >= this.#perClient) {
      throw new ApiError('TOOMANYREQUESTS', `too many uploads in progress (${held}); finish or cancel some first`, { limit: this.#perClient }, { status: 429 });
    }
    const id = randomUUID();
    const state: SessionState = { repository, client, created: Date.now() };
    // Counted from now on (concurrent creates see it); busy until its state file is in place.
    const s = this.#session(id, state, 0, Date.now());
    s.hash = createHash('sha256');
    s.busy = true;
    this.onChange?.();
    // The state file is written whole, then renamed into place: a crash never leaves half of one.
    const tmp = join(this.#dir, `${id}.json.tmp`);
    try {
      await fsp.writeFile(tmp, JSON.stringify(state), { mode: 0o600, flag: 'wx' });
      await fsp.rename(tmp, this.#statePath(id));
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      this.#sessions.delete(id);
      this.onChange?.();
      throw err;
    }
    s.busy = false;
    return s;
  }

  /** The session `id` of `repository`; BLOB_UPLOAD_UNKNOWN otherwise. */
  get(repository: string, id: string): UploadSession {
    const s = this.#sessions.get(id) ?? (ID_RE.test(id) ? this.#load(id) : undefined);
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
    const hash = await this.#hash(s);
    const before = { offset: s.offset, hash: hash.copy() };
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
        hash.update(chunk);
        block.push(chunk);
        blockLen += chunk.length;
        s.lastUsed = Date.now();
        if (blockLen >= WRITE_BLOCK) await flush();
      }
      // A body cut short (the client went away) ends the iteration without an error on some paths.
      if (!body.complete) throw new ApiError('BLOB_UPLOAD_INVALID', 'the request body ended early');
      await flush();
      // The offset the client is told survives a crash.
      if (this.store.durable && s.fh) await s.fh.sync();
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
      const got = algorithmOf(digest) === 'sha256' ? (`sha256:${(await this.#hash(s)).digest('hex')}` as Digest) : (await digestFile(await this.#ensureFile(s), algorithmOf(digest))).digest;
      if (got !== digest) throw new ApiError('DIGEST_INVALID', `the uploaded content has digest ${got}, not ${digest}`, { digest });
      const fh = await this.#file(s);
      if (this.store.durable) await fh.sync();
      s.fh = undefined;
      await fh.close();
      // adopt removes the file whatever happens.
      return await this.store.adopt(s.path, { digest, size: s.offset, what });
    } finally {
      await this.#remove(s);
    }
  }

  /** Drop the session and its data. */
  async cancel(s: UploadSession): Promise<void> {
    if (!this.#sessions.delete(s.id)) return;
    this.onChange?.();
    await this.#remove(s);
  }

  /** Stop expiring and close the open files; the sessions stay in the store for the next start. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const s of this.#sessions.values()) {
      const fh = s.fh;
      s.fh = undefined;
      await fh?.close().catch(() => undefined);
    }
    this.#sessions.clear();
  }

  #statePath(id: string): string {
    return join(this.#dir, `${id}.json`);
  }

  #session(id: string, state: SessionState, offset: number, lastUsed: number): UploadSession {
    const s: UploadSession = { id, repository: state.repository, client: state.client, path: join(this.#dir, `${id}.data`), offset, hash: undefined, fh: undefined, busy: false, lastUsed };
    this.#sessions.set(id, s);
    return s;
  }

  /** Take over a session an earlier process (or another server on this store) left; undefined when there is none. */
  #load(id: string): UploadSession | undefined {
    let state: SessionState;
    let stamp: number;
    try {
      const st = statSync(this.#statePath(id));
      state = JSON.parse(readFileSyncSmall(this.#statePath(id))) as SessionState;
      stamp = st.mtimeMs;
    } catch {
      return undefined;
    }
    if (typeof state.repository !== 'string' || typeof state.client !== 'string') return undefined;
    let offset = 0;
    try {
      const data = statSync(join(this.#dir, `${id}.data`));
      offset = data.size;
      stamp = Math.max(stamp, data.mtimeMs);
    } catch {
      // no byte received yet
    }
    const s = this.#session(id, state, offset, stamp);
    this.onChange?.();
    return s;
  }

  /** At start-up: take over every session in the store; those idle too long go (#expire). */
  #loadAll(): void {
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch {
      return;
    }
    for (const n of names) {
      const id = n.replace(/\.json$/, '');
      if (n.endsWith('.json') && ID_RE.test(id)) this.#load(id);
      // A state file a crash left half-written, or data whose state is gone: nothing can resume them.
      else if (n.endsWith('.json.tmp') || (n.endsWith('.data') && !names.includes(`${n.slice(0, -5)}.json`))) void fsp.rm(join(this.#dir, n), { force: true }).catch(() => undefined);
    }
    void this.#expire();
  }

  /** The session's hash, computed from its file when it was taken over from an earlier process. */
  async #hash(s: UploadSession): Promise<Hash> {
    if (s.hash) return s.hash;
    const h = createHash('sha256');
    if (s.offset > 0) {
      const fh = await fsp.open(s.path, 'r');
      try {
        const buf = Buffer.allocUnsafe(WRITE_BLOCK);
        for (let pos = 0; pos < s.offset;) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, s.offset - pos), pos);
          if (bytesRead === 0) break;
          h.update(buf.subarray(0, bytesRead));
          pos += bytesRead;
        }
      } finally {
        await fh.close();
      }
    }
    s.hash = h;
    return h;
  }

  /** The session's data file, opened (created on first use). */
  async #file(s: UploadSession): Promise<fsp.FileHandle> {
    // Read-write, created when absent, never truncated nor in append mode (writes are positional).
    return (s.fh ??= await fsp.open(s.path, constants.O_RDWR | constants.O_CREAT, 0o600));
  }

  /** The data file's path, created empty when no byte came (a zero-length blob). */
  async #ensureFile(s: UploadSession): Promise<string> {
    await this.#file(s);
    return s.path;
  }

  /** Close and remove the session's files. */
  async #remove(s: UploadSession): Promise<void> {
    const fh = s.fh;
    s.fh = undefined;
    await fh?.close().catch(() => undefined);
    await fsp.rm(s.path, { force: true }).catch(() => undefined);
    await fsp.rm(this.#statePath(s.id), { force: true }).catch(() => undefined);
  }

  async #expire(): Promise<void> {
    const old = Date.now() - this.#expiryMs;
    for (const s of [...this.#sessions.values()]) if (!s.busy && s.lastUsed < old) await this.cancel(s);
  }
}

/** A state file (a few hundred bytes; anything larger is not one of ours). */
function readFileSyncSmall(path: string): string {
  if (statSync(path).size > 64 << 10) throw new Error('too large');
  return readFileSync(path, 'utf8');
}
