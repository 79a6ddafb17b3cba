/**
 * Writing tar archives: the image archives (oci-archive:, docker-archive:) and the docker-archive
 * a daemon loads.
 *
 * Two modes, chosen by the target:
 * - FILE (a path that is, or will be, a regular file): members are placed at offsets chosen when
 *   they are added, in a temp file next to the target that is renamed over it at commit. A member
 *   of known size can be RESERVED: its header is written at once and its data is written later,
 *   by whoever has the bytes — a worker that reads, verifies and writes a blob in one pass — while
 *   other members are added after it. Several members are written at once; nothing is buffered.
 *   Nothing is visible before commit, and a failed or abandoned write leaves the target as it was.
 * - STREAM (/dev/stdout, a pipe or device, any Writable): members are written one after another
 *   through tar-stream's pack, in the order they are added. Pipes cannot be replaced atomically:
 *   a failure leaves a truncated stream, which every tar reader rejects (no end-of-archive blocks).
 *
 * Member sizes are known before their data is written (tar headers come first) in both modes.
 */
import { constants as fsc, promises as fsp } from 'node:fs';
import { dirname, posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Pack } from 'tar-stream';
import { tarStream } from '../../lazy.js';
import { OcikitError, wrapError } from '../../errors.js';
import type { BlobReservation } from '../types.js';
import { payloadStream } from '../payload.js';
import type { FileIdentity, TarArchive } from './archive.js';
import { ensureDir } from '../../fs/dirs.js';
import { cleanupOnExit, forgetCleanup, syncDir, tempNameFor } from '../../fs/durable.js';
import { withLockFile } from '../fs-util.js';
import { nextEvent } from './events.js';
import { sweepLeftovers } from '../leftovers.js';
import { BLOCK, encodeHeader, padding } from './header.js';
import { isStdoutPath } from './std-paths.js';

/** Member timestamps: fixed, so the same content gives the same archive bytes (as docker save and skopeo). */
const MTIME = new Date(0);

type Sink = Writable;

/** An archive being written (see the module comment). */
export interface TarWriter {
  /** Where the archive goes, for messages. */
  readonly where: string;
  /** Add a directory entry (once per name). */
  addDirectory(name: string): Promise<void>;
  /** Add a file member holding `data`. */
  addBuffer(name: string, data: Buffer): Promise<void>;
  /** Add a file member of exactly `size` bytes from `stream`; a different length is an error. */
  addStream(name: string, size: number, stream: () => Readable | AsyncIterable<Buffer>): Promise<void>;
  /** Add a symlink member. */
  addSymlink(name: string, target: string): Promise<void>;
  /**
   * FILE mode only (undefined in STREAM mode): room for a file member of `size` bytes, whose
   * data the caller writes at `offset` of `path` and then reports `done()`. Commit fails while a
   * reservation is neither done nor abandoned; an abandoned one fails the archive.
   */
  reserve?(name: string, size: number): Promise<BlobReservation>;
  /**
   * Finish the archive (end-of-archive blocks), flush it to disk, and move it into place. After
   * this the archive is visible at its target, complete. `precondition` runs just before the
   * rename, under `<target>.lock`; throwing from it abandons the commit (see FileIdentity).
   */
  commit(precondition?: () => Promise<void>): Promise<void>;
  /** Abandon the archive: the target is left as it was. Idempotent. */
  abort(): Promise<void>;
  /** Bytes written so far; after commit, the archive's size. */
  readonly size: number;
}

/**
 * Start an archive for `target`: /dev/stdout (this process's stdout), an existing pipe or device
 * (written directly), or a file path (a temp file next to it, renamed at commit). The parent
 * directory of a file target is created.
 */
export async function openTarWriter(target: string, where: string, opts: { sync?: boolean } = {}): Promise<TarWriter> {
  if (isStdoutPath(target)) {
    if (process.stdout.isTTY) throw new OcikitError('E_USAGE', `writing ${where}: standard output is a terminal; redirect it to a file or a pipe`);
    return new StreamTarWriter(where, process.stdout, false, undefined);
  }
  const st = await fsp.stat(target).catch(() => undefined);
  if (st && st.isDirectory()) throw new OcikitError('E_CONFLICT', `writing ${where}: ${target} is a directory`);
  if (st && !st.isFile()) {
    const fh = await fsp.open(target, fsc.O_WRONLY).catch((err) => {
      throw wrapError(err, `opening ${where} for writing`);
    });
    return new StreamTarWriter(where, fh.createWriteStream({ autoClose: false, highWaterMark: 1 << 20 }), true, fh);
  }
  await ensureDir(dirname(target)); // HARDEN(issue 9, bug 2): bounded mkdir -p, see lib/fs/dirs.ts
  await sweepLeftovers(target);
  const tmp = tempNameFor(target);
  const fh = await fsp.open(tmp, 'wx', 0o644).catch((err) => {
    throw wrapError(err, `writing ${where}`);
  });
  cleanupOnExit(tmp);
  return new FileTarWriter(where, target, tmp, fh, opts.sync !== false);
}

