/**
 * TarWriter: streams members into a tar archive (tar-stream's pack), to a file that appears only at
 * commit, or straight to a pipe (/dev/stdout).
 *
 * File targets are written to a temp file next to the target and renamed over it at commit, so
 * nothing is visible before commit and a failed or abandoned write leaves the target as it was.
 * Pipes and devices cannot be replaced atomically: a failure there leaves a truncated stream,
 * which every tar reader rejects (no end-of-archive blocks).
 *
 * Members are written one at a time, in the order they are added; concurrent adds queue.
 * Member sizes are known before their data is written (tar headers come first), so data is never
 * buffered: a blob flows from its file into the archive.
 */
import { constants as fsc, createReadStream, promises as fsp } from 'node:fs';
import { dirname, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pack as tarPack, type Pack } from 'tar-stream';
import { OcikitError, wrapError } from '../../errors.js';
import type { BlobPayload } from '../types.js';
import type { FileIdentity, TarArchive } from './archive.js';
import { cleanupOnExit, forgetCleanup, tmpNameFor, withLockFile } from '../fs-util.js';
import { nextEvent } from './events.js';

/** Paths that mean "this process's standard output". */
export function isStdoutPath(p: string): boolean {
  return p === '/dev/stdout' || p === '/dev/fd/1' || p === '/proc/self/fd/1';
}

/** Member timestamps: fixed, so the same content gives the same archive bytes (as docker save and skopeo). */
const MTIME = new Date(0);

type Sink = NodeJS.WritableStream & { write(chunk: Buffer): boolean; end(cb?: () => void): void };

export class TarWriter {
  private readonly pack: Pack;
  private queue: Promise<void> = Promise.resolve();
  private failure: unknown;
  private readonly pumped: Promise<void>;
  private finished = false;
  private readonly dirs = new Set<string>();

  private constructor(
    /** Where the archive goes, for messages. */
    readonly where: string,
    /** The final path; undefined when streaming to stdout. */
    readonly target: string | undefined,
    /** The temp file being written, renamed onto `target` at commit; undefined when streaming. */
    private readonly tmp: string | undefined,
    private readonly fh: fsp.FileHandle | undefined,
    private readonly out: Sink,
    private readonly ownsOut: boolean,
  ) {
    this.pack = tarPack();
    // An output error (EPIPE on a closed pipe, ENOSPC) stops the archive; it is reported by the
    // member being written or by commit, never as an unhandled 'error' event.
    out.on('error', (err: unknown) => {
      this.failure ??= wrapError(err, `writing ${where}`);
    });
    this.pumped = this.pump();
    this.pumped.catch(() => undefined);
  }

  /**
   * Start an archive for `target`: /dev/stdout (this process's stdout), an existing pipe or device
   * (written directly), or a file path (a temp file next to it, renamed at commit). The parent
   * directory of a file target is created.
   */
  static async open(target: string, where: string): Promise<TarWriter> {
    if (isStdoutPath(target)) {
      if (process.stdout.isTTY) throw new OcikitError('E_USAGE', `writing ${where}: standard output is a terminal; redirect it to a file or a pipe`);
      return new TarWriter(where, undefined, undefined, undefined, process.stdout as unknown as Sink, false);
    }
    const st = await fsp.stat(target).catch(() => undefined);
    if (st && st.isDirectory()) throw new OcikitError('E_CONFLICT', `writing ${where}: ${target} is a directory`);
    if (st && !st.isFile()) {
      const fh = await fsp.open(target, fsc.O_WRONLY).catch((err) => {
        throw wrapError(err, `opening ${where} for writing`);
      });
      return new TarWriter(where, target, undefined, fh, fh.createWriteStream({ autoClose: false, highWaterMark: 1 << 20 }) as unknown as Sink, true);
    }
    await fsp.mkdir(dirname(target), { recursive: true }).catch((err) => {
      throw wrapError(err, `creating ${dirname(target)}`);
    });
    const tmp = tmpNameFor(target);
    const fh = await fsp.open(tmp, 'wx', 0o644).catch((err) => {
      throw wrapError(err, `writing ${where}`);
    });
    cleanupOnExit(tmp);
    return new TarWriter(where, target, tmp, fh, fh.createWriteStream({ autoClose: false, highWaterMark: 1 << 20 }) as unknown as Sink, true);
  }

