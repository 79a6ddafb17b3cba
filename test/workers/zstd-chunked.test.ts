/**
 * zstd:chunked layers made by the blob job, read back by an independent reader
 * (test/helpers/zstd-chunked.ts): the TOC says of each entry what a tar reader says, each file's
 * data is in frames of its own cut into content-defined chunks and runs of zeros, the tar-split
 * gives the tar back, and the bytes are the same however the input arrives.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Header } from 'tar-stream';
import { WorkerPool, type BlobJob, type BlobResult } from '../../lib/pool/index.js';
import { pseudoRandom } from '../../support/images.js';
import { run } from '../helpers/cli.js';
import { packTar, tarHeaders } from '../helpers/tar.js';
import { tempDir } from '../helpers/paths.js';
import { checkZstdChunked, type TocEntry } from '../helpers/zstd-chunked.js';

const MTIME = new Date('2024-05-06T07:08:09Z');
const withHole = Buffer.concat([pseudoRandom(3000, 'a'), Buffer.alloc(5000), pseudoRandom(2000, 'b')]);
const shortZeros = Buffer.concat([pseudoRandom(3000, 'c'), Buffer.alloc(1023), pseudoRandom(100, 'd')]);
const big = pseudoRandom(700 * 1024, 'big');
/** No split point in 1.5 MiB: one chunk larger than the frames the compressor gathers whole. */
const repeated = Buffer.alloc(1536 * 1024, 'abcdefgh');

