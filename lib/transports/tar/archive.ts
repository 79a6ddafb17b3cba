/**
 * TarArchive: the members of an untrusted tar archive, indexed once, read without unpacking.
 *
 * Two ways in, chosen by what the input allows:
 * - IN PLACE (an uncompressed regular file): tar-stream parses the headers once and reports where
 *   each member's data starts; member data is never read during indexing (the parser is fed zeros
 *   for data it would only skip, so indexing a 50 GB archive reads its headers, not 50 GB). Members
 *   are then streamed straight from their offsets through one open file handle, so the archive can
 *   even be replaced on disk (a destination committing over it) while it is read.
 * - SPOOLED (a compressed archive, which cannot be seeked, or a pipe such as /dev/stdin): the input
 *   is read once, decompressed once, and every regular member goes into the blob store, where the
 *   copy pipeline wanted it anyway. Nothing goes to a temp file and nothing is read twice. A reader
 *   that wants only an archive's metadata (list-tags) names the members it wants (`only`): those
 *   are kept in memory, and nothing is stored.
 *
 * Hostile input: names with "..", absolute names, links pointing outside the archive, members that
 * appear twice, truncated data, over-long metadata and too many members are refused with
 * E_BAD_INPUT / E_MANIFEST_TOO_BIG naming the archive. Nothing is ever written to disk from here
 * except store blobs, which are verified and content-addressed.
 */
import { constants as fsc, fstatSync, promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Header } from 'tar-stream';
import { tarStream } from '../../lazy.js';
import { OcikitError, isOcikitError, quoteUntrusted, wrapError } from '../../errors.js';
import { parseDigest, type Digest } from '../../digest/index.js';
import type { CompressionFormat } from '../../manifest/index.js';
import type { BlobStore, StoreHandle } from '../../store/index.js';
import type { BlobPayload, WriteOptions } from '../types.js';
import { SNIFF_BYTES, decompressor, sniffCompression, type SniffedCompression } from './compression.js';
import { linkTarget, memberName } from './names.js';
import { nextEvent } from './events.js';
import { isStdinPath } from './std-paths.js';

export type MemberType = 'file' | 'directory' | 'symlink' | 'link' | 'other';

/** One member of an archive, as its header describes it. */
export interface TarMember {
  /** The canonical name (see memberName). */
  readonly name: string;
  readonly type: MemberType;
  /** Data size in bytes (0 for links and directories). */
  readonly size: number;
  /** In place: the byte offset of the member's data in the archive file. -1 when spooled. */
  readonly offset: number;
  /** symlink / link: the member it points at, already checked to stay inside the archive. */
  readonly target?: string;
  /** Spooled into the store: the digest of the member's content there. */
  digest?: Digest;
  /** Spooled for its metadata only (OpenArchiveOptions.only): the content, in memory. */
  data?: Buffer;
  /**
   * Spooled and compressed as it arrived (OpenArchiveOptions.compress): the store holds only this
   * compressed blob of the member (a variant of `digest`, which is still the plain content's).
   */
  packed?: { digest: Digest; format: CompressionFormat };
  /** Packed: the member's first bytes (SNIFF_BYTES), as they were. */
  head?: Buffer;
}

export interface OpenArchiveOptions {
  /** The archive as messages name it: "oci-archive:/x.tar". */
  where: string;
  /** Where a spooled archive's members go: opened only when the archive is spooled. */
  store: StoreHandle;
  /** Size limits for named members (manifest.json, index.json): larger ones are refused at once. */
  limits?: Record<string, number>;
  /** The digest a member must have, judged from its name (blobs/<alg>/<hex>); checked when spooled. */
  expectedDigest?: (name: string) => Digest | undefined;
  /**
   * Only these members are wanted (list-tags reads index.json or manifest.json alone): a spooled
   * archive keeps them in memory (each within its limit, default 4 MiB) and stores nothing.
   * Without it, every regular member of a spooled archive goes into the store.
   */
  only?: (name: string) => boolean;
  /** Called with the size of every chunk read while spooling (progress for a pipe or a compressed archive). */
  onRead?: (bytes: number) => void;
  /**
   * Spooled into the store: compress every regular member of at least PACK_MIN bytes that is neither
   * gzip nor zstd as it arrives, instead of writing it down plain (WriteOptions.compressLayers says
   * when the copy would compress it anyway). The store then holds only the compressed blob, recorded
   * as that variant of the member's plain digest (TarMember.packed); members read back from such an
   * archive are decompressed from it.
   */
  compress?: WriteOptions['compressLayers'];
}

