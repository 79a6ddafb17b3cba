/** Block-joined parallel gzip: valid, and byte-identical for any number of workers. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { crc32, gunzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { BLOCK_SIZE, WorkerPool, gzipFileParallel } from '../../lib/pool/index.js';
import { crc32Combine } from '../../workers/crc32.js';
import { requirePeer } from '../helpers/peers.js';
import { tempDir } from '../helpers/paths.js';

const sha = (b: Buffer): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** Compressible but not trivial input: text-like lines with random words, deterministic from a seed. */
function sampleInput(size: number, seed: number): Buffer {
  const words = ['layer', 'blob', 'usr', 'lib', 'share', 'node', 'index', 'digest', 'sha256', 'tar'];
  const out = Buffer.alloc(size);
  let x = seed >>> 0;
  let i = 0;
  while (i < size) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const w = words[x % words.length]! + (x % 7 === 0 ? '\n' : ' ');
    i += out.write(w, i);
  }
  return out;
}

describe('crc32Combine', () => {
  it('equals the crc of the concatenation for many splits', () => {
    const data = randomBytes(100_000);
    for (const cut of [0, 1, 7, 4096, 65_537, 99_999, 100_000]) {
      const a = data.subarray(0, cut);
      const b = data.subarray(cut);
      assert.equal(crc32Combine(crc32(a), crc32(b), b.length), crc32(data) >>> 0, `cut at ${cut}`);
    }
  });
});

describe('parallel gzip', () => {
  let dir: string;
  const pools: WorkerPool[] = [];
  before(() => {
    dir = tempDir('ocikit-pgz-');
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  async function gz(path: string, threads: number, level: number): Promise<Buffer> {
    const pool = new WorkerPool({ threads });
    pools.push(pool);
    const out = join(dir, `out.${threads}.${level}.${Math.random()}.gz`);
    await pipeline(gzipFileParallel(pool, path, { level }), createWriteStream(out));
    const b = readFileSync(out);
    rmSync(out);
    return b;
  }

  it('is byte-identical with 1, 2 and 3 workers, and with the one-job serial path', async () => {
    // 3.5 blocks: several full blocks and a partial last one.
    const data = sampleInput(Math.floor(BLOCK_SIZE * 3.5), 42);
    const src = join(dir, 'in.bin');
    writeFileSync(src, data);
    const got1 = await gz(src, 1, 6);
    const got2 = await gz(src, 2, 6);
    const got3 = await gz(src, 3, 6);
    assert.equal(sha(got2), sha(got1));
    assert.equal(sha(got3), sha(got1));
    const pool = new WorkerPool({ threads: 1 });
    pools.push(pool);
    const dst = join(dir, 'serial.gz');
    const r = await pool.run({ kind: 'compress', src, dst, format: 'gzip', level: 6 });
    const serial = readFileSync(dst);
    assert.equal(r.digest, sha(got1));
    assert.equal(sha(serial), sha(got1));
    assert.equal(r.inputSize, data.length);
    assert.ok(gunzipSync(got1).equals(data), 'node gunzip gives the input back');
    assert.ok(got1.length < data.length / 2, `compresses: ${got1.length} of ${data.length}`);
  });

  it('passes gzip -t and pigz -t, and gzip -d gives the input back, at levels 1, 6 and 9', async () => {
    const gzipBin = requirePeer('gzip');
    const pigzBin = requirePeer('pigz');
    const data = Buffer.concat([sampleInput(BLOCK_SIZE + 12_345, 7), randomBytes(300_000), sampleInput(BLOCK_SIZE, 9)]);
    const src = join(dir, 'mixed.bin');
    writeFileSync(src, data);
    for (const level of [1, 6, 9]) {
      const got = await gz(src, 2, level);
      const f = join(dir, `mixed.${level}.gz`);
      writeFileSync(f, got);
      for (const bin of [gzipBin, pigzBin]) {
        const t = spawnSync(bin, ['-t', f], { encoding: 'utf8' });
        assert.equal(t.status, 0, `${bin} -t at level ${level}: ${t.stderr}`);
      }
      const d = spawnSync(gzipBin, ['-dc', f], { maxBuffer: 64 << 20 });
      assert.equal(d.status, 0);
      assert.equal(sha(d.stdout), sha(data), `gzip -d at level ${level}`);
    }
  });

  it('empty input and exactly one block give valid gzip of the same bytes', async () => {
    for (const data of [Buffer.alloc(0), sampleInput(BLOCK_SIZE, 3), sampleInput(BLOCK_SIZE * 2, 4)]) {
      const src = join(dir, `edge.${data.length}.bin`);
      writeFileSync(src, data);
      const got = await gz(src, 2, 6);
      assert.equal(sha(gunzipSync(got)), sha(data), `input of ${data.length} bytes`);
      const again = await gz(src, 1, 6);
      assert.equal(sha(again), sha(got));
    }
  });

  it('a missing input fails with E_NOT_FOUND', async () => {
    const pool = new WorkerPool({ threads: 1 });
    pools.push(pool);
    await assert.rejects(pipeline(gzipFileParallel(pool, join(dir, 'absent'), { level: 6 }), createWriteStream(join(dir, 'x.gz'))), (err: unknown) => (err as { code?: string }).code === 'E_NOT_FOUND');
  });
});