describe('zstd:chunked blob jobs', () => {
  let pool: WorkerPool;
  let dir: string;
  let tar: Buffer;
  before(async () => {
    pool = new WorkerPool({ threads: 2, inlineBytes: 0 });
    dir = tempDir('ocikit-zchunked-');
    const h = (name: string, extra: Partial<Header> = {}): Header => ({ name, mode: 0o644, uid: 1000, gid: 100, mtime: MTIME, ...extra }) as Header;
    tar = await packTar([
      { header: h('etc/', { type: 'directory', mode: 0o755 }) },
      { header: h('etc/hostname', { size: 6 }), data: Buffer.from('hello\n') },
      { header: h('etc/empty', { size: 0 }) },
      { header: h('bin/big', { mode: 0o755 }), data: big },
      { header: h('bin/repeated'), data: repeated },
      { header: h('data/hole'), data: withHole },
      { header: h('data/short-zeros'), data: shortZeros },
      { header: h('bin/link', { type: 'symlink', linkname: 'big' }) },
      { header: h('bin/hard', { type: 'link', linkname: 'bin/big' }) },
      { header: h(`deep/${'n'.repeat(150)}/file`), data: Buffer.from('long name') },
      { header: h('xattr', { pax: { 'SCHILY.xattr.user.note': 'v\u00e9', mtime: '1714979289.123456789' } }), data: Buffer.from('x') },
    ]);
  });
  after(async () => {
    await pool.close();
  });

  const job = (input: BlobJob['input'], out: string): BlobJob => ({
    kind: 'blob',
    input,
    expect: { size: -1 },
    what: 'test layer',
    compress: { format: 'zstd:chunked', level: 3, out: { kind: 'new-file', path: join(dir, out) } },
  });

  it('writes a layer whose TOC, frames and tar-split a partial pull can trust', async () => {
    const src = join(dir, 'layer.tar');
    writeFileSync(src, tar);
    const r = await pool.run(job({ kind: 'file', path: src, offset: 0, length: -1 }, 'a.zst'));
    const blob = readFileSync(join(dir, 'a.zst'));
    const entries = checkZstdChunked(blob, r.compressed!.annotations!, tar);
    const byName = new Map(entries.filter((e) => e.type !== 'chunk').map((e) => [e.name, e]));

    // every entry, as another tar reader reads its header
    const headers = await tarHeaders(tar);
    assert.deepEqual(
      [...byName.keys()],
      headers.map((x) => x.name),
    );
    for (const x of headers) {
      const e = byName.get(x.name)!;
      const type = { file: 'reg', directory: 'dir', symlink: 'symlink', link: 'hardlink' }[x.type as string];
      assert.equal(e.type, type, x.name);
      assert.equal(e.mode, x.mode, `${x.name} mode`);
      assert.equal(e.uid, x.uid);
      assert.equal(e.gid, x.gid);
      assert.equal(e.size ?? 0, x.type === 'file' ? x.size : 0);
      assert.equal(e.linkName, x.linkname ?? undefined);
    }
    assert.equal(byName.get('etc/hostname')!.modtime, '2024-05-06T07:08:09Z');
    assert.equal(byName.get('xattr')!.modtime, '2024-05-06T07:08:09.123456789Z', 'pax mtime with nanoseconds');
    assert.deepEqual(byName.get('xattr')!.xattrs, { 'user.note': Buffer.from('v\u00e9').toString('base64') });

    // chunking: the random file is cut into several chunks; a run of 5000 zeros is a chunk of its
    // own; 1023 zeros are not
    const chunksOf = (name: string): TocEntry[] => {
      const i = entries.findIndex((e) => e.name === name && e.type !== 'chunk');
      const out = [entries[i]!];
      while (entries[i + out.length]?.type === 'chunk') out.push(entries[i + out.length]!);
      return out;
    };
    assert.ok(chunksOf('bin/big').length > 3, `700 KiB of random bytes in ${chunksOf('bin/big').length} chunks`);
    const hole = chunksOf('data/hole');
    assert.deepEqual(
      hole.map((c) => [c.chunkSize, c.chunkType ?? '']),
      [
        [3000, ''],
        [5000, 'zeros'],
        [2000, ''],
      ],
    );
    assert.equal(chunksOf('data/short-zeros')[0]!.chunkDigest, undefined, '1023 zeros are data: one chunk, no chunk fields');
  });

  it('is the same bytes however the tar arrives, run after run', async () => {
    const src = join(dir, 'layer2.tar');
    writeFileSync(src, tar);
    const a = await pool.run(job({ kind: 'file', path: src, offset: 0, length: -1 }, 'b.zst'));
    const pieces = (size: number): Buffer[] => Array.from({ length: Math.ceil(tar.length / size) }, (_, i) => tar.subarray(i * size, (i + 1) * size));
    const inline = new WorkerPool({ threads: 1 });
    let b: BlobResult;
    try {
      b = await inline.run(job({ kind: 'stream', stream: Readable.from(pieces(777)) }, 'c.zst'));
    } finally {
      await inline.close();
    }
    assert.equal(b.compressed!.digest, a.compressed!.digest, 'same layer digest');
    assert.deepEqual(b.compressed!.annotations, a.compressed!.annotations);
    // both ways of compressing a frame are covered: whole (small ones) and streamed (this one)
    const entries = checkZstdChunked(readFileSync(join(dir, 'c.zst')), b.compressed!.annotations!, tar);
    const at = entries.findIndex((e) => e.name === 'bin/repeated');
    assert.equal(entries[at]!.size, repeated.length);
    assert.notEqual(entries[at + 1]?.type, 'chunk', 'bin/repeated is one chunk of 1.5 MiB');
  });

  it("reads GNU tar's long names and long links", async () => {
    const root = join(dir, 'gnu');
    const long = 'd'.repeat(120);
    mkdirSync(join(root, long), { recursive: true });
    writeFileSync(join(root, long, 'f'), 'in a long directory');
    symlinkSync(`${long}/${'t'.repeat(110)}`, join(root, 'ln'));
    run('tar', ['--format=gnu', '--sort=name', '--mtime=2020-01-01 00:00:00Z', '-C', root, '-cf', join(dir, 'gnu.tar'), '.']);
    const gnu = readFileSync(join(dir, 'gnu.tar'));
    const r = await pool.run(job({ kind: 'file', path: join(dir, 'gnu.tar'), offset: 0, length: -1 }, 'gnu.zst'));
    const entries = checkZstdChunked(readFileSync(join(dir, 'gnu.zst')), r.compressed!.annotations!, gnu);
    assert.ok(entries.some((e) => e.name === `./${long}/f` && e.size === 19));
    assert.ok(entries.some((e) => e.name === './ln' && e.linkName === `${long}/${'t'.repeat(110)}`));
  });

  const refusals: Array<[string, () => Promise<Buffer>, RegExp]> = [
    [
      'a pax global header',
      async () => {
        // Python's tarfile writes pax_headers given to the archive as a global header ('g').
        const out = join(dir, 'global.tar');
        const py =
          'import tarfile,io,sys\nt=tarfile.open(sys.argv[1],"w",format=tarfile.PAX_FORMAT,pax_headers={"comment":"x"})\ni=tarfile.TarInfo("a");i.size=1\nt.addfile(i,io.BytesIO(b"a"));t.close()';
        run('python3', ['-c', py, out]);
        return readFileSync(out);
      },
      /pax global header/,
    ],
    [
      'a path listed twice',
      () =>
        packTar([
          { header: { name: 'a', mtime: MTIME } as Header, data: Buffer.from('1') },
          { header: { name: './a', mtime: MTIME } as Header, data: Buffer.from('2') },
        ]),
      /lists "\.\/a" twice/,
    ],
  ];
  refusals.forEach(([what, make, message], i) => {
    it(`refuses ${what}, as containers/storage does, and leaves no file`, async () => {
      const src = join(dir, `bad-${i}.tar`);
      writeFileSync(src, await make());
      await assert.rejects(pool.run(job({ kind: 'file', path: src, offset: 0, length: -1 }, `bad-${i}.zst`)), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'E_UNSUPPORTED');
        assert.match(err.message, message);
        return true;
      });
      assert.throws(() => readFileSync(join(dir, `bad-${i}.zst`)), /ENOENT/);
    });
  });
});