/**
 * Members smaller than this are spooled plain even with `compress`: configs and metadata are read
 * back as they are, and a small layer costs the copy little to compress later.
 */
export const PACK_MIN = 1 << 20;

/** How many members an archive may have: far above any real image archive, far below exhausting memory. */
export const MAX_MEMBERS = 500_000;
/** How far a chain of links is followed before it is called a loop. */
const MAX_LINK_HOPS = 16;
/** Read size while indexing headers in place. */
const INDEX_READ = 256 * 1024;
/**
 * Fed to the parser instead of member data it would only skip. Never written to: safe to share.
 * Big, because the parser's cost is per chunk: 8 MiB chunks index a 2 GiB member in ~25 ms.
 */
let zeros: Buffer | undefined;
const ZEROS = (): Buffer => (zeros ??= Buffer.alloc(8 << 20));
const DEFAULT_KEEP_LIMIT = 4 << 20;

/** The identity of a file: changes when it is replaced or written. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

/**
 * An indexed tar archive: its members by name, read in place or from the store (see the module
 * comment). Open with TarArchive.open; close() releases the file. Member bytes are NOT verified
 * here: callers check them against the digests they expect.
 */
export class TarArchive {
  private closed = false;

  private constructor(
    readonly where: string,
    /** The archive's path (in place: members are regions of this file). */
    readonly path: string,
    /** 'in-place': read from offsets in the file; 'spooled': members were read once into the store. */
    readonly mode: 'in-place' | 'spooled',
    /** How the archive itself was compressed (always 'none' in place). */
    readonly compression: SniffedCompression,
    private readonly members: Map<string, TarMember>,
    private readonly fh: fsp.FileHandle | undefined,
    private readonly store: StoreHandle,
    /** In place: the file's identity when it was opened. */
    readonly identity: FileIdentity | undefined,
  ) {}

  /**
   * Index the archive at `path` (a regular file, /dev/stdin, or a pipe). Regular uncompressed files
   * are read in place; anything else is spooled (see the module comment).
   */
  static async open(path: string, opts: OpenArchiveOptions): Promise<TarArchive> {
    const where = opts.where;
    const rec = new Recorder(opts);
    if (isStdinPath(path)) {
      // A pipe or socket cannot be reopened by path (a socket answers ENXIO): read fd 0 itself.
      // A file redirected to stdin is a regular file: read it in place like any other.
      const st = fstatSync(0);
      if (!st.isFile()) {
        await spool(process.stdin, opts, rec);
        return new TarArchive(where, path, 'spooled', rec.compression, rec.members, undefined, opts.store, undefined);
      }
    }
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(path, fsc.O_RDONLY);
    } catch (err) {
      throw wrapError(err, `opening ${where}`);
    }
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw new OcikitError('E_BAD_INPUT', `opening ${where}: is a directory, not an archive`);
      if (!st.isFile()) {
        // A FIFO or device: one pass, like stdin. Our handle does the reading.
        const stream = fh.createReadStream({ highWaterMark: 1 << 20 });
        await spool(stream, opts, rec);
        return new TarArchive(where, path, 'spooled', rec.compression, rec.members, undefined, opts.store, undefined);
      }
      const head = Buffer.alloc(SNIFF_BYTES);
      const { bytesRead } = await fh.read(head, 0, SNIFF_BYTES, 0);
      const c = sniffCompression(head.subarray(0, bytesRead), `reading ${where}`);
      if (c !== 'none') {
        // A compressed archive cannot be read at offsets: decompress it once into the store.
        await spool(fh.createReadStream({ highWaterMark: 1 << 20, start: 0 }), opts, rec);
        await fh.close().catch(() => undefined);
        return new TarArchive(where, path, 'spooled', rec.compression, rec.members, undefined, opts.store, undefined);
      }
      await indexInPlace(fh, st.size, where, rec);
      const identity = { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
      return new TarArchive(where, path, 'in-place', 'none', rec.members, fh, opts.store, identity);
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Index an archive that arrives as a stream (a daemon's export, a helper program's stdout): it is
   * SPOOLED, read once, each member into `opts.store` as it arrives. An error from `input` rejects
   * with that error (an OcikitError keeps its code and message); an end in the middle of a member
   * is E_BAD_INPUT (truncated).
   */
  static async fromStream(input: NodeJS.ReadableStream, opts: OpenArchiveOptions): Promise<TarArchive> {
    const rec = new Recorder(opts);
    await spool(input, opts, rec);
    return new TarArchive(opts.where, '', 'spooled', rec.compression, rec.members, undefined, opts.store, undefined);
  }

  /** Every member, in archive order, links unresolved. */
  list(): TarMember[] {
    return [...this.members.values()];
  }

  /**
   * The member `name` refers to, following symlinks and hard links, or undefined when absent.
   * `name` comes from untrusted JSON as often as not: it is normalised and checked first
   * (E_BAD_INPUT for "..", absolute paths). A link loop is E_BAD_INPUT.
   */
  resolve(name: string, what = 'member'): TarMember | undefined {
    let n = memberName(name, this.where, what);
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const m = this.members.get(n);
      if (!m || (m.type !== 'symlink' && m.type !== 'link')) return m;
      n = m.target!;
    }
    throw new OcikitError('E_BAD_INPUT', `reading ${this.where}: ${what} ${quoteUntrusted(name)} is a chain of more than ${MAX_LINK_HOPS} links`);
  }