/** An archive written into any Writable (a request body, a socket), in STREAM mode. The caller ends nothing: commit ends it. */
export function tarWriterToStream(out: Writable, where: string): TarWriter {
  return new StreamTarWriter(where, out, true, undefined);
}

/** A reservation's state, for commit's check that every member got its bytes. */
type ReservationState = 'open' | 'done' | 'abandoned';

/** FILE mode (see the module comment). */
class FileTarWriter implements TarWriter {
  /** Where the next member's header goes. */
  #end = 0;
  readonly #dirs = new Set<string>();
  readonly #reservations = new Map<string, ReservationState>();
  /** Writes in flight (headers, buffers, streams): commit waits for them all. */
  readonly #writes = new Set<Promise<void>>();
  #failure: OcikitError | undefined;
  #finished = false;
  #committed = false;

  constructor(
    readonly where: string,
    private readonly target: string,
    private readonly tmp: string,
    private readonly fh: fsp.FileHandle,
    private readonly sync: boolean,
  ) {}

  /** Claim header + data + padding at the end; write the header; returns where the data goes. */
  #claim(h: Parameters<typeof encodeHeader>[0]): number {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#finished) throw new OcikitError('E_INTERNAL', `writing ${this.where}: the archive is already finished`);
    const header = encodeHeader(h);
    const at = this.#end;
    const dataAt = at + header.length;
    this.#end = dataAt + h.size + padding(h.size);
    // Not awaited here: commit awaits every tracked write, and a failed one is kept in #failure, which the
    // next member and commit throw.
    void this.#track(this.#writeAt(header, at));
    return dataAt;
  }

  #track(p: Promise<void>): Promise<void> {
    const q = p.catch((err: unknown) => {
      this.#failure ??= wrapError(err, `writing ${this.where}`);
      throw this.#failure;
    });
    this.#writes.add(q);
    void q.finally(() => this.#writes.delete(q)).catch(() => undefined);
    return q;
  }

  async #writeAt(b: Buffer, pos: number): Promise<void> {
    let off = 0;
    while (off < b.length) off += (await this.fh.write(b, off, b.length - off, pos + off)).bytesWritten;
  }

  async addDirectory(name: string): Promise<void> {
    const n = name.endsWith('/') ? name : `${name}/`;
    if (this.#dirs.has(n)) return;
    this.#dirs.add(n);
    this.#claim({ name: n, type: 'directory', size: 0, mode: 0o755 });
  }

  async addBuffer(name: string, data: Buffer): Promise<void> {
    const at = this.#claim({ name, type: 'file', size: data.length, mode: 0o644 });
    await this.#track(this.#writeAt(data, at));
  }

  async addStream(name: string, size: number, stream: () => Readable | AsyncIterable<Buffer>): Promise<void> {
    const at = this.#claim({ name, type: 'file', size, mode: 0o644 });
    await this.#track(
      (async () => {
        let written = 0;
        const chunks: AsyncIterable<Uint8Array> = stream();
        for await (const c of chunks) {
          const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c);
          if (written + chunk.length > size) throw new OcikitError('E_SIZE_MISMATCH', `member ${name}: more than the expected ${size} bytes`);
          await this.#writeAt(chunk, at + written);
          written += chunk.length;
        }
        if (written !== size) throw new OcikitError('E_SIZE_MISMATCH', `member ${name}: got ${written} bytes, expected ${size}`);
      })(),
    );
  }

  async addSymlink(name: string, target: string): Promise<void> {
    this.#claim({ name, type: 'symlink', size: 0, mode: 0o777, linkname: target });
  }

  async reserve(name: string, size: number): Promise<BlobReservation> {
    const offset = this.#claim({ name, type: 'file', size, mode: 0o644 });
    const key = `${offset}:${name}`;
    this.#reservations.set(key, 'open');
    return {
      path: this.tmp,
      offset,
      size,
      done: async () => {
        this.#reservations.set(key, 'done');
      },
      abandon: async () => {
        this.#reservations.set(key, 'abandoned');
        this.#failure ??= new OcikitError('E_ABORTED', `writing ${this.where}: member ${name} was not written`);
      },
    };
  }

  async commit(precondition?: () => Promise<void>): Promise<void> {
    try {
      while (this.#writes.size > 0) await Promise.all([...this.#writes]);
      if (this.#failure !== undefined) throw this.#failure;
      for (const [key, state] of this.#reservations) {
        if (state !== 'done') throw new OcikitError('E_INTERNAL', `committing ${this.where}: member ${key.slice(key.indexOf(':') + 1)} was never written`);
      }
      this.#finished = true;
      // End of archive: two zero blocks. Truncating to the exact end also zero-fills any padding hole.
      await this.fh.truncate(this.#end + 2 * BLOCK);
      if (this.sync) await this.fh.sync();
      await this.fh.close();
      const tmp = this.tmp;
      const target = this.target;
      // Under a lock, so that `precondition` (the target is still what we read) and the rename
      // are one step for every ocikit writer of this archive.
      await withLockFile(`${target}.lock`, async () => {
        await precondition?.();
        await fsp.rename(tmp, target);
      });
      forgetCleanup(tmp);
      this.#committed = true;
      if (this.sync) await syncDir(dirname(target));
    } catch (err) {
      throw wrapError(err, `committing ${this.where}`);
    }
  }

  /** The archive's extent: every member claimed, and the end-of-archive blocks once committed. */
  get size(): number {
    return this.#end + (this.#committed ? 2 * BLOCK : 0);
  }

  async abort(): Promise<void> {
    this.#finished = true;
    this.#failure ??= new OcikitError('E_ABORTED', `writing ${this.where}: abandoned`);
    await Promise.allSettled([...this.#writes]);
    await this.fh.close().catch(() => undefined);
    await fsp.rm(this.tmp, { force: true }).catch(() => undefined);
    forgetCleanup(this.tmp);
  }
}

/** STREAM mode (see the module comment): tar-stream's pack, members one after another. */
class StreamTarWriter implements TarWriter {
  private readonly pack: Pack;
  private queue: Promise<void> = Promise.resolve();
  /** The first failure, boxed so that whatever a member threw is rethrown as it came. */
  private failure: { error: unknown } | undefined;
  private readonly pumped: Promise<void>;
  private finished = false;
  private readonly dirs = new Set<string>();
  /** Bytes handed to the output so far. */
  size = 0;

  constructor(
    /** Where the archive goes, for messages. */
    readonly where: string,
    private readonly out: Sink,
    private readonly ownsOut: boolean,
    private readonly fh: fsp.FileHandle | undefined,
  ) {
    this.pack = tarStream().pack();
    // An output error (EPIPE on a closed pipe, ENOSPC) stops the archive; it is reported by the
    // member being written or by commit, never as an unhandled 'error' event.
    out.on('error', (err: unknown) => {
      this.failure ??= { error: wrapError(err, `writing ${where}`) };
    });
    this.pumped = this.pump();
    this.pumped.catch(() => undefined);
  }

  /** Move the packed bytes to the output, honouring its backpressure. */
  private async pump(): Promise<void> {
    for await (const chunk of this.pack as AsyncIterable<Buffer>) {
      if (this.failure !== undefined) throw this.failure.error;
      this.size += chunk.length;
      if (!this.out.write(chunk)) await drained(this.out);
    }
    if (this.ownsOut)
      await new Promise<void>((resolve, reject) => {
        this.out.once('error', reject);
        this.out.end(() => resolve());
      });
  }

  private enqueue<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.failure !== undefined) throw this.failure.error;
      if (this.finished) throw new OcikitError('E_INTERNAL', `writing ${this.where}: the archive is already finished`);
      try {
        return await fn();
      } catch (err) {
        // A member that failed half-way has corrupted the stream: nothing more may be written.
        this.failure ??= { error: err };
        throw wrapError(err, `writing ${what} to ${this.where}`);
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** Add a directory entry (once per name). */
  addDirectory(name: string): Promise<void> {
    return this.enqueue(name, async () => {
      if (this.dirs.has(name)) return;
      this.dirs.add(name);
      await this.entry({ name: name.endsWith('/') ? name : `${name}/`, type: 'directory', mode: 0o755 }, undefined);
    });
  }

  /** Add a file member holding `data`. */
  addBuffer(name: string, data: Buffer): Promise<void> {
    return this.enqueue(name, () =>
      this.entry(
        { name, type: 'file', mode: 0o644, size: data.length },
        (async function* () {
          yield data;
        })(),
      ),
    );
  }

  /** Add a file member of exactly `size` bytes from `stream`; a different length is an error. */
  addStream(name: string, size: number, stream: () => Readable | AsyncIterable<Buffer>): Promise<void> {
    return this.enqueue(name, () => this.entry({ name, type: 'file', mode: 0o644, size }, stream()));
  }

  /** Add a symlink member. */
  addSymlink(name: string, target: string): Promise<void> {
    return this.enqueue(name, () => this.entry({ name, type: 'symlink', mode: 0o777, linkname: target }, undefined));
  }

  private async entry(header: { name: string; type: 'file' | 'directory' | 'symlink'; mode: number; size?: number; linkname?: string }, data: AsyncIterable<Buffer> | undefined): Promise<void> {
    const full = { ...header, mtime: MTIME, uid: 0, gid: 0, uname: '', gname: '' };
    let done!: (err?: Error) => void;
    const entryDone = new Promise<void>((resolve, reject) => {
      done = (err) => (err ? reject(err) : resolve());
    });
    const sink = this.pack.entry(full, (err) => done(err ?? undefined));
    if (data) {
      let written = 0;
      for await (const c of data) {
        const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c);
        written += chunk.length;
        if (header.size !== undefined && written > header.size) {
          throw new OcikitError('E_SIZE_MISMATCH', `member ${header.name}: more than the expected ${header.size} bytes`);
        }
        if (!sink.write(chunk)) await Promise.race([drained(sink), this.pumpFailure()]);
      }
      if (header.size !== undefined && written !== header.size) {
        throw new OcikitError('E_SIZE_MISMATCH', `member ${header.name}: got ${written} bytes, expected ${header.size}`);
      }
    }
    sink.end(undefined); // streamx types end's argument as required; undefined ends without writing
    await Promise.race([entryDone, this.pumpFailure()]);
  }

  /** Rejects when the output fails (so a member waiting for room does not wait forever). */
  private pumpFailure(): Promise<never> {
    return this.pumped.then(
      () => new Promise<never>(() => undefined),
      (err) => {
        throw err;
      },
    );
  }

  async commit(): Promise<void> {
    await this.enqueue('the end of the archive', async () => {
      this.finished = true;
      this.pack.finalize();
      await this.pumped;
    });
    try {
      if (this.fh) {
        // A stream made with autoClose:false holds the handle until destroyed (close() would wait forever).
        this.out.destroy();
        await this.fh.close();
      }
    } catch (err) {
      throw wrapError(err, `committing ${this.where}`);
    }
  }

  async abort(): Promise<void> {
    if (!this.finished) {
      this.finished = true;
      this.failure ??= { error: new OcikitError('E_ABORTED', `writing ${this.where}: abandoned`) };
      this.pack.destroy();
      await this.pumped.catch(() => undefined);
    }
    if (this.ownsOut) this.out.destroy();
    await this.fh?.close().catch(() => undefined);
  }
}

function drained(s: NodeJS.EventEmitter): Promise<void> {
  return nextEvent(s, 'drain', () => new OcikitError('E_IO', 'the output closed'));
}

/**
 * Copy the members of `from` into `to`, in order, except those `skip` names. Regular files stream
 * from their offsets; symlinks stay symlinks; a hard link becomes a copy of what it points at (its
 * target may be a skipped member); devices and FIFOs are dropped (an image archive has none).
 */
export async function copyMembers(from: TarArchive, to: TarWriter, skip: (name: string) => boolean): Promise<void> {
  for (const m of from.list()) {
    if (skip(m.name)) continue;
    if (m.type === 'directory') {
      await to.addDirectory(m.name);
    } else if (m.type === 'file') {
      await to.addStream(m.name, m.size, () => payloadStream(from.open(m)));
    } else if (m.type === 'symlink') {
      await to.addSymlink(m.name, posix.relative(posix.dirname(m.name), m.target!) || '.');
    } else if (m.type === 'link') {
      const t = from.resolve(m.name);
      if (t && t.type === 'file') await to.addStream(m.name, t.size, () => payloadStream(from.open(t)));
    }
  }
}

/** A check run just before commit's rename (see TarWriter.commit). */
export type FileIdentityCheck = () => Promise<void>;

/** The identity of the file at `path`, or undefined when there is none. */
export async function identityOf(path: string): Promise<FileIdentity | undefined> {
  const st = await fsp.stat(path).catch(() => undefined);
  return st ? { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs } : undefined;
}

/**
 * A commit precondition: the archive at `path` is still the file read at open (or still absent).
 * A concurrent writer that committed in between would otherwise lose its image silently.
 */
export function unchangedSince(path: string, before: FileIdentity | undefined, where: string): FileIdentityCheck {
  return async () => {
    const now = await identityOf(path);
    const same = before === undefined ? now === undefined : now !== undefined && now.dev === before.dev && now.ino === before.ino && now.size === before.size && now.mtimeMs === before.mtimeMs;
    if (!same) {
      throw new OcikitError('E_CONFLICT', `committing ${where}: the archive changed since this copy started (another writer?); nothing was written`, { hint: 'run the copy again' });
    }
  };
}
