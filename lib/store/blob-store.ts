/**
 * The content-addressed blob store: one file per blob under `<root>/blobs/<algorithm>/<hex>`,
 * written by tmp + rename, indexed in `<root>/index-v1.sqlite`.
 */
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, existsSync, openSync, readSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { chmod, copyFile, link, mkdir, open, readFile, rename, rm, utimes, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { algorithmOf, digestBytes, digestFile, hexOf, parseDigest, shortDigest, verifyBytes, VerifyingStream, type Digest, type VerifyExpectation } from '../digest/index.js';
import { isOcikitError, OcikitError, wrapError } from '../errors.js';
import { ensureDirSync } from '../fs/dirs.js';
import { sweepOwnTempsOnExit, syncFile, tempNameFor, writeNewFile } from '../fs/durable.js';
import { IndexDb, INDEX_FILE, type BlobRow } from './index-db.js';
import { BlobInfoCache } from './info-cache.js';
import { linkOrCopy, type LinkMethod } from './link.js';
import { defaultStoreDir } from './location.js';

/**
 * What `put` stores: a stream, bytes, or a file. `{path, move: true}` hands over a private file on
 * the store's filesystem (a worker's output in `<root>/tmp`): it is renamed in rather than copied,
 * and still hashed before it is placed. The caller MUST NOT use the file afterwards.
 */
export type PutInput = NodeJS.ReadableStream | { path: string; move?: boolean } | Uint8Array;

/** What the caller knows about the content; every field given is verified. */
export interface PutExpectation {
  digest?: Digest;
  /** bytes; undefined or -1 when unknown */
  size?: number;
  mediaType?: string;
  /** describes the content in error messages: "layer sha256:ab12… from oci:/x" */
  what: string;
}

export interface StoredBlob {
  digest: Digest;
  size: number;
  path: string;
}

/** A file brought into the store's tmp directory by `stageLink`, waiting to be hashed and placed. */
export interface StagedBlob {
  /** The staged name (in the store's tmp directory); a worker hashes this path. */
  path: string;
  method: 'reflink' | 'hardlink';
  /** The file as it was when staged; it must be unchanged when placed. */
  identity: { ino: number; size: number; mtimeMs: number };
}

export interface RefEntry {
  name: string;
  digest: Digest;
  /** ms since the epoch */
  updated: number;
}

/** A hold on the store that keeps gc away from blobs used since it was taken. */
export interface Lease {
  release(): void;
}

/**
 * The store as transports and the copy pipeline hold it (handle.ts says why): never an optional
 * store, but a handle that opens it on first use. A transport that needs the store calls `get()`;
 * one that only has something to offer it when it is open anyway (an advisory fact it learnt) asks
 * `opened()`. Closing is the owner's business (LazyStore.close, BlobStore.close): a holder never
 * closes it. An open BlobStore is its own handle.
 */
export interface StoreHandle {
  /**
   * The store, opened on the first call (its directories created); the same store on every later
   * call. Throws E_STORE, with a hint, when the directory cannot be used (as BlobStore.open).
   */
  get(): BlobStore;
  /**
   * The store if it is open already, else undefined; never opens it. For what is worth recording
   * only where the store is in use anyway: a fact that would cost the store's opening to keep.
   */
  opened(): BlobStore | undefined;
}

/** The default limit of `readBytes`: manifests and configs are small; a layer read by mistake is not. */
const DEFAULT_READ_LIMIT = 64 << 20;

/**
 * The one content-addressed blob store.
 *
 * PROMISES:
 * - A file under blobs/ is complete and was verified against its name when it was placed there
 *   (tmp + verify + rename); no reader ever sees a partial blob.
 * - Several processes and threads may share one store: blob files are placed by atomic rename of
 *   uniquely named tmp files, and the index is SQLite in WAL mode with a busy timeout.
 * - A later change to a destination that received a blob by hard link can never make the store
 *   serve wrong bytes: `stat` (which `has`, `open`, `readBytes` and `linkTo` go through) notices
 *   the change and drops the blob (see `stat`).
 */
export class BlobStore implements StoreHandle {
  readonly root: string;
  #index: IndexDb | undefined;
  #cache: BlobInfoCache | undefined;
  #closed = false;
  /**
   * Whether blob files are fsynced before they are recorded (default). Off (`--no-sync`), a power
   * loss can leave recorded blobs truncated: `stat` then finds their size changed and drops them,
   * so the store never serves wrong bytes, but what was copied must be copied again.
   */
  readonly durable: boolean;
  /**
   * The clock of the times the index records (a blob's last use, a ref's update, a lease's start,
   * the blob-info cache's); Date.now unless a test gives another. File times are always the
   * filesystem's.
   */
  readonly now: () => number;
  readonly #tmpDir: string;
  readonly #leases = new Set<string>();
  /** Leases taken before the index was opened: recorded, with their start, when it is (see lease()). */
  readonly #pendingLeases = new Map<string, number>();

  private constructor(root: string, durable: boolean, now: () => number) {
    this.root = root;
    this.durable = durable;
    this.now = now;
    this.#tmpDir = join(root, 'tmp');
  }

  /**
   * @internal the index (maintenance.ts uses it), opened on first use: opening a store is a mkdir,
   * and SQLite (a native module and a file) is loaded only by a command that reads or writes it.
   */
  get index(): IndexDb {
    if (this.#closed) throw new OcikitError('E_STORE', `the blob store at ${this.root} is closed`);
    if (this.#index) return this.#index;
    const index = new IndexDb(join(this.root, INDEX_FILE));
    this.#index = index;
    for (const [id, started] of this.#pendingLeases) {
      this.#db('taking a store lease', () => index.insertLease.run(id, process.pid, started));
      this.#leases.add(id);
    }
    this.#pendingLeases.clear();
    return index;
  }

  /** What this machine learned about blobs (see BlobInfoCache). */
  get cache(): BlobInfoCache {
    return (this.#cache ??= new BlobInfoCache(this.index, this.now));
  }

  /**
   * Open the store at `dir` (default: `defaultStoreDir()`), creating its directories and index.
   * Throws E_STORE, with a hint, when the directory or the index cannot be used. `now`: the
   * clock of the index's times (see `now`), for tests that order them without waiting.
   */
  static open(dir: string = defaultStoreDir(), opts: { durable?: boolean; now?: () => number } = {}): BlobStore {
    const root = resolve(dir);
    try {
      // A bounded mkdir -p: Node's own recursive mkdir spins forever under /proc (lib/fs/dirs.ts).
      ensureDirSync(join(root, 'blobs', 'sha256'));
      ensureDirSync(join(root, 'tmp'));
    } catch (err) {
      const e = wrapError(err, `opening the blob store at ${root}`, 'E_STORE');
      throw new OcikitError('E_STORE', e.message, { cause: err, hint: 'set OCIKIT_STORE to a writable directory' });
    }
    // The blobs this process is writing, if it is interrupted: gone at exit (lib/fs/durable.ts).
    sweepOwnTempsOnExit(join(root, 'tmp'));
    return new BlobStore(root, opts.durable !== false, opts.now ?? Date.now);
  }

  /** An open store is its own handle (StoreHandle): this store. */
  get(): BlobStore {
    return this;
  }

  /** This store, unless it was closed (StoreHandle). */
  opened(): BlobStore | undefined {
    return this.#closed ? undefined : this;
  }

  /** Where the blob with digest `d` lives (whether or not it exists). */
  pathOf(d: Digest): string {
    return join(this.root, 'blobs', algorithmOf(d), hexOf(d));
  }

  /**
   * The blob's size and path if the store holds it intact; undefined otherwise. Marks it used (gc).
   *
   * TAMPER CHECK. Blobs reach destinations by `linkTo`, which may hard-link: the destination then
   * shares the store file's inode, and an in-place write there (an editor, `>>`, a tool that
   * patches a layer) silently changes the store's bytes too. Re-hashing on every use would cost
   * as much as the copy it saves, so `put` records the file's size, mtime and inode, and this
   * compares them: any write through any link moves mtime (and a replaced file has another inode).
   * `put` stamps the mtime a whole second in the past, so even a write within the same coarse
   * kernel clock tick as the put is seen. When they differ, the file is re-hashed (synchronously):
   * if the content still matches, the new mtime is recorded; if not, the file and its row are
   * removed silently and undefined is returned, so the caller fetches the blob again.
   * Reflinks and copies never share bytes, so they never trip this.
   */
  stat(d: Digest): { size: number; path: string } | undefined {
    this.#assertOpen();
    const digest = parseDigest(d, 'blob digest');
    return this.#db(`looking up blob ${shortDigest(digest)}`, () => this.#stat(digest, 2));
  }

  #stat(d: Digest, attempts: number): { size: number; path: string } | undefined {
    const path = this.pathOf(d);
    const st = statQuiet(path);
    if (!st || !st.isFile()) return undefined;
    const row = this.index.getBlob.get(d);
    if (row && matchesRow(row, st)) {
      // The row may vanish between our read and this write: gc deleted it and is unlinking the
      // file under the same write lock. Zero changes means exactly that.
      if (this.index.touchBlob.run(this.now(), d).changes === 1) return { size: st.size, path };
      if (!existsSync(path)) return undefined;
    }
    // Slow path: the file changed since we trusted it, or it has no row (a put that crashed
    // between rename and insert, or an index that was rebuilt). Hash what is there.
    const ok = (row === undefined || row.size === st.size) && hashFileSync(path, algorithmOf(d)) === d;
    const now = statQuiet(path);
    if (!now || now.ino !== st.ino || now.mtimeMs !== st.mtimeMs || now.size !== st.size) {
      // Replaced or written while we hashed (another put renaming a fresh copy in): look again.
      return attempts > 1 ? this.#stat(d, attempts - 1) : undefined;
    }
    if (!ok) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
      this.index.deleteBlob.run(d);
      return undefined;
    }
    this.index.upsertBlob.run({ digest: d, size: st.size, mediaType: row?.media_type ?? null, now: this.now(), mtimeMs: st.mtimeMs, ino: st.ino });
    return { size: st.size, path };
  }

  /** True when the store holds `d` intact (same check as `stat`). */
  has(d: Digest): boolean {
    return this.stat(d) !== undefined;
  }

  /**
   * Store content, verifying it against `expect` on the way in, and return where it is.
   *
   * - Stream and bytes are written to `<root>/tmp/<hex>.<pid>.<threadId>.<random>.tmp` through a
   *   verifying stream; a `{path}` is copied (reflink where the filesystem can) and then THE COPY
   *   is hashed, so what is verified is what is stored even if the source changes meanwhile.
   * - On success the tmp file is made read-only and renamed onto `blobs/<alg>/<hex>`; rename is
   *   atomic, so two writers of one digest (threads or processes) both succeed and leave one
   *   complete file. The tmp file is removed in every case.
   * - MUST fail with E_DIGEST_MISMATCH / E_SIZE_MISMATCH (naming `expect.what`) and leave nothing
   *   in blobs/ or tmp/ when the content is not what was expected.
   * - If `expect.digest` is already stored intact, nothing is written; bytes and a stream are
   *   still verified (a stream as it is drained), so a caller who handed over the wrong content is
   *   told so (a client pushing wrong bytes under a digest we hold gets DIGEST_INVALID, not 201).
   *   A `{path}` is not read again: the stored copy is what counts.
   * - Without `expect.digest`, the digest (sha256) is computed and returned.
   */
  async put(input: PutInput, expect: PutExpectation): Promise<StoredBlob> {
    this.#assertOpen();
    const want = expect.digest === undefined ? undefined : parseDigest(expect.digest, expect.what);
    const wantSize = expect.size !== undefined && expect.size >= 0 ? expect.size : undefined;

    if (want) {
      const have = this.stat(want);
      if (have) {
        if (wantSize !== undefined && wantSize !== have.size) {
          throw new OcikitError('E_SIZE_MISMATCH', `${expect.what}: expected ${wantSize} bytes, but ${shortDigest(want)} has ${have.size}`);
        }
        if (expect.mediaType) this.#recordMediaType(want, expect.mediaType);
        await drainVerified(input, { digest: want, size: wantSize, what: expect.what });
        return { digest: want, size: have.size, path: have.path };
      }
    }

    const algorithm = want ? algorithmOf(want) : 'sha256';
    const tmp = this.tmpPath(want ? hexOf(want) : randomBytes(8).toString('hex'));
    try {
      let got: { digest: Digest; size: number };
      if (input instanceof Uint8Array) {
        got = { digest: verifyBytes(input, { digest: want, size: wantSize, what: expect.what }), size: input.length };
        await writeNewFile(tmp, input, { sync: this.durable });
      } else if (isStream(input)) {
        const verifier = new VerifyingStream({ digest: want, size: wantSize, what: expect.what });
        const source = streamSource(input);
        const fh = await open(tmp, 'wx');
        try {
          // One pass: hashed as it is written, synced at the end of the stream.
          await pipeline(source, verifier, fileSink(fh, this.durable));
        } finally {
          await fh.close();
        }
        got = { digest: verifier.digest!, size: verifier.size };
      } else {
        // Copy first, hash the copy: verifying the source and then copying it would let the
        // source change in between (TOCTOU). COPYFILE_FICLONE reflinks where it can, else the
        // kernel copies (copy_file_range): no user-space pass for the copy itself.
        if (input.move) {
          // A private file handed over: a rename, no byte copy. Hashed below all the same.
          await rename(input.path, tmp);
        } else {
          await copyFile(input.path, tmp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
        }
        got = await digestFile(tmp, algorithm);
        verifyHashed(got, { digest: want, size: wantSize, what: expect.what });
        if (this.durable) await syncFile(tmp);
      }
      return await this.#place(tmp, got, expect.mediaType, true);
    } catch (err) {
      if (isOcikitError(err)) throw err;
      throw wrapError(err, `storing ${expect.what} in ${this.root}`, isSqliteError(err) ? 'E_STORE' : 'E_IO');
    } finally {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  /**
   * A fresh path in the store's tmp directory: on the blobs' filesystem (so placing is a rename)
   * and named as lib/fs/durable.ts names temp files, `<stem>.<pid>.<threadId>.<random>.tmp`, which
   * gc leaves alone while the pid lives.
   */
  tmpPath(stem: string): string {
    return tempNameFor(join(this.#tmpDir, stem.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)));
  }

  /**
   * Place `tmp` (a file in this store's tmp directory, from `tmpPath`) as the blob `expect.digest`,
   * without reading it: the caller vouches for its content.
   *
   * WHO VERIFIES: ocikit's own worker, which computed `digest` over exactly the bytes it wrote to
   * this file, in the same pass that wrote them (workers/blob.ts), and synced it. That is a hash
   * of bytes we produced, not a claim by a source; re-reading the file here would double the cost
   * of every transform for no new knowledge. The store still checks the size against the file.
   * MUST NOT be used for a file anyone else could have written. On any failure `tmp` is removed.
   */
  async adopt(tmp: string, expect: { digest: Digest; size: number; what: string; mediaType?: string }): Promise<StoredBlob> {
    this.#assertOpen();
    try {
      const digest = parseDigest(expect.digest, expect.what);
      const st = statSync(tmp);
      if (st.size !== expect.size) throw new OcikitError('E_SIZE_MISMATCH', `${expect.what}: the file has ${st.size} bytes, the worker wrote ${expect.size}`);
      return await this.#place(tmp, { digest, size: st.size }, expect.mediaType, true);
    } catch (err) {
      if (isOcikitError(err)) throw err;
      throw wrapError(err, `storing ${expect.what} in ${this.root}`, isSqliteError(err) ? 'E_STORE' : 'E_IO');
    } finally {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  /**
   * Bring the file `src` into the store without copying its bytes, as a tmp name for a worker to
   * hash (read once) before `adoptStaged` places it:
   * - a reflink (copy-on-write clone) where the filesystem can: an independent copy for free;
   * - else a HARD LINK, when that is safe: `src` is a regular file on the store's filesystem,
   *   owned by this user (another user's file in our store would let them change our bytes) and
   *   not modified in the last 2 s (so any later write moves its mtime, which `stat` compares:
   *   see TAMPER CHECK). The store then shares the inode with `src`; it never changes its mode or
   *   times;
   * - else undefined: the caller copies the bytes in the same pass that hashes them.
   */
  async stageLink(src: string): Promise<StagedBlob | undefined> {
    this.#assertOpen();
    const tmp = this.tmpPath('link');
    try {
      await copyFile(src, tmp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
      return { path: tmp, method: 'reflink', identity: identityOf(statSync(tmp)) };
    } catch {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
    let st: Stats;
    try {
      st = statSync(src);
      const here = statSync(this.#tmpDir);
      const uid = typeof process.geteuid === 'function' ? process.geteuid() : -1;
      if (!st.isFile() || st.dev !== here.dev || st.uid !== uid || Date.now() - st.mtimeMs < 2000) return undefined;
      await link(src, tmp);
    } catch {
      await rm(tmp, { force: true }).catch(() => undefined);
      return undefined;
    }
    return { path: tmp, method: 'hardlink', identity: identityOf(st) };
  }

  /**
   * Place a blob staged by `stageLink` after a worker hashed it (`got`) and found it to be
   * `expect`. A hard-linked file that changed while it was hashed (size, mtime or inode moved) is
   * refused with E_CONFLICT, and nothing is placed. The staged name is removed in every case.
   */
  async adoptStaged(staged: StagedBlob, got: { digest: Digest; size: number }, expect: { what: string; mediaType?: string }): Promise<StoredBlob> {
    this.#assertOpen();
    try {
      const now = identityOf(statSync(staged.path));
      if (now.ino !== staged.identity.ino || now.size !== staged.identity.size || now.mtimeMs !== staged.identity.mtimeMs || now.size !== got.size) {
        throw new OcikitError('E_CONFLICT', `${expect.what}: the file changed while it was read; run the copy again`);
      }
      if (this.durable) await syncFile(staged.path);
      // A reflink is our own copy: read-only and stamped like any blob. A hard link is someone's file: left as it is.
      return await this.#place(staged.path, got, expect.mediaType, staged.method === 'reflink');
    } catch (err) {
      if (isOcikitError(err)) throw err;
      throw wrapError(err, `storing ${expect.what} in ${this.root}`, isSqliteError(err) ? 'E_STORE' : 'E_IO');
    } finally {
      await rm(staged.path, { force: true }).catch(() => undefined);
    }
  }

  /** Remove a staged name that will not be placed (the hash did not match, the copy failed). */
  async discardStaged(staged: StagedBlob): Promise<void> {
    await rm(staged.path, { force: true }).catch(() => undefined);
  }

  /**
   * Rename a verified tmp file onto its digest's name and record it; keep the file already there
   * if another writer placed the digest meanwhile. `stamp`: make it read-only and set its mtime a
   * second in the past (see stat's TAMPER CHECK) — only for files the store owns.
   */
  async #place(tmp: string, got: { digest: Digest; size: number }, mediaType: string | undefined, stamp: boolean): Promise<StoredBlob> {
    if (stamp) {
      await utimes(tmp, new Date(), Math.floor(Date.now() / 1000) - 1);
      await chmod(tmp, 0o444);
    }
    const final = this.pathOf(got.digest);
    // Another writer may have placed this digest while we were writing; keep theirs.
    let placed = this.#stat(got.digest, 2);
    if (!placed) {
      const algorithm = algorithmOf(got.digest);
      if (algorithm !== 'sha256') await mkdir(join(this.root, 'blobs', algorithm), { recursive: true });
      await renameIntoPlace(tmp, final);
      const st = statSync(final);
      this.index.upsertBlob.run({ digest: got.digest, size: st.size, mediaType: mediaType ?? null, now: this.now(), mtimeMs: st.mtimeMs, ino: st.ino });
      placed = { size: st.size, path: final };
    } else if (mediaType) {
      this.#recordMediaType(got.digest, mediaType);
    }
    return { digest: got.digest, size: placed.size, path: final };
  }

  /** A stream of the blob's bytes. E_NOT_FOUND when the store does not hold it intact. */
  open(d: Digest): Readable {
    const st = this.stat(d);
    if (!st) throw notFound(d);
    // Open the descriptor now so that a gc or repair unlinking the file after this call cannot
    // turn into a stream error later: the open descriptor keeps the inode readable.
    let fd: number;
    try {
      fd = openSync(st.path, 'r');
    } catch (err) {
      throw wrapError(err, `reading blob ${shortDigest(d)} from the store`);
    }
    return createReadStream('', { fd, highWaterMark: 1 << 20 });
  }

  /**
   * The blob's bytes, verified against its digest (cheap at manifest sizes). E_NOT_FOUND when
   * absent (or found corrupt, in which case it is removed); E_MANIFEST_TOO_BIG above `maxSize`.
   */
  async readBytes(d: Digest, maxSize: number = DEFAULT_READ_LIMIT): Promise<Buffer> {
    const st = this.stat(d);
    if (!st) throw notFound(d);
    if (st.size > maxSize) {
      throw new OcikitError('E_MANIFEST_TOO_BIG', `reading blob ${shortDigest(d)} from the store: ${st.size} bytes, more than the limit of ${maxSize}`);
    }
    let data: Buffer;
    try {
      data = await readFile(st.path);
    } catch (err) {
      throw wrapError(err, `reading blob ${shortDigest(d)} from the store`);
    }
    if (digestBytes(data, algorithmOf(d)) !== d) {
      // Changed without moving size, mtime or inode: rare, but never hand out wrong bytes.
      this.#drop(d, st.path);
      throw new OcikitError('E_NOT_FOUND', `reading blob ${shortDigest(d)} from the store: it was corrupt and has been removed`);
    }
    return data;
  }

  /**
   * Make `dest` a copy of the blob: reflink, else hard link, else plain copy (see linkOrCopy).
   * `dest` MUST NOT exist (E_IO otherwise) and its directory MUST exist; the caller stages it.
   * The file is read-only (the store's mode). E_NOT_FOUND when the blob is absent.
   */
  async linkTo(d: Digest, dest: string): Promise<LinkMethod> {
    const st = this.stat(d);
    if (!st) throw notFound(d);
    try {
      return await linkOrCopy(st.path, dest);
    } catch (err) {
      throw wrapError(err, `placing blob ${shortDigest(d)} at ${dest}`);
    }
  }

  /** Point the ref `name` (e.g. "docker.io/library/busybox:latest") at a manifest digest. */
  setRef(name: string, manifest: Digest): void {
    this.#assertOpen();
    const d = parseDigest(manifest, `ref ${name}`);
    // Synced: a copy that reported success keeps its ref through a power loss.
    this.#db(`setting ref ${name}`, () => this.index.durableWrite(() => this.index.setRef.run(name, d, this.now())));
  }

  getRef(name: string): Digest | undefined {
    this.#assertOpen();
    return this.#db(`reading ref ${name}`, () => this.index.getRef.get(name)?.digest);
  }

  deleteRef(name: string): void {
    this.#assertOpen();
    this.#db(`deleting ref ${name}`, () => this.index.durableWrite(() => this.index.deleteRef.run(name)));
  }

  /** Every ref, by name. */
  refs(): RefEntry[] {
    this.#assertOpen();
    return this.#db('listing refs', () => this.index.allRefs.all().map((r) => ({ name: r.name, digest: r.digest, updated: r.updated })));
  }

  // === ADDED FOR lib/bundle (issue 13, serve and bundles): the one public method that work needed.
  /**
   * Every blob the index lists whose file is present, sorted by digest: what `ocikit bundle
   * inventory` tells a sender this store already has. Not re-hashed (`verify` does that) and not
   * marked used (an inventory must not keep blobs from gc).
   */
  blobDigests(): Digest[] {
    this.#assertOpen();
    return this.#db('listing blobs', () =>
      this.index.allBlobs
        .all()
        .map((r) => r.digest as Digest)
        .filter((d) => existsSync(this.pathOf(d))),
    );
  }
  // === END ADDED FOR lib/bundle

  // === ADDED FOR lib/serve (issue 18, uploads that survive a restart): one directory, nothing else.
  /**
   * `<root>/uploads`, created on first use: where `ocikit serve` keeps its upload sessions (data
   * and state files) across restarts. On the blobs' filesystem, so a finished upload is placed by
   * `adopt` (a rename). gc never touches it: the server expires its own sessions.
   */
  uploadsDir(): string {
    this.#assertOpen();
    const dir = join(this.root, 'uploads');
    ensureDirSync(dir);
    return dir;
  }
  // === END ADDED FOR lib/serve

  /**
   * Take a lease for the duration of a copy: gc keeps every blob used (put, stat, linked) since
   * the oldest live lease started. A lease whose process died is ignored and removed by gc.
   * Release it when done; `close` releases the ones still held.
   *
   * A lease taken before the index is open is recorded, with the time it was taken, when the index
   * opens: every use of a blob goes through the index, so none can happen before. A copy that never
   * needs the store (every blob already at the destination) never opens SQLite.
   */
  lease(): Lease {
    this.#assertOpen();
    const id = randomUUID();
    if (this.#index) {
      this.#db('taking a store lease', () => this.index.insertLease.run(id, process.pid, this.now()));
      this.#leases.add(id);
    } else {
      this.#pendingLeases.set(id, this.now());
    }
    return {
      release: () => {
        if (this.#pendingLeases.delete(id)) return;
        if (!this.#leases.delete(id)) return;
        try {
          this.index.deleteLease.run(id);
        } catch {
          // closed or busy: gc removes leases of dead processes anyway
        }
      },
    };
  }

  /** Release held leases and close the index. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const index = this.#index;
    if (!index?.open) return;
    for (const id of this.#leases) {
      try {
        index.deleteLease.run(id);
      } catch {
        // see lease()
      }
    }
    this.#leases.clear();
    index.close();
  }

  /** Remove a blob file and its row, ignoring what is already gone. */
  #drop(d: Digest, path: string): void {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
    try {
      this.index.deleteBlob.run(d);
    } catch {
      // the file is gone; a stale row is dropped by the next stat or verify
    }
  }

  #recordMediaType(d: Digest, mediaType: string): void {
    try {
      const row = this.index.getBlob.get(d);
      if (row && row.media_type === null) {
        this.index.upsertBlob.run({ digest: d, size: row.size, mediaType, now: row.last_used, mtimeMs: row.mtime_ms, ino: row.ino });
      }
    } catch {
      // advisory
    }
  }

  #db<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (isOcikitError(err)) throw err;
      throw wrapError(err, `${what} in the store ${this.root}`, 'E_STORE');
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new OcikitError('E_STORE', `the blob store at ${this.root} is closed`);
  }
}

function notFound(d: Digest): OcikitError {
  return new OcikitError('E_NOT_FOUND', `blob ${shortDigest(d)} is not in the store`);
}

function matchesRow(row: BlobRow, st: Stats): boolean {
  return row.size === st.size && row.mtime_ms === st.mtimeMs && row.ino === st.ino;
}

function statQuiet(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Hash a file synchronously with 1 MiB reads (stat is synchronous; this is its rare slow path).
 * Returns undefined only when the file is gone. Any other error (EIO, EMFILE, EACCES) is THROWN:
 * a blob that could not be read is not thereby corrupt, and treating it so would delete good data.
 */
export function hashFileSync(path: string, algorithm = 'sha256'): Digest | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const h = createHash(algorithm);
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
    return `${algorithm}:${h.digest('hex')}` as Digest;
  } finally {
    closeSync(fd);
  }
}

function verifyHashed(got: { digest: Digest; size: number }, expect: { digest?: Digest; size?: number; what: string }): void {
  if (expect.size !== undefined && got.size !== expect.size) {
    throw new OcikitError('E_SIZE_MISMATCH', `${expect.what}: got ${got.size} bytes, expected ${expect.size}`);
  }
  if (expect.digest !== undefined && got.digest !== expect.digest) {
    throw new OcikitError('E_DIGEST_MISMATCH', `${expect.what}: content has digest ${got.digest}, expected ${expect.digest}`);
  }
}

/**
 * rename(tmp, final), treating "someone else already placed it" as success. On POSIX rename
 * replaces atomically and these cases are rare (the tmp vanished: a stale-tmp sweep by gc; other
 * platforms refuse to replace); the existing file's content is the same digest either way.
 */
async function renameIntoPlace(tmp: string, final: string): Promise<void> {
  try {
    await rename(tmp, final);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOENT' || code === 'EEXIST' || code === 'EPERM') && existsSync(final)) return;
    throw err;
  }
}

/**
 * A stream that is not a node:stream (tar-stream's streamx entries) is read through its async
 * iterator: node's pipeline waits forever on a streamx stream that was destroyed while put awaited
 * its tmp file, where the iterator rejects with its error (or ends).
 */
function streamSource(input: NodeJS.ReadableStream): NodeJS.ReadableStream | AsyncIterable<Buffer> {
  return input instanceof Readable ? input : { [Symbol.asyncIterator]: () => (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]() };
}

function isStream(x: unknown): x is NodeJS.ReadableStream {
  return typeof x === 'object' && x !== null && typeof (x as { pipe?: unknown }).pipe === 'function';
}

/** Check a bytes or stream input against `expect` without keeping it (the blob is already stored). */
async function drainVerified(input: PutInput, expect: VerifyExpectation): Promise<void> {
  if (input instanceof Uint8Array) {
    verifyBytes(input, expect);
    return;
  }
  if (!isStream(input)) return;
  const verifier = new VerifyingStream(expect);
  try {
    await pipeline(streamSource(input), verifier, new Writable({ highWaterMark: 1 << 20, write: (_c, _e, cb) => cb() }));
  } catch (err) {
    if (isOcikitError(err)) throw err;
    throw wrapError(err, `reading ${expect.what}`);
  }
}

function isSqliteError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'SqliteError' || (err as { code?: unknown }).code?.toString().startsWith('SQLITE_') === true);
}

function identityOf(st: Stats): { ino: number; size: number; mtimeMs: number } {
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
}

/** A Writable into an open file, from offset 0, fsynced when the stream ends (when `sync`). The handle stays the caller's to close. */
function fileSink(fh: FileHandle, sync: boolean): Writable {
  let pos = 0;
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb): void {
      (async () => {
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off, pos + off)).bytesWritten;
        pos += chunk.length;
      })().then(() => cb(), cb);
    },
    final(cb): void {
      (sync ? fh.sync() : Promise.resolve()).then(() => cb(), cb);
    },
  });
}