  /** Like resolve, but the member MUST exist (E_NOT_FOUND) and be a regular file (E_BAD_INPUT). */
  file(name: string, what = 'member'): TarMember {
    const m = this.resolve(name, what);
    if (!m) throw new OcikitError('E_NOT_FOUND', `reading ${this.where}: no ${what} ${quoteUntrusted(name)} in the archive`);
    if (m.type !== 'file') throw new OcikitError('E_BAD_INPUT', `reading ${this.where}: ${what} ${quoteUntrusted(name)} is not a regular file`);
    return m;
  }

  /** A small member's whole content; E_MANIFEST_TOO_BIG above `max`, checked before reading. */
  async readBytes(m: TarMember, max: number, what: string): Promise<Buffer> {
    if (m.size > max) {
      throw new OcikitError('E_MANIFEST_TOO_BIG', `reading ${what} from ${this.where}: ${m.name} is ${m.size} bytes, over the ${max}-byte limit`);
    }
    if (m.data) return m.data;
    if (m.packed) return readAll(payloadStreamOf(this.open(m)), m.size);
    if (m.digest) return this.store.get().readBytes(m.digest, max);
    if (m.size === 0) return Buffer.alloc(0);
    return this.readAt(m, 0, m.size, what);
  }

  /** The first `n` bytes (fewer when the member is shorter), e.g. to sniff compression. */
  async head(m: TarMember, n: number): Promise<Buffer> {
    const len = Math.min(n, m.size);
    if (len === 0) return Buffer.alloc(0);
    if (m.data) return m.data.subarray(0, len);
    if (m.head && len <= m.head.length) return m.head.subarray(0, len);
    if (m.packed) return (await readAll(payloadStreamOf(this.open(m)), m.size)).subarray(0, len);
    if (m.digest) {
      const fh = await fsp.open(this.store.get().pathOf(m.digest), 'r');
      try {
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, 0);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    }
    return this.readAt(m, 0, len, m.name);
  }

  private async readAt(m: TarMember, from: number, len: number, what: string): Promise<Buffer> {
    if (!this.fh || this.closed) throw new OcikitError('E_INTERNAL', `reading ${what} from ${this.where}: the archive is closed`);
    const buf = Buffer.alloc(len);
    let off = 0;
    while (off < len) {
      const { bytesRead } = await this.fh.read(buf, off, len - off, m.offset + from + off);
      if (bytesRead === 0) throw new OcikitError('E_BAD_INPUT', `reading ${what} from ${this.where}: the archive ends inside ${m.name} (truncated, or changed while read)`);
      off += bytesRead;
    }
    return buf;
  }

  /**
   * The member's bytes for a copy: a stream from its offset (in place), or the store's file
   * (spooled). The bytes are NOT verified here: the caller verifies them against a digest.
   */
  open(m: TarMember): BlobPayload {
    if (m.type !== 'file') throw new OcikitError('E_BAD_INPUT', `reading ${this.where}: ${m.name} is not a regular file`);
    if (m.data) return { kind: 'stream', stream: Readable.from([m.data]), size: m.size };
    if (m.packed) {
      // Only the compressed variant was kept: the member's bytes are what it decompresses to
      // (the reader verifies them against the digest it expects, as for any member).
      const raw = this.store.get().open(m.packed.digest);
      const plain = decompressor(m.packed.format);
      raw.once('error', (err) => plain.destroy(err));
      return { kind: 'stream', stream: raw.pipe(plain), size: m.size };
    }
    if (m.digest) return { kind: 'path', path: this.store.get().pathOf(m.digest), size: m.size };
    if (this.mode === 'spooled') throw new OcikitError('E_INTERNAL', `reading ${m.name} from ${this.where}: the member was not kept`);
    if (!this.fh || this.closed) throw new OcikitError('E_INTERNAL', `reading ${m.name} from ${this.where}: the archive is closed`);
    if (m.size === 0) return { kind: 'stream', stream: Readable.from([]), size: 0 };
    // A region of the archive, read through this archive's one handle (positional reads: concurrent
    // members never disturb each other, and the file may be replaced on disk meanwhile).
    return { kind: 'path', path: this.path, fd: this.fh.fd, offset: m.offset, size: m.size };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh?.close().catch(() => undefined);
  }
}

