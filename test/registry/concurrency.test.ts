/**
 * Blob transfers against a real registry: in parallel, largest first, and never more than the
 * per-host bound in flight however many copies run at once in the process.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { copyImage } from '../../lib/copy/index.js';
import { DEFAULT_PER_HOST, closeDispatchers } from '../../lib/registry/index.js';
import { BlobStore } from '../../lib/store/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import { peakConcurrency, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { tempDir } from '../helpers/paths.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { sha } from '../helpers/digest.js';

let reg: RegistryHandle;
let proxy: FaultProxy;

before(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.host);
});

after(async () => {
  await proxy.close();
  await closeDispatchers();
  await reg.stop();
});

/** An OCI layout with `n` gzip layers of distinct sizes (layer i: (i+1) KiB of random bytes), in shuffled manifest order. */
function makeImage(n: number): { ref: string; largest: string } {
  const dir = tempDir('ocikit-many-');
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer): string => {
    const d = sha(b);
    writeFileSync(join(blobs, d.slice(7)), b);
    return d;
  };
  const layers: Array<{ mediaType: string; digest: string; size: number }> = [];
  const diffIds: string[] = [];
  const order = Array.from({ length: n }, (_, i) => (i * 7) % n);
  for (const i of order) {
    const plain = randomBytes((i + 1) * 1024);
    const gz = gzipSync(plain);
    diffIds.push(sha(plain));
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: put(gz), size: gz.length });
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds }, config: {} }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length },
      layers,
    }),
  );
  const md = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: md, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
    }),
  );
  const largest = [...layers].sort((a, b) => b.size - a.size)[0]!.digest;
  return { ref: `oci:${dir}:latest`, largest };
}

const isUpload = (r: { method: string; path: string }): boolean => r.method === 'PUT' && r.path.includes('/blobs/uploads/');

describe('blob transfers', () => {
  it('two copies at once to one registry share the per-host bound; the largest blobs go first', async () => {
    const a = makeImage(16);
    const b = makeImage(16);
    proxy.requests.length = 0;
    // Slow uploads down so that overlap is visible.
    proxy.rule = (r) => (isUpload(r) ? { kind: 'stall', ms: 60 } : { kind: 'pass' });
    const s1 = BlobStore.open(tempDir());
    const s2 = BlobStore.open(tempDir());
    try {
      await Promise.all([
        copyImage(parseImageName(a.ref), parseImageName(`docker://${proxy.host}/many/a:v1`), { store: s1, jobs: 16, destCtx: { registry: { tlsVerify: false } } }),
        copyImage(parseImageName(b.ref), parseImageName(`docker://${proxy.host}/many/b:v1`), { store: s2, jobs: 16, destCtx: { registry: { tlsVerify: false } } }),
      ]);
    } finally {
      proxy.rule = () => ({ kind: 'pass' });
      s1.close();
      s2.close();
    }
    const uploads = proxy.requests.filter(isUpload);
    assert.equal(uploads.length, 34, '17 blobs per image');
    const peak = peakConcurrency(proxy.requests, isUpload);
    assert.ok(peak <= DEFAULT_PER_HOST, `peak ${peak} uploads in flight`);
    assert.ok(peak >= 3, `uploads ran in parallel (peak ${peak})`);
    // The config goes first (its diff IDs are what layers are checked against), then layer jobs
    // start largest first; the first wave (one per slot) races, so the largest is in it, not
    // necessarily at its head.
    const firstWave = (repo: string): string[] =>
      uploads
        .filter((u) => u.path.includes(`/many/${repo}/`))
        .slice(0, DEFAULT_PER_HOST + 1)
        .map((u) => new URL(u.path, 'http://x').searchParams.get('digest') ?? '');
    assert.ok(firstWave('a').includes(a.largest));
    assert.ok(firstWave('b').includes(b.largest));
  });
});
