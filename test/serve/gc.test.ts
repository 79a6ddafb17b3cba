/**
 * `ocikit serve` while `ocikit store gc` runs again and again on the same store: concurrent pulls
 * (skopeo and ocikit, both of which verify every blob they read) and pushes of the same blobs
 * never see a half-written or removed blob; what was pushed is all there afterwards; and gc does
 * remove what nothing refers to once it has not been used for --gc-grace.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ocikit, ocikitAsync, type RunResult } from '../helpers/cli.js';
import { ociImage, randomLayer, type BuiltImage } from '../helpers/layer-images.js';
import { sha } from '../../support/digest.js';
import { tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { startServe, type ServeHandle } from '../helpers/serve.js';

function runAsync(prog: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(prog, args);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Every layer file skopeo wrote into a dir: hashes to its name. */
function dirIntact(d: string, img: BuiltImage): void {
  for (const l of img.layers) assert.equal(sha(readFileSync(join(d, l.digest.slice(7)))), l.digest);
}

describe('ocikit serve while store gc runs', () => {
  let dir: string;
  let store: string;
  let srv: ServeHandle;
  let skopeo: string;
  let base: BuiltImage;
  let orphan: BuiltImage;

  before(async () => {
    skopeo = requirePeer('skopeo');
    dir = tempDir('ocikit-serve-gc-');
    store = join(dir, 'store');
    base = ociImage(join(dir, 'base'), [randomLayer(1_500_000), randomLayer(800_000), randomLayer(20_000)]);
    orphan = ociImage(join(dir, 'orphan'), [randomLayer(600_000)]);
    for (const [img, name] of [
      [base, 'store:base:1'],
      [orphan, 'store:orphan:1'],
    ] as const) {
      const r = ocikit(['--store', store, 'copy', '-q', img.ref, name]);
      assert.equal(r.code, 0, r.stderr);
    }
    // The orphan loses its name: only its recent use (pulls, below) keeps it, for --gc-grace.
    assert.equal(ocikit(['--store', store, 'store', 'rm', 'store:orphan:1', `oci:${join(dir, 'orphan')}:latest`]).code, 0);
    srv = await startServe(store, ['--gc-grace', '400ms']);
  });
  after(async () => {
    await srv?.stop();
  });

  it('pulls and pushes of the same blobs succeed with verified bytes while gc runs; the orphan goes once unused', async () => {
    let stop = false;
    let gcRuns = 0;
    const gcLoop = (async () => {
      while (!stop) {
        const r = await ocikitAsync(['--store', store, 'store', 'gc']);
        assert.equal(r.code, 0, `store gc: ${r.stderr}`);
        gcRuns++;
      }
    })();

    const pushed: Array<{ img: BuiltImage; name: string }> = [];
    const orphanPulls: RunResult[] = [];
    try {
      for (let round = 0; round < 3; round++) {
        // A new image sharing the base's layers, pushed by two clients at once; base pulled by both tools.
        const img = ociImage(join(dir, `new-${round}`), [...base.layers, randomLayer(400_000)]);
        const name = `pushed/r${round}:1`;
        pushed.push({ img, name });
        const out = (what: string): string => join(dir, `${what}-${round}`);
        const results = await Promise.all([
          runAsync(skopeo, ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', img.ref, `docker://${srv.host}/${name}`]),
          ocikitAsync(['--store', out('client-store'), 'copy', '-q', '--dest-tls-verify=false', '--dest-chunk-size', '64k', img.ref, `docker://${srv.host}/${name}`]),
          runAsync(skopeo, ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${srv.host}/base:1`, `dir:${out('sk-base')}`]),
          ocikitAsync(['--store', out('pull-store'), 'copy', '-q', '--src-tls-verify=false', `docker://${srv.host}/base:1`, `oci:${out('ok-base')}:x`]),
          runAsync(skopeo, ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${srv.host}/any/name@${orphan.manifestDigest}`, `dir:${out('orphan')}`]),
        ]);
        results.slice(0, 4).forEach((r, i) => assert.equal(r.code, 0, `round ${round} client ${i}: ${r.stderr}`));
        dirIntact(out('sk-base'), base);
        orphanPulls.push(results[4]);
        if (results[4].code === 0) dirIntact(out('orphan'), orphan);
      }
    } finally {
      stop = true;
      await gcLoop;
    }
    assert.ok(gcRuns >= 2, `gc ran ${gcRuns} times`);
    // A pull of the orphan either got every byte right (checked above) or was told it is unknown: never a broken blob.
    for (const r of orphanPulls) if (r.code !== 0) assert.match(r.stderr, /manifest unknown|blob unknown|not found/i, r.stderr);

    // Every pushed image is whole: pulled back and checked by skopeo.
    for (const { img, name } of pushed) {
      const d = join(dir, `back-${name.replace(/\W/g, '_')}`);
      const r = await runAsync(skopeo, ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${srv.host}/${name}`, `dir:${d}`]);
      assert.equal(r.code, 0, r.stderr);
      dirIntact(d, img);
    }
    const verify = ocikit(['--store', store, 'store', 'verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);

    // Unused for longer than --gc-grace, the orphan's layer is collected (bounded wait, no timing assertion).
    const orphanLayer = join(store, 'blobs', 'sha256', orphan.layers[0]!.digest.slice(7));
    for (let i = 0; i < 40 && existsSync(orphanLayer); i++) {
      await new Promise((r) => setTimeout(r, 250));
      assert.equal((await ocikitAsync(['--store', store, 'store', 'gc'])).code, 0);
    }
    assert.equal(existsSync(orphanLayer), false, 'gc removed the unreferenced layer once the server no longer used it');
    for (const l of base.layers) assert.ok(readdirSync(join(store, 'blobs', 'sha256')).includes(l.digest.slice(7)));
  });
});
