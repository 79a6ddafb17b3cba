/**
 * Child process for two-process.test.ts: opens a shared store, waits for the go file, then puts
 * 50 blobs shared with the other child and 50 of its own, mixing streams, bytes and files, all
 * at once. Exits 0 on success; prints the error and exits 1 otherwise.
 *
 * usage: node put-many.js STORE_DIR WORKER_ID GO_FILE SCRATCH_DIR
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { digestBytes } from '../../lib/digest/index.js';
import { BlobStore } from '../../lib/store/index.js';

/** The content of blob `name`: deterministic, 1 KiB to ~300 KiB. */
export function blobContent(name: string): Buffer {
  const seed = digestBytes(name);
  const size = 1024 + (parseInt(seed.slice(7, 13), 16) % 300_000);
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = seed.charCodeAt(7 + (i % 64)) ^ (i & 0xff);
  return out;
}

export const SHARED = 50;
export const OWN = 50;

async function main(): Promise<void> {
  const [root, id, goFile, scratch] = process.argv.slice(2);
  if (!root || !id || !goFile || !scratch) throw new Error('usage: put-many STORE_DIR WORKER_ID GO_FILE SCRATCH_DIR');
  const store = BlobStore.open(root);
  const lease = store.lease();
  process.stdout.write('ready\n');
  // Bounded: if the test died before writing the go file, give up rather than wait forever.
  const giveUp = Date.now() + 120_000;
  while (!existsSync(goFile)) {
    if (Date.now() > giveUp) throw new Error(`worker ${id}: no go file ${goFile} after 120 s`);
    await new Promise((r) => setTimeout(r, 2));
  }

  const names = [...Array.from({ length: SHARED }, (_, i) => `shared-${i}`), ...Array.from({ length: OWN }, (_, i) => `own-${id}-${i}`)];
  await Promise.all(
    names.map(async (name, i) => {
      const data = blobContent(name);
      const digest = digestBytes(data);
      const expect = { digest, size: data.length, what: `${name} (worker ${id})` };
      switch (i % 3) {
        case 0: {
          const parts: Buffer[] = [];
          for (let o = 0; o < data.length; o += 16384) parts.push(data.subarray(o, o + 16384));
          await store.put(Readable.from(parts), expect);
          break;
        }
        case 1:
          await store.put(data, expect);
          break;
        default: {
          const file = join(scratch, `${id}-${i}`);
          writeFileSync(file, data);
          await store.put({ path: file }, expect);
        }
      }
      store.cache.recordLocation('docker', `worker-${id}`, digest);
      if (!store.has(digest)) throw new Error(`${name}: not in the store right after put`);
    }),
  );
  store.setRef(`worker-${id}:latest`, digestBytes(blobContent('shared-0')));
  lease.release();
  store.close();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
