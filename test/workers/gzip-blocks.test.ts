/** Block-joined parallel gzip: valid, byte-identical however many blocks run at once, and the same bytes ocikit always produced. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { BLOCK_SIZE, GzipBlockEncoder, WorkerPool, compressFile } from '../../lib/pool/index.js';
import { requirePeer } from '../../support/peers.js';
import { tempDir } from '../helpers/paths.js';
import { sha } from '../../support/digest.js';

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

/** Gzip `data` with the encoder directly, `window` blocks at once, fed in chunks of `chunk` bytes. */
async function encode(data: Buffer, level: number, window: number, chunk = 1 << 16): Promise<Buffer> {
  const parts: Buffer[] = [];
  const pieces = Array.from({ length: Math.ceil(data.length / chunk) }, (_, i) => data.subarray(i * chunk, (i + 1) * chunk));
  await pipeline(
    Readable.from(pieces),
    new GzipBlockEncoder({ level, window }),
    new Writable({
      write(c: Buffer, _e, cb): void {
        parts.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(parts);
}

describe('block-joined gzip', () => {
  let dir: string;
  const pools: WorkerPool[] = [];
  before(() => {
    dir = tempDir('ocikit-pgz-');
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  // Digests of what ocikit's block gzip produces: a layer compressed again must get the digest it
  // got before, on any machine, or layouts and registries fill with copies of one layer. They
  // changed once, deliberately, when MEM_LEVEL went from 8 to 9 (gzip-blocks.ts); the two tiny
  // inputs below, too small for a larger hash table to find other matches in, kept theirs.
  const GOLDEN: Array<[size: number, level: number, digest: string]> = [
    [3 * BLOCK_SIZE + 12_345, 4, 'sha256:3f0af95105a9fe9e8b617a321f76787c90b751738373d1e4c95a9ab47a712476'],
    [BLOCK_SIZE, 6, 'sha256:3a255137cae5e6b6e824c65749f0451d2b0fd4caaa0d5ccb5dd0ed6e59a51a75'],
    [100, 1, 'sha256:1494937a66f5f6bf1638cf464b25f81584301dbd26ef3b6706bda0447d594d83'],
    [0, 4, 'sha256:ac73670af3abed54ac6fb4695131f4099be9fbe39d6076c5d0264a6bbdae9d83'],
    [5 * BLOCK_SIZE, 9, 'sha256:428f4d7586bf44c553e5b11b0fab9d65bdecba0593e8213967610d8ae5dfea5b'],
  ];
  for (const [size, level, want] of GOLDEN) {
    it(`keeps the digest it always had: ${size} bytes at level ${level}`, async () => {
      const data = sampleInput(size, 42);
      assert.equal(sha(await encode(data, level, 4)), want);
      assert.ok(gunzipSync(await encode(data, level, 1)).equals(data));
    });
  }

  it('is byte-identical with 1, 2, 3 and 8 blocks at once, and whatever the input chunking', async () => {
    // 3.5 blocks: several full blocks and a partial last one.
    const data = sampleInput(Math.floor(BLOCK_SIZE * 3.5), 42);
    const want = sha(await encode(data, 6, 1, 1 << 20));
    for (const [window, chunk] of [
      [2, 4096],
      [3, 1 << 20],
      [8, 777_777],
    ] as const) {
      assert.equal(sha(await encode(data, 6, window, chunk)), want, `window ${window}, chunks of ${chunk}`);
    }
    // And through a pool job (file to file), as the copy pipeline runs it.
    const pool = new WorkerPool({ threads: 2, inlineBytes: 0 });
    pools.push(pool);
    const src = join(dir, 'in.bin');
    writeFileSync(src, data);
    const dst = join(dir, 'in.bin.gz');
    const r = await compressFile(pool, src, dst, 'gzip', 6);
    assert.equal(r.digest, want);
    assert.equal(sha(readFileSync(dst)), want);
    assert.equal(r.inputSize, data.length);
    assert.ok(readFileSync(dst).length < data.length / 2, 'compresses');
  });

  it('passes gzip -t and pigz -t, and gzip -d gives the input back, at levels 1, 6 and 9', async () => {
    const gzipBin = requirePeer('gzip');
    const pigzBin = requirePeer('pigz');
    const data = Buffer.concat([sampleInput(BLOCK_SIZE + 12_345, 7), randomBytes(300_000), sampleInput(BLOCK_SIZE, 9)]);
    for (const level of [1, 6, 9]) {
      const f = join(dir, `mixed.${level}.gz`);
      writeFileSync(f, await encode(data, level, 2));
      for (const bin of [gzipBin, pigzBin]) {
        const t = spawnSync(bin, ['-t', f], { encoding: 'utf8' });
        assert.equal(t.status, 0, `${bin} -t at level ${level}: ${t.stderr}`);
      }
      const d = spawnSync(gzipBin, ['-dc', f], { maxBuffer: 64 << 20 });
      assert.equal(d.status, 0);
      assert.equal(sha(d.stdout), sha(data), `gzip -d at level ${level}`);
      rmSync(f);
    }
  });

  it('refuses a level outside 0..9 with a RangeError naming it', () => {
    for (const level of [-1, 10, 2.5])
      assert.throws(
        () => new GzipBlockEncoder({ level }),
        (err: unknown) => err instanceof RangeError && /level/.test(err.message),
      );
  });
});
