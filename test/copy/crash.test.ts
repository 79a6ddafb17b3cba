/**
 * Crash safety: a copy killed with SIGKILL at points spread over its run leaves the destination
 * as it was (or absent), nothing corrupt in the store, and nothing behind once the next copy ran;
 * the next copy succeeds. And a second process sharing the store is not disturbed by the kill.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ocikit, ocikitAsync, run } from '../helpers/cli.js';
import { cliPath, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { processAlive, tempWriter } from '../../lib/fs/durable.js';
import { sha, shaHex } from '../../support/digest.js';

const KILLS = 10;

/** Deterministic, compressible bytes (about 3:1 with gzip, like real layers). */
function content(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let off = 0, i = 0; off < size; i++) off += out.write(`${seed} ${i} ${createHash('md5').update(`${seed}:${i}`).digest('base64')}\n`, off);
  return out;
}

/** An OCI layout holding one image of `n` gzip layers of `size` bytes each (plain "tars": the pipeline does not look inside). */
function makeImage(root: string, seed: string, n: number, size: number): void {
  mkdirSync(join(root, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const blob = (b: Buffer): { digest: string; size: number } => {
    writeFileSync(join(root, 'blobs', 'sha256', shaHex(b)), b);
    return { digest: sha(b), size: b.length };
  };
  const plains = Array.from({ length: n }, (_, i) => content(`${seed}-${i}`, size));
  const layers = plains.map((p) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...blob(gzipSync(p, { level: 1 })) }));
  const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: plains.map((p) => sha(p)) } })));
  const m = blob(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers })),
  );
  writeFileSync(
    join(root, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }),
  );
}

/** Every file under `p` (or `p` itself) with its sha256: what "byte-identical" compares. */
function snapshot(p: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(p)) return out;
  const visit = (q: string): void => {
    const st = statSync(q);
    if (st.isDirectory()) for (const n of readdirSync(q)) visit(join(q, n));
    else out.set(relative(p, q) || '.', shaHex(readFileSync(q)));
  };
  visit(p);
  return out;
}

/** Start `ocikit copy`, kill it with SIGKILL after `ms`, and wait until it is gone. Returns its exit code (null when killed). */
function killedCopy(args: string[], ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    const p = spawn(cliPath, [...args], { stdio: 'ignore' });
    const t = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

/** How long a full copy takes here (median of 3), so kill points can be spread over it. */
async function timeCopy(args: (i: number) => string[]): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = Date.now();
    const r = await ocikitAsync(args(i));
    assert.equal(r.code, 0, r.stderr);
    times.push(Date.now() - t);
  }
  return times.sort((a, b) => a - b)[1]!;
}

/** Entries next to `target` left by a process that is gone (staging dirs, temp files). */
function leftovers(target: string): string[] {
  const dir = join(target, '..');
  const base = target.slice(dir.length + 1);
  return readdirSync(dir).filter((e) => e.startsWith(`.${base}.ocikit-`) || (e.startsWith(`${base}.`) && e.endsWith('.tmp')));
}

function verifyStore(store: string): void {
  const v = ocikit(['--store', store, 'store', 'verify', '--json']);
  assert.equal(v.code, 0, v.stderr);
  const res = JSON.parse(v.stdout) as { corrupt: string[] };
  assert.deepEqual(res.corrupt, [], 'the store holds nothing corrupt');
}

