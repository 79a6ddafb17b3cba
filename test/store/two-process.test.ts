import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { digestBytes } from '../../lib/digest/index.js';
import { BlobStore, verify } from '../../lib/store/index.js';
import { tempDir } from '../helpers/paths.js';
import { blobContent, OWN, SHARED } from './put-many.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Child {
  ready: Promise<void>;
  done: Promise<{ code: number | null; stderr: string }>;
  kill: () => void;
}

function startWorker(root: string, id: string, goFile: string, scratch: string): Child {
  const child = spawn(process.execPath, [join(here, 'put-many.js'), root, id, goFile, scratch], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes('ready\n')) resolve();
    });
    child.on('exit', (code, signal) => reject(new Error(`worker ${id} exited before ready (code ${code}, signal ${signal}): ${stderr}`)));
  });
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return { ready, done, kill: () => child.kill('SIGKILL') };
}

test('two processes putting the same 50 blobs and 50 distinct ones into one store at once both succeed and leave every blob intact', async () => {
  const base = tempDir('ocikit-2proc-');
  const root = join(base, 'store');
  const scratch = join(base, 'scratch');
  mkdirSync(scratch);
  const goFile = join(base, 'go');
  // Both children open the store themselves (creating it: the schema and WAL switch race too).
  const workers = [startWorker(root, 'a', goFile, scratch), startWorker(root, 'b', goFile, scratch)];
  try {
    await Promise.all(workers.map((w) => w.ready));
  } catch (err) {
    // One failed to start: the other would wait for the go file, and keep this test alive, forever.
    for (const w of workers) w.kill();
    throw err;
  }
  writeFileSync(goFile, '');
  const results = await Promise.all(workers.map((w) => w.done));
  for (const r of results) assert.equal(r.code, 0, r.stderr);

  const names = [...Array.from({ length: SHARED }, (_, i) => `shared-${i}`), ...['a', 'b'].flatMap((id) => Array.from({ length: OWN }, (_, i) => `own-${id}-${i}`))];
  const want = names.map((n) => digestBytes(blobContent(n))).sort();

  const store = BlobStore.open(root);
  try {
    const report = await verify(store);
    assert.deepEqual(report, { checked: want.length, corrupt: [], missing: [], repaired: 0 });
    assert.deepEqual(
      store.index.allBlobs
        .all()
        .map((r) => r.digest)
        .sort(),
      want,
    );
    for (const d of want) assert.ok(store.stat(d), `${d} passes the tamper check`);
    assert.deepEqual(readdirSync(join(root, 'tmp')), []);
    assert.deepEqual(
      store.refs().map((r) => r.name),
      ['worker-a:latest', 'worker-b:latest'],
    );
    const shared0 = digestBytes(blobContent('shared-0'));
    assert.deepEqual(store.cache.locations('docker', shared0).sort(), ['worker-a', 'worker-b']);
    assert.equal(store.index.allLeases.all().length, 0, 'both leases released');
  } finally {
    store.close();
  }
});