/** Validates and records members as headers arrive; shared by both ways of reading. */
class Recorder {
  readonly members = new Map<string, TarMember>();
  compression: SniffedCompression = 'none';

  constructor(private readonly opts: OpenArchiveOptions) {}

  /** Record a header; undefined for the archive root's own directory entry ("./"), which names nothing. */
  add(h: Header, offset: number): TarMember | undefined {
    const where = this.opts.where;
    if (this.members.size >= MAX_MEMBERS) {
      throw new OcikitError('E_BAD_INPUT', `reading ${where}: more than ${MAX_MEMBERS} members; refusing to index it`);
    }
    const type: MemberType =
      h.type === 'file' || h.type === 'contiguous-file' ? 'file' : h.type === 'directory' ? 'directory' : h.type === 'symlink' ? 'symlink' : h.type === 'link' ? 'link' : 'other';
    if (type === 'directory' && /^(\.\/*)+$/.test(h.name)) return undefined;
    const name = memberName(h.name, where);
    const size = type === 'file' ? h.size : 0;
    if (!Number.isSafeInteger(size) || size < 0) throw new OcikitError('E_BAD_INPUT', `reading ${where}: member ${name} has an invalid size`);
    const prev = this.members.get(name);
    // Two members of one name are read differently by different tools (first wins, last wins):
    // an archive that relies on that is hostile. Repeated directory entries are harmless.
    if (prev && !(prev.type === 'directory' && type === 'directory')) {
      throw new OcikitError('E_BAD_INPUT', `reading ${where}: member ${quoteUntrusted(name)} appears more than once`);
    }
    const limit = this.opts.limits?.[name];
    if (limit !== undefined && size > limit) {
      throw new OcikitError('E_MANIFEST_TOO_BIG', `reading ${where}: ${name} is ${size} bytes, over the ${limit}-byte limit`);
    }
    const m: TarMember = type === 'symlink' || type === 'link' ? { name, type, size, offset, target: linkTarget(name, h.linkname, type, where) } : { name, type, size, offset };
    if (!prev) this.members.set(name, m);
    return m;
  }
}

/** Turn a parser or decompressor failure into E_BAD_INPUT naming the archive. */
function badArchive(err: unknown, where: string): OcikitError {
  if (isOcikitError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/unexpected end/i.test(msg)) return new OcikitError('E_BAD_INPUT', `reading ${where}: the archive is truncated (${msg})`, { cause: err });
  return new OcikitError('E_BAD_INPUT', `reading ${where}: not a valid tar archive: ${msg}`, { cause: err });
}

/** Resolve when `ev` fires on `s`; reject on 'error'; reject on 'close' before it (destroyed). */
function when(s: NodeJS.EventEmitter, ev: string): Promise<void> {
  return nextEvent(s, ev, () => new Error('closed'));
}

/**
 * Index an uncompressed tar file by offset: tar-stream parses every header (pax and GNU long names,
 * base-256 sizes, checksums) and reports, on each header, where the member's data starts
 * (`byteOffset`). Data regions are fed to it as zeros instead of being read.
 */
async function indexInPlace(fh: fsp.FileHandle, fileSize: number, where: string, rec: Recorder): Promise<void> {
  const ex = tarStream().extract();
  let skipFrom = -1;
  let skipTo = -1;
  // Boxed, so that whatever was thrown (even undefined) is rethrown as it came.
  let failure: { error: unknown } | undefined;
  ex.on('entry', (h, stream, next) => {
    // Destroying the parser destroys the current entry's stream with the same error: already handled.
    stream.on('error', () => undefined);
    try {
      const off = (h as { byteOffset?: unknown }).byteOffset;
      if (typeof off !== 'number' || !Number.isSafeInteger(off) || off % 512 !== 0) {
        throw new OcikitError('E_INTERNAL', `indexing ${where}: tar-stream did not report where member data starts (header.byteOffset); ocikit needs tar-stream 3.x`);
      }
      const m = rec.add(h, off);
      const dataSize = h.type === 'directory' ? 0 : h.size;
      if (dataSize > 0) {
        if (off + dataSize > fileSize) {
          throw new OcikitError('E_BAD_INPUT', `reading ${where}: the archive is truncated: member ${m?.name ?? h.name} needs ${dataSize} bytes at offset ${off}, the file has ${fileSize}`);
        }
        skipFrom = off;
        skipTo = Math.min(off + Math.ceil(dataSize / 512) * 512, fileSize);
      }
    } catch (err) {
      failure = { error: err };
      // The error reported is the one kept in failure; destroy only needs an Error to stop the parser.
      ex.destroy(asError(err));
      return;
    }
    stream.on('end', () => next());
    stream.resume();
  });
  const finished = when(ex, 'finish');
  finished.catch(() => undefined);
  try {
    let pos = 0;
    while (pos < fileSize && failure === undefined) {
      let chunk: Buffer;
      if (pos >= skipFrom && pos < skipTo) {
        chunk = ZEROS().subarray(0, Math.min(skipTo - pos, ZEROS().length));
      } else {
        const end = pos < skipFrom ? skipFrom : fileSize;
        // A fresh buffer each time: the parser keeps references to what it was given.
        const want = Math.min(INDEX_READ, end - pos);
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, pos);
        if (bytesRead === 0) throw new OcikitError('E_BAD_INPUT', `reading ${where}: the file shrank while it was indexed`);
        chunk = buf.subarray(0, bytesRead);
      }
      pos += chunk.length;
      if (!ex.write(chunk)) await when(ex, 'drain');
    }
    if (failure !== undefined) throw failure.error;
    ex.end(undefined);
    await finished;
  } catch (err) {
    throw badArchive(failure ? failure.error : err, where);
  }
}

/**
 * Read an archive once from a stream: sniff its compression, decompress once, and put every regular
 * member into the store (or keep the members `opts.only` names in memory, and store nothing).
 */
async function spool(input: NodeJS.ReadableStream, opts: OpenArchiveOptions, rec: Recorder): Promise<void> {
  const where = opts.where;
  // Every member into the store (opened now, before anything is read), unless the reader wants only some.
  const store = opts.only ? undefined : opts.store.get();
  const it = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const headParts: Buffer[] = [];
  let headLen = 0;
  let ended = false;
  try {
    while (headLen < SNIFF_BYTES) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
      headParts.push(b);
      headLen += b.length;
    }
  } catch (err) {
    throw wrapError(err, `reading ${where}`);
  }
  const first = Buffer.concat(headParts);
  rec.compression = sniffCompression(first, `reading ${where}`);
  async function* all(): AsyncGenerator<Buffer> {
    try {
      opts.onRead?.(first.length);
      yield first;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        opts.onRead?.(r.value.length);
        yield r.value;
      }
    } finally {
      await it.return?.(undefined);
    }
  }

  const ex = tarStream().extract();
  let failure: unknown;
  // The member being stored: a failure waits for its put to remove its tmp file and close its
  // handle before reporting (else the process may exit with both still open). Destroying the
  // extract (pipeline on an error, fail() otherwise) destroys that member's stream, ending the put.
  let putting: Promise<void> | undefined;
  const fail = (err: unknown): void => {
    failure ??= err;
    // The error reported is the one kept in failure; destroy only needs an Error to stop the parser.
    ex.destroy(asError(err));
  };
  ex.on('entry', (h, stream, next) => {
    stream.on('error', () => undefined);
    let m: TarMember | undefined;
    try {
      m = rec.add(h, -1);
    } catch (err) {
      fail(err);
      return;
    }
    const skip = (): void => {
      stream.on('end', () => next());
      stream.resume();
    };
    if (!m || m.type !== 'file' || rec.members.get(m.name) !== m) {
      skip();
      return;
    }
    const member = m;
    if (store) {
      if (opts.compress && member.size >= PACK_MIN) {
        putting = packMember(stream as unknown as AsyncIterable<Buffer>, member, store, opts.compress, opts.expectedDigest?.(member.name), where).then(
          () => next(),
          (err) => fail(err),
        );
        return;
      }
      const expect = { digest: opts.expectedDigest?.(member.name), size: member.size, what: `member ${member.name} of ${where}` };
      // tar-stream's entry is a streamx Readable: Node-compatible at run time (async iteration, 'error'), typed apart.
      putting = store.put(stream as unknown as NodeJS.ReadableStream, expect).then(
        (res) => {
          member.digest = res.digest;
          next();
        },
        (err) => fail(err),
      );
      return;
    }
    if (!opts.only?.(m.name)) {
      skip();
      return;
    }
    const limit = opts.limits?.[m.name] ?? DEFAULT_KEEP_LIMIT;
    if (m.size > limit) {
      fail(new OcikitError('E_MANIFEST_TOO_BIG', `reading ${where}: ${m.name} is ${m.size} bytes, over the ${limit}-byte limit`));
      return;
    }
    const parts: Buffer[] = [];
    stream.on('data', (c: unknown) => parts.push(c as Buffer));
    stream.on('end', () => {
      member.data = Buffer.concat(parts);
      next();
    });
  });
  try {
    if (rec.compression === 'none') await pipeline(all, ex);
    else await pipeline(all, decompressor(rec.compression), ex);
  } catch (err) {
    failure ??= err;
  }
  if (failure !== undefined) {
    await putting?.catch(() => undefined);
    throw badArchive(failure, where);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Spool one member with `compress` (OpenArchiveOptions): a gzip or zstd member, or one whose kind
 * cannot be told, goes into the store as it is; a plain one goes through the pool's blob job, which
 * hashes it (and checks it against `expected`, when its name says a digest), compresses it and
 * hashes the result, and only that result is kept: adopted by the store under the digest the job
 * computed, recorded as the variant of the plain digest, the plain digest kept as the member's.
 */
async function packMember(
  entry: AsyncIterable<Buffer>,
  member: TarMember,
  store: BlobStore,
  c: NonNullable<OpenArchiveOptions['compress']>,
  expected: Digest | undefined,
  where: string,
): Promise<void> {
  const what = `member ${member.name} of ${where}`;
  const it = entry[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let have = 0;
  let ended = false;
  while (have < SNIFF_BYTES) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    parts.push(r.value);
    have += r.value.length;
  }
  const head = Buffer.concat(parts).subarray(0, SNIFF_BYTES);
  async function* all(): AsyncGenerator<Buffer> {
    yield* parts;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  const body = Readable.from(all(), { objectMode: false, highWaterMark: 1 << 20 });
  let plain: boolean;
  try {
    plain = sniffCompression(head, what) === 'none';
  } catch {
    plain = false; // bzip2, xz: not ours to judge here; the reader that wants it says so
  }
  if (!plain) {
    const res = await store.put(body, { ...(expected ? { digest: expected } : {}), size: member.size, what });
    member.digest = res.digest;
    return;
  }
  const tmp = store.tmpPath(`packed-${member.size}`);
  const native = c.format === 'zstd' ? c.pool.nativeThreads() : undefined;
  try {
    const res = await c.pool.run({
      kind: 'blob',
      input: { kind: 'stream', stream: body },
      expect: { ...(expected ? { digest: expected } : { learn: true }), size: member.size },
      what,
      compress: { format: c.format, level: c.level, out: { kind: 'new-file', path: tmp, sync: store.durable }, threads: native?.threads ?? c.pool.threads },
    });
    if (!res.compressed) throw new OcikitError('E_INTERNAL', `${what}: the compression job returned no result`);
    const plainDigest = parseDigest(res.input.digest, what);
    const packed = await store.adopt(tmp, { digest: parseDigest(res.compressed.digest, what), size: res.compressed.size, what: `${c.format}-compressed ${what}` });
    store.cache.recordVariant(plainDigest, c.format, c.level, packed.digest);
    member.digest = plainDigest;
    member.packed = { digest: packed.digest, format: c.format };
    member.head = Buffer.from(head);
  } catch (err) {
    body.destroy();
    await fsp.rm(tmp, { force: true });
    throw err;
  } finally {
    native?.release();
  }
}

/** A payload's bytes as a stream (a packed member is always a stream). */
function payloadStreamOf(p: BlobPayload): Readable {
  if (p.kind !== 'stream') throw new OcikitError('E_INTERNAL', 'a packed member is read as a stream');
  return p.stream;
}

/** All of a stream's bytes, at most `max` (more is E_BAD_INPUT). */
async function readAll(s: Readable, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of s as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) {
      s.destroy();
      throw new OcikitError('E_BAD_INPUT', `more than the expected ${max} bytes`);
    }
    parts.push(c);
  }
  return Buffer.concat(parts);
}