  // --- HOOK (docker-daemon, issue 11): a writer into a caller's stream. Keep when rewriting. ---
  /**
   * Start an archive that streams into `out` (an HTTP request body for docker-daemon's load).
   * The writer owns `out`: commit() ends it after the end-of-archive blocks, abort() destroys it
   * (the reader then sees a truncated archive and refuses it). Like a pipe, nothing is atomic here:
   * the reader decides what a complete archive means.
   */
  static toStream(out: NodeJS.WritableStream, where: string): TarWriter {
    return new TarWriter(where, undefined, undefined, undefined, out as Sink, true);
  }
  // --- end HOOK ---

  /** Move the packed bytes to the output, honouring its backpressure. */
  private async pump(): Promise<void> {
    for await (const chunk of this.pack as unknown as AsyncIterable<Buffer>) {
      if (this.failure !== undefined) throw this.failure;
      if (!this.out.write(chunk)) await drained(this.out);
    }
    if (this.ownsOut) await new Promise<void>((resolve, reject) => {
      this.out.once('error', reject);
      this.out.end(() => resolve());
    });
  }

  private enqueue<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.failure !== undefined) throw this.failure;
      if (this.finished) throw new OcikitError('E_INTERNAL', `writing ${this.where}: the archive is already finished`);
      try {
        return await fn();
      } catch (err) {
        // A member that failed half-way has corrupted the stream: nothing more may be written.
        this.failure ??= err;
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
    return this.enqueue(name, () => this.entry({ name, type: 'file', mode: 0o644, size: data.length }, (async function* () {
      yield data;
    })()));
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
    let done!: (err?: unknown) => void;
    const entryDone = new Promise<void>((resolve, reject) => {
      done = (err) => (err ? reject(err) : resolve());
    });
    const sink = this.pack.entry(full, (err) => done(err ?? undefined)) as unknown as Sink;
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
    sink.end();
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

  /**
   * Finish the archive (end-of-archive blocks), flush it to disk, and move it into place. After
   * this the archive is visible at its target, complete. `precondition` runs just before the
   * rename, under `<target>.lock`; throwing from it abandons the commit (see FileIdentity).
   */
  async commit(precondition?: () => Promise<void>): Promise<void> {
    await this.enqueue('the end of the archive', async () => {
      this.finished = true;
      this.pack.finalize();
      await this.pumped;
    });
    try {
      if (this.fh) {
        if (this.tmp) await this.fh.sync();
        // A stream made with autoClose:false holds the handle until destroyed (close() would wait forever).
        (this.out as unknown as { destroy(): void }).destroy();
        await this.fh.close();
      }
      if (this.tmp && this.target) {
        const tmp = this.tmp;
        const target = this.target;
        // Under a lock, so that `precondition` (the target is still what we read) and the rename
        // are one step for every ocikit writer of this archive.
        await withLockFile(`${target}.lock`, async () => {
          await precondition?.();
          await fsp.rename(tmp, target);
        });
        forgetCleanup(tmp);
      }
    } catch (err) {
      throw wrapError(err, `committing ${this.where}`);
    }
  }

  /** Abandon the archive: the temp file is removed; the target is left as it was. Idempotent. */
  async abort(): Promise<void> {
    if (!this.finished) {
      this.finished = true;
      this.failure ??= new OcikitError('E_ABORTED', `writing ${this.where}: abandoned`);
      (this.pack as unknown as { destroy(err?: unknown): void }).destroy();
      await this.pumped.catch(() => undefined);
    }
    if (this.ownsOut) (this.out as unknown as { destroy(): void }).destroy();
    await this.fh?.close().catch(() => undefined);
    if (this.tmp) {
      await fsp.rm(this.tmp, { force: true }).catch(() => undefined);
      forgetCleanup(this.tmp);
    }
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

function payloadStream(p: BlobPayload): Readable {
  return p.kind === 'stream' ? p.stream : createReadStream(p.path, { highWaterMark: 1 << 20 });
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