describe('crash safety (SIGKILL)', () => {
  let dir: string;
  let imgA: string;
  let imgB: string;
  before(() => {
    requirePeer('skopeo');
    dir = tempDir('ocikit-crash-');
    imgA = join(dir, 'img-a');
    imgB = join(dir, 'img-b');
    makeImage(imgA, 'a', 8, 3 << 20);
    makeImage(imgB, 'b', 8, 3 << 20);
  });

  it('a fresh oci: layout is absent after every kill, and the copy then succeeds', async () => {
    const store = join(dir, 'store-fresh');
    const dest = join(dir, 'fresh');
    const args = (target: string): string[] => ['--store', join(dir, `scratch-${target}`), 'copy', '-q', '--dest-compress-format', 'zstd', `oci:${imgA}:latest`, `oci:${target}:latest`];
    const t = await timeCopy((i) => args(join(dir, `timing-fresh-${i}`)));
    for (let k = 1; k <= KILLS; k++) {
      const code = await killedCopy(['--store', store, ...args(dest).slice(2)], (t * k) / (KILLS + 1));
      // Finished before the kill (or killed between its commit and its exit): then it is whole.
      if (code === 0 || existsSync(dest)) {
        run('skopeo', ['inspect', `oci:${dest}:latest`]);
        break;
      }
      assert.equal(existsSync(dest), false, `kill ${k}: no layout, not even part of one`);
      verifyStore(store);
    }
    const r = ocikit(['--store', store, ...args(dest).slice(2)]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(leftovers(dest), [], 'the dead copies left nothing behind');
    run('skopeo', ['inspect', `oci:${dest}:latest`]);
  });

  it('an existing oci: layout keeps index.json and every file it had; anything new is a complete blob', async () => {
    const store = join(dir, 'store-existing');
    const dest = join(dir, 'existing');
    assert.equal(ocikit(['--store', store, 'copy', '-q', `oci:${imgB}:latest`, `oci:${dest}:b`]).code, 0);
    const before = snapshot(dest);
    const args = ['--store', store, 'copy', '-q', '--dest-compress-format', 'zstd', `oci:${imgA}:latest`, `oci:${dest}:a`];
    const t = await timeCopy((i) => ['--store', join(dir, `scratch-ex-${i}`), 'copy', '-q', '--dest-compress-format', 'zstd', `oci:${imgA}:latest`, `oci:${join(dir, `timing-ex-${i}`)}:a`]);
    for (let k = 1; k <= KILLS; k++) {
      const code = await killedCopy(args, (t * k) / (KILLS + 1));
      const now = snapshot(dest);
      // Finished before the kill (or killed between its commit and its exit): then it is whole.
      if (code === 0 || now.get('index.json') !== before.get('index.json')) {
        run('skopeo', ['inspect', `oci:${dest}:a`]);
        break;
      }
      for (const [p, h] of before) assert.equal(now.get(p), h, `kill ${k}: ${p} unchanged`);
      for (const [p, h] of now) {
        if (before.has(p)) continue;
        // A kill while index.json was being rewritten leaves the dead writer's temp file (never
        // index.json itself half-written): the next writer of the layout removes it (below).
        const temp = tempWriter(p);
        if (temp?.final === 'index.json' && !processAlive(temp.pid)) continue;
        // A kill while holding the layout's lock leaves the lock: naming its dead holder, or empty
        // when the kill fell between its creation and the pid's write. The next writer takes it over.
        if (p === 'index.json.lock') {
          const text = readFileSync(join(dest, p), 'utf8');
          assert.ok(text === '' || !processAlive(Number(text)), `kill ${k}: the lock names a live process: ${text}`);
          continue;
        }
        // Blobs of the new image may already sit in blobs/ (unreferenced): never partial.
        assert.match(p, /^blobs\/sha256\/[0-9a-f]{64}$/, `kill ${k}: only blobs are new, not ${p}`);
        assert.equal(h, p.slice(13), `kill ${k}: ${p} is complete`);
      }
      verifyStore(store);
    }
    const r = ocikit(args);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(leftovers(dest), []);
    assert.deepEqual(
      [...snapshot(dest).keys()].filter((p) => p.endsWith('.tmp') || p.endsWith('.lock')),
      [],
      'the next copy removed what the dead ones left inside the layout',
    );
    assert.deepEqual(JSON.parse(ocikit(['list-tags', `oci:${dest}`]).stdout).Tags.sort(), ['a', 'b']);
    run('skopeo', ['inspect', `oci:${dest}:a`]);
    run('skopeo', ['inspect', `oci:${dest}:b`]);
  });

  it('a docker-archive being added to stays byte-identical after every kill', async () => {
    const store = join(dir, 'store-archive');
    const dest = join(dir, 'images.tar');
    assert.equal(ocikit(['--store', store, 'copy', '-q', `oci:${imgB}:latest`, `docker-archive:${dest}:example.com/b:1`]).code, 0);
    const before = shaHex(readFileSync(dest));
    const args = ['--store', store, 'copy', '-q', `oci:${imgA}:latest`, `docker-archive:${dest}:example.com/a:1`];
    const t = await timeCopy((i) => ['--store', join(dir, `scratch-ar-${i}`), 'copy', '-q', `oci:${imgA}:latest`, `docker-archive:${join(dir, `timing-${i}.tar`)}:example.com/a:1`]);
    for (let k = 1; k <= KILLS; k++) {
      const code = await killedCopy(args, (t * k) / (KILLS + 1));
      // Finished before the kill (or killed between its commit and its exit): then it is whole.
      if (code === 0 || shaHex(readFileSync(dest)) !== before) {
        run('skopeo', ['inspect', `docker-archive:${dest}:example.com/a:1`]);
        break;
      }
      assert.equal(shaHex(readFileSync(dest)), before, `kill ${k}: the archive is as it was`);
      verifyStore(store);
    }
    const r = ocikit(args);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(leftovers(dest), []);
    assert.deepEqual(JSON.parse(ocikit(['list-tags', `docker-archive:${dest}`]).stdout).Tags.sort(), ['example.com/a:1', 'example.com/b:1']);
    run('skopeo', ['inspect', `docker-archive:${dest}:example.com/a:1`]);
  });

  it('two processes share a store; killing one never disturbs the other, and the store stays whole', async () => {
    const store = join(dir, 'store-shared');
    const t = await timeCopy((i) => ['--store', join(dir, `scratch-sh-${i}`), 'copy', '-q', `oci:${imgA}:latest`, `docker-archive:${join(dir, `timing-sh-${i}.tar`)}:x/a:1`]);
    for (let k = 1; k <= KILLS; k++) {
      const other = ocikitAsync(['--store', store, 'copy', '-q', `oci:${imgB}:latest`, `docker-archive:${join(dir, `other-${k}.tar`)}:x/b:1`]);
      await killedCopy(['--store', store, 'copy', '-q', `oci:${imgA}:latest`, `docker-archive:${join(dir, `killed-${k}.tar`)}:x/a:1`], (t * k) / (KILLS + 1));
      const r = await other;
      assert.equal(r.code, 0, `kill ${k}: the other copy: ${r.stderr}`);
      verifyStore(store);
    }
    const gc = ocikit(['--store', store, 'store', 'gc', '--json']);
    assert.equal(gc.code, 0, gc.stderr);
    const r = ocikit(['--store', store, 'copy', '-q', `oci:${imgA}:latest`, `docker-archive:${join(dir, 'after.tar')}:x/a:1`]);
    assert.equal(r.code, 0, r.stderr);
    run('skopeo', ['inspect', `docker-archive:${join(dir, 'after.tar')}`]);
  });
});
