/**
 * WorkerPool: typed jobs on piscina, errors rebuilt on the main thread from worker replies, streams fed
 * through ports; and the same jobs run in the calling thread, within the pool's inline budget.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { WorkerPool, rebuildError, workerFile, type BlobJob, type Job } from '../../lib/pool/index.js';
import { isOcikitError, type OcikitError } from '../../lib/errors.js';
import { tempDir } from '../helpers/paths.js';
import { sha } from '../../support/digest.js';

const file = (path: string): BlobJob['input'] => ({ kind: 'file', path, offset: 0, length: -1 });

describe('WorkerPool', () => {
  it('finds the compiled worker module beside the running code', () => {
    assert.match(workerFile(), /\/dist\/workers\/entry\.js$/);
  });

  it('rejects a bad inline budget with E_USAGE naming the option', () => {
    for (const inlineBytes of [-1, Number.NaN]) {
      assert.throws(
        () => new WorkerPool({ inlineBytes }),
        (err: unknown) => isOcikitError(err, 'E_USAGE') && /inlineBytes/.test((err as Error).message),
      );
    }
  });

  it('rejects a bad thread count with E_USAGE naming the option', () => {
    for (const threads of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => new WorkerPool({ threads }),
        (err: unknown) => isOcikitError(err, 'E_USAGE') && /threads/.test((err as Error).message),
      );
    }
  });

  for (const [where, inlineBytes] of [
    ['on a worker', 0],
    ['in the calling thread', Infinity],
  ] as const) {
    describe(`jobs ${where}`, () => {
      let pool: WorkerPool;
      let dir: string;
      before(() => {
        pool = new WorkerPool({ threads: 2, inlineBytes });
        dir = tempDir('ocikit-pool-jobs-');
      });
      after(async () => {
        await pool.close();
      });

      it('hash: the sha256 and size of a file', async () => {
        const data = Buffer.from('hello pool\n'.repeat(100_000));
        const path = join(dir, 'h.bin');
        writeFileSync(path, data);
        assert.deepEqual(await pool.run({ kind: 'hash', src: path }), { digest: sha(data), size: data.length });
      });

      it('blob: one pass writes the input where told and the plain bytes, and hashes both', async () => {
        const data = Buffer.from('layer bytes '.repeat(300_000));
        const gz = gzipSync(data);
        const src = join(dir, 'l.gz');
        writeFileSync(src, gz);
        const keep = join(dir, 'keep.gz');
        const plain = join(dir, 'plain.tar');
        const progress = new SharedArrayBuffer(16);
        const r = await pool.run({
          kind: 'blob',
          input: file(src),
          expect: { digest: sha(gz), size: gz.length },
          what: 'layer x',
          keep: [{ kind: 'new-file', path: keep }],
          decompress: { format: 'gzip', diffID: sha(data), out: { kind: 'new-file', path: plain } },
          progress,
        });
        assert.deepEqual(r.input, { digest: sha(gz), size: gz.length });
        assert.deepEqual(r.plain, { digest: sha(data), size: data.length });
        assert.ok(readFileSync(keep).equals(gz));
        assert.ok(readFileSync(plain).equals(data));
        const counts = new Float64Array(progress);
        assert.equal(counts[0], gz.length, 'bytes read, as the worker counted them');
        assert.equal(counts[1], data.length, 'bytes written to the last output');
      });

      it('blob: a region output of an existing file gets exactly its bytes; more or fewer is E_SIZE_MISMATCH', async () => {
        const data = Buffer.from('0123456789'.repeat(1000));
        const src = join(dir, 'r.bin');
        writeFileSync(src, data);
        const target = join(dir, 'region.bin');
        writeFileSync(target, Buffer.alloc(20_100, 0x2e));
        await pool.run({ kind: 'blob', input: file(src), expect: { digest: sha(data), size: data.length }, what: 'r', keep: [{ kind: 'region', path: target, offset: 100, length: data.length }] });
        const got = readFileSync(target);
        assert.ok(got.subarray(100, 100 + data.length).equals(data));
        assert.equal(got[99], 0x2e);
        assert.equal(got[100 + data.length], 0x2e);
        for (const length of [data.length - 1, data.length + 1]) {
          await assert.rejects(pool.run({ kind: 'blob', input: file(src), expect: { size: -1 }, what: 'r', keep: [{ kind: 'region', path: target, offset: 0, length }] }), (err: unknown) =>
            isOcikitError(err, 'E_SIZE_MISMATCH'),
          );
        }
      });

      it('blob: a digest mismatch, corrupt gzip and a diff ID mismatch each fail with their code, and leave no new file behind', async () => {
        const data = Buffer.from('some layer\n'.repeat(50_000));
        const gz = gzipSync(data);
        const src = join(dir, 'm.gz');
        writeFileSync(src, gz);
        const out = (name: string) => ({ kind: 'new-file' as const, path: join(dir, 'fail', name) });
        const { mkdirSync } = await import('node:fs');
        mkdirSync(join(dir, 'fail'));
        await assert.rejects(
          pool.run({ kind: 'blob', input: file(src), expect: { digest: sha(Buffer.from('other')), size: gz.length }, what: 'layer 0 of oci:/x', keep: [out('a')] }),
          (err: unknown) => {
            assert.ok(isOcikitError(err, 'E_DIGEST_MISMATCH'), String(err));
            assert.match((err as Error).message, /^layer 0 of oci:\/x: content has digest sha256:/);
            return true;
          },
        );
        const bad = Buffer.from(gz);
        bad[bad.length - 20]! ^= 0xff;
        const badPath = join(dir, 'bad.gz');
        writeFileSync(badPath, bad.subarray(0, bad.length - 10));
        await assert.rejects(pool.run({ kind: 'blob', input: file(badPath), expect: { size: -1 }, what: 'layer 1', decompress: { format: 'gzip', out: out('b') } }), (err: unknown) => {
          assert.ok(isOcikitError(err, 'E_BAD_INPUT'), `got ${(err as OcikitError).code}: ${(err as Error).message}`);
          assert.match((err as Error).message, /^layer 1: not valid gzip data/);
          return true;
        });
        await assert.rejects(
          pool.run({ kind: 'blob', input: file(src), expect: { size: -1 }, what: 'layer 2', decompress: { format: 'gzip', diffID: sha(Buffer.from('x')), out: out('c') } }),
          (err: unknown) => isOcikitError(err, 'E_DIGEST_MISMATCH') && /diff ID/.test((err as Error).message),
        );
        const notZstd = join(dir, 'plain.zst');
        writeFileSync(notZstd, 'this is not zstd');
        await assert.rejects(pool.run({ kind: 'blob', input: file(notZstd), expect: { size: -1 }, what: 'layer 3', decompress: { format: 'zstd', out: out('d') } }), (err: unknown) =>
          isOcikitError(err, 'E_BAD_INPUT'),
        );
        assert.deepEqual(readdirSync(join(dir, 'fail')), [], 'every output the failed jobs created is gone');
      });

      it('blob: a stream (fed through a port to a worker) is read once, with backpressure, to the same result as a file', async () => {
        const data = Buffer.concat(Array.from({ length: 12 }, (_, i) => Buffer.alloc(700_000, i)));
        const stream = Readable.from(Array.from({ length: 60 }, (_, i) => data.subarray(i * 140_000, (i + 1) * 140_000)));
        const dst = join(dir, 'fed.bin');
        const r = await pool.run(
          { kind: 'blob', input: { kind: 'stream', stream }, expect: { digest: sha(data), size: data.length }, what: 'fed', keep: [{ kind: 'new-file', path: dst }] },
          'feeding',
        );
        assert.equal(r.input.digest, sha(data));
        assert.ok(readFileSync(dst).equals(data));
      });

      it('blob: a stream that fails midway fails the job with its code, and the output is removed', async () => {
        // The first read gets 100 kB; the next one, asked for once those were taken, breaks the stream.
        let reads = 0;
        const src = new Readable({
          read() {
            if (++reads === 1) this.push(Buffer.alloc(100_000, 1));
            else this.destroy(Object.assign(new Error('connection reset'), { code: 'E_IO' }));
          },
        });
        const dst = join(dir, 'broken.bin');
        await assert.rejects(
          // A known size: within the inline budget, the calling thread reads it itself.
          pool.run({ kind: 'blob', input: { kind: 'stream', stream: src }, expect: { size: 200_000 }, what: 'download', keep: [{ kind: 'new-file', path: dst }] }, 'feeding'),
          (err: unknown) => isOcikitError(err, 'E_IO') && /connection reset/.test((err as Error).message),
        );
        assert.equal(existsSync(dst), false);
      });
    });
  }

  it('runs a job of a few MiB in the calling thread beside others, a bigger one only when it is alone, and none once workers run', async () => {
    // Its workers fail every job: a job that succeeds ran in the calling thread.
    const pool = new WorkerPool({ threads: 1, inlineBytes: 64 << 20, workerFile: new URL('../helpers/fail-worker.js', import.meta.url).href });
    const dir = tempDir('ocikit-pool-inline-');
    const job = (name: string, size: number): Job => {
      const data = Buffer.alloc(size, name);
      writeFileSync(join(dir, name), data);
      return { kind: 'blob', input: file(join(dir, name)), expect: { digest: sha(data), size }, what: name, keep: [] };
    };
    const where = (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'here',
        () => 'worker',
      );
    try {
      // Alone, one after the other: each 8 MiB job runs here.
      assert.equal(await where(pool.run(job('a', 8 << 20))), 'here');
      assert.equal(await where(pool.run(job('b', 8 << 20))), 'here');
      // At once: the first runs here, a small one beside it too, a bigger one goes to a worker...
      const [c, d, e] = await Promise.all([where(pool.run(job('c', 8 << 20))), where(pool.run(job('d', 1 << 20))), where(pool.run(job('e', 8 << 20)))]);
      assert.deepEqual([c, d, e], ['here', 'here', 'worker']);
      // ... and once the workers run, every job goes to them, however small (the calling thread
      // keeps feeding them and draining their output).
      assert.equal(await where(pool.run(job('f', 1 << 10))), 'worker');
    } finally {
      await pool.close();
    }
  });

  describe('errors from a worker that breaks the rules', () => {
    let failing: WorkerPool;
    before(() => {
      failing = new WorkerPool({ threads: 1, workerFile: new URL('../helpers/fail-worker.js', import.meta.url).href });
    });
    after(async () => {
      await failing.close();
    });
    const fail = (job: { kind: 'fail'; code: string; message: string; raw?: boolean }): Job => job as unknown as Job;

    it('a failed job becomes an OcikitError with the code the worker sent', async () => {
      await assert.rejects(failing.run(fail({ kind: 'fail', code: 'E_BAD_INPUT', message: 'the bytes are wrong' }), 'testing'), (err: unknown) => {
        assert.ok(isOcikitError(err, 'E_BAD_INPUT'), String(err));
        assert.equal((err as Error).name, 'OcikitError');
        assert.equal((err as Error).message, 'testing: the bytes are wrong');
        return true;
      });
    });

    it('a plain Error thrown out of the module is E_WORKER, and the pool still works afterwards', async () => {
      await assert.rejects(failing.run(fail({ kind: 'fail', code: 'E_IO', message: 'boom', raw: true })), (err: unknown) => isOcikitError(err, 'E_WORKER') && /boom/.test((err as Error).message));
      await assert.rejects(failing.run(fail({ kind: 'fail', code: 'E_NOT_FOUND', message: 'still here' })), (err: unknown) => isOcikitError(err, 'E_NOT_FOUND'));
    });
  });

  it('a code that is not ours becomes E_WORKER', () => {
    const got = rebuildError({ code: 'ENOTACODE', message: 'm' }, 'w');
    assert.equal(got.code, 'E_WORKER');
    assert.equal(got.message, 'w: m');
  });

  it('refuses jobs after close', async () => {
    const p = new WorkerPool({ threads: 1 });
    await p.close();
    await assert.rejects(p.run({ kind: 'hash', src: '/dev/null' }), (err: unknown) => isOcikitError(err, 'E_INTERNAL'));
  });

  it('shares native threads among the zstd jobs running at once', () => {
    const p = new WorkerPool({ threads: 4 });
    const a = p.nativeThreads();
    const b = p.nativeThreads();
    assert.deepEqual([a.threads, b.threads], [4, 2]);
    a.release();
    b.release();
    assert.equal(p.nativeThreads().threads, 4);
  });
});
