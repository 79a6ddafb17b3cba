/** zstd through the pool: round trip, and output that does not depend on the native thread count. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkerPool, compressFile, decompressFile } from '../../lib/pool/index.js';
import type { BlobJob } from '../../lib/pool/index.js';
import { tempDir } from '../helpers/paths.js';
import { sha } from '../../support/digest.js';

describe('zstd jobs', () => {
  let pool: WorkerPool;
  let dir: string;
  before(() => {
    pool = new WorkerPool({ threads: 2, inlineBytes: 0 });
    dir = tempDir('ocikit-zstd-');
  });
  after(async () => {
    await pool.close();
  });

  it('compress then decompress gives the input back; the decompress digest is its sha256', async () => {
    const data = Buffer.concat(Array.from({ length: 3000 }, (_, i) => Buffer.from(`line ${i} of a layer that zstd should squeeze ${i % 13}\n`.repeat(20))));
    const src = join(dir, 'in.tar');
    writeFileSync(src, data);
    const zst = join(dir, 'in.tar.zst');
    const c = await compressFile(pool, src, zst, 'zstd', 3);
    const compressed = readFileSync(zst);
    assert.equal(c.digest, sha(compressed));
    assert.equal(c.inputSize, data.length);
    assert.ok(compressed.length < data.length / 4, `compresses: ${compressed.length} of ${data.length}`);
    assert.deepEqual([...compressed.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd], 'zstd frame magic');
    const out = join(dir, 'out.tar');
    const d = await decompressFile(pool, zst, out, 'zstd');
    assert.equal(d.digest, sha(data));
    assert.ok(readFileSync(out).equals(data));
  });

  it('is byte-identical with 1 and 4 native threads', async () => {
    const data = Buffer.concat(Array.from({ length: 40 }, (_, i) => Buffer.alloc(256 << 10, `block ${i} `)));
    const src = join(dir, 'big.tar');
    writeFileSync(src, data);
    const job = (dst: string, threads: number): BlobJob => ({
      kind: 'blob',
      input: { kind: 'file', path: src, offset: 0, length: -1 },
      expect: { size: -1 },
      what: 'test',
      compress: { format: 'zstd', level: 3, threads, out: { kind: 'new-file', path: join(dir, dst) } },
    });
    const a = await pool.run(job('a.zst', 1));
    const b = await pool.run(job('b.zst', 4));
    assert.equal(b.compressed!.digest, a.compressed!.digest);
    assert.equal(sha(readFileSync(join(dir, 'a.zst'))), a.compressed!.digest);
  });

  it('rejects an out-of-range level with E_USAGE', async () => {
    const src = join(dir, 'lvl.bin');
    writeFileSync(src, 'x');
    await assert.rejects(compressFile(pool, src, join(dir, 'lvl.zst'), 'zstd', 99), (err: unknown) => (err as { code?: string }).code === 'E_USAGE');
  });
});
