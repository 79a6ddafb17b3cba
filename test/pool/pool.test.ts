/** WorkerPool: typed jobs on piscina, and errors rebuilt on the main thread from worker replies. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { WorkerPool, rebuildError, workerFile } from '../../lib/pool/index.js';
import { isOcikitError, type OcikitError } from '../../lib/errors.js';
import { tempDir } from '../helpers/paths.js';

const sha = (b: Buffer): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

describe('WorkerPool', () => {
  let pool: WorkerPool;
  let dir: string;
  before(() => {
    pool = new WorkerPool({ threads: 2 });
    dir = tempDir('ocikit-pool-');
  });
  after(async () => {
    await pool.close();
  });

  it('finds the compiled worker module beside the running code', () => {
    const got = workerFile();
    assert.match(got, /\/dist\/workers\/entry\.js$/);
  });

  it('rejects a bad thread count with E_USAGE naming the option', () => {
    for (const threads of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new WorkerPool({ threads }), (err: unknown) => isOcikitError(err, 'E_USAGE') && /threads/.test((err as Error).message));
    }
  });

  it('hash: the sha256 and size of a file', async () => {
    const data = Buffer.from('hello pool\n'.repeat(100_000));
    const path = join(dir, 'h.bin');
    writeFileSync(path, data);
    const got = await pool.run({ kind: 'hash', src: path });
    assert.deepEqual(got, { digest: sha(data), size: data.length });
  });

  it('a failed job becomes an OcikitError with the code the worker sent', async () => {
    await assert.rejects(pool.run({ kind: 'fail', code: 'E_BAD_INPUT', message: 'the bytes are wrong' }, 'testing'), (err: unknown) => {
      assert.ok(isOcikitError(err, 'E_BAD_INPUT'), String(err));
      assert.equal((err as Error).name, 'OcikitError');
      assert.match((err as Error).message, /^testing: .*the bytes are wrong/);
      return true;
    });
  });

  it('a plain Error thrown inside a job still comes back as a reply (E_WORKER), not as a crash', async () => {
    await assert.rejects(pool.run({ kind: 'fail', code: 'E_IO', message: 'boom', raw: true }), (err: unknown) => isOcikitError(err, 'E_WORKER') && /boom/.test((err as Error).message));
    // The pool still works afterwards.
    const path = join(dir, 'after.bin');
    writeFileSync(path, 'x');
    const got = await pool.run({ kind: 'hash', src: path });
    assert.equal(got.size, 1);
  });

  it('a code that is not ours becomes E_WORKER', () => {
    const got = rebuildError({ code: 'ENOTACODE', message: 'm' }, 'w');
    assert.equal(got.code, 'E_WORKER');
    assert.equal(got.message, 'w: m');
  });

  it('a missing input file is E_NOT_FOUND; corrupt gzip is E_BAD_INPUT; neither leaves an output file', async () => {
    const dst1 = join(dir, 'out1');
    await assert.rejects(pool.run({ kind: 'decompress', src: join(dir, 'nope.gz'), dst: dst1, format: 'gzip' }), (err: unknown) => isOcikitError(err, 'E_NOT_FOUND'));
    const bad = join(dir, 'bad.gz');
    const gz = gzipSync(Buffer.alloc(200_000, 7));
    gz[gz.length - 20] ^= 0xff; // corrupt the deflate data near the end
    writeFileSync(bad, Buffer.concat([gz.subarray(0, gz.length - 10)]));
    const dst2 = join(dir, 'out2');
    await assert.rejects(pool.run({ kind: 'decompress', src: bad, dst: dst2, format: 'gzip' }, 'decompressing layer x'), (err: unknown) => {
      assert.ok(isOcikitError(err, 'E_BAD_INPUT'), `got ${(err as OcikitError).code}: ${(err as Error).message}`);
      assert.match((err as Error).message, /^decompressing layer x: .*not valid gzip data/);
      return true;
    });
    const notZstd = join(dir, 'plain.zst');
    writeFileSync(notZstd, 'this is not zstd');
    await assert.rejects(pool.run({ kind: 'decompress', src: notZstd, dst: join(dir, 'out3'), format: 'zstd' }), (err: unknown) => isOcikitError(err, 'E_BAD_INPUT'));
    // A failed job leaves no output file: a partial one could be taken for a result by whoever looks
    // next (a crash between the failure and the caller's cleanup would leave it for good).
    // LEAD(issue 9, tests that cannot fail): fails today: workers/ create `dst` before they know the
    // job can succeed and leave it on failure (even for a missing input); lib/copy/transform.ts
    // removes it in finally, the pool does not. Fix in workers/ (remove dst on every failed reply).
    for (const out of [dst1, dst2, join(dir, 'out3')]) assert.equal(existsSync(out), false, `${out} left behind`);
  });

  it('decompress yields the diff ID: the digest of the uncompressed bytes', async () => {
    const data = Buffer.from('layer bytes '.repeat(300_000));
    const src = join(dir, 'l.gz');
    writeFileSync(src, gzipSync(data));
    const dst = join(dir, 'l.tar');
    const got = await pool.run({ kind: 'decompress', src, dst, format: 'gzip' });
    assert.equal(got.digest, sha(data));
    assert.equal(got.size, data.length);
    assert.ok(readFileSync(dst).equals(data));
  });

  it('refuses jobs after close', async () => {
    const p = new WorkerPool({ threads: 1 });
    await p.close();
    await assert.rejects(p.run({ kind: 'hash', src: '/dev/null' }), (err: unknown) => isOcikitError(err, 'E_INTERNAL'));
  });
});
