import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { digestBytes, type Digest } from '../../lib/digest/index.js';
import { BlobStore } from '../../lib/store/index.js';
import { tempDir } from '../helpers/paths.js';

const d = (s: string): Digest => digestBytes(s);

function openTemp(): BlobStore {
  return BlobStore.open(join(tempDir('ocikit-cache-'), 'store'));
}

test('info cache: uncompressed pairs round trip; a recorded uncompressed digest maps to itself', () => {
  const store = openTemp();
  try {
    const c = store.cache;
    const [gz, raw, unknown] = [d('gz'), d('raw'), d('unknown')];
    assert.equal(c.uncompressedOf(gz), undefined);
    c.recordUncompressed(gz, raw);
    assert.equal(c.uncompressedOf(gz), raw);
    assert.equal(c.uncompressedOf(raw), raw, 'the uncompressed side of a pair is known uncompressed');
    assert.equal(c.uncompressedOf(unknown), undefined);
    const alone = d('alone');
    c.recordUncompressed(alone, alone);
    assert.equal(c.uncompressedOf(alone), alone);
    assert.deepEqual(c.compressedOf(raw), [gz]);
  } finally {
    store.close();
  }
});

test('info cache: variants by format and level; any level prefers one present in the store', async () => {
  const store = openTemp();
  try {
    const c = store.cache;
    const raw = d('raw');
    const gz1 = d('gz1');
    const gz9 = d('gz9');
    const zst3 = d('zst3');
    c.recordVariant(raw, 'gzip', 1, gz1);
    c.recordVariant(raw, 'zstd', 3, zst3);
    c.recordVariant(raw, 'gzip', 9, gz9);
    assert.equal(c.findVariant(raw, 'gzip', 1), gz1);
    assert.equal(c.findVariant(raw, 'gzip', 9), gz9);
    assert.equal(c.findVariant(raw, 'gzip', 6), undefined);
    assert.equal(c.findVariant(raw, 'zstd'), zst3);
    assert.equal(c.findVariant(raw, 'gzip'), gz9, 'newest when none is in the store');
    // Put gz1's bytes in the store: now it wins for "any level".
    const stored = await store.put(Buffer.from('gz1 bytes'), { what: 'variant' });
    c.recordVariant(raw, 'gzip', 2, stored.digest);
    c.recordVariant(raw, 'gzip', 9, gz9); // newer record, but not in the store
    assert.equal(c.findVariant(raw, 'gzip'), stored.digest);
    assert.deepEqual(c.variantsOf(raw), [
      { format: 'gzip', level: 1, compressed: gz1 },
      { format: 'gzip', level: 2, compressed: stored.digest },
      { format: 'gzip', level: 9, compressed: gz9 },
      { format: 'zstd', level: 3, compressed: zst3 },
    ]);
    // A variant implies its pair.
    assert.equal(c.uncompressedOf(zst3), raw);
    // Nonsense is ignored, not thrown.
    c.recordVariant(raw, 'brotli' as 'gzip', 1, gz1);
    c.recordVariant('nope', 'gzip', 1, gz1);
    assert.equal(c.variantsOf(raw).length, 4);
  } finally {
    store.close();
  }
});

test('info cache: locations per transport, most recent first', () => {
  // The store's clock, moved by hand: the order comes from the recorded times, not from waiting.
  let now = 1_000_000;
  const store = BlobStore.open(join(tempDir('ocikit-cache-'), 'store'), { now: () => now });
  try {
    const c = store.cache;
    const blob = d('blob');
    c.recordLocation('docker', 'registry.a/org/one', blob);
    now += 1;
    c.recordLocation('docker', 'registry.b/two', blob);
    c.recordLocation('oci', '/some/layout', blob);
    assert.deepEqual(c.locations('docker', blob), ['registry.b/two', 'registry.a/org/one']);
    now += 1;
    c.recordLocation('docker', 'registry.a/org/one', blob);
    assert.deepEqual(c.locations('docker', blob), ['registry.a/org/one', 'registry.b/two']);
    assert.deepEqual(c.locations('oci', blob), ['/some/layout']);
    assert.deepEqual(c.locations('docker', d('other')), []);
  } finally {
    store.close();
  }
});

test('info cache: facts recorded by one handle are seen by another on the same store', () => {
  const root = join(tempDir('ocikit-cache-'), 'store');
  const a = BlobStore.open(root);
  const b = BlobStore.open(root);
  try {
    a.cache.recordVariant(d('u'), 'zstd', 3, d('z'));
    assert.equal(b.cache.findVariant(d('u'), 'zstd', 3), d('z'));
  } finally {
    a.close();
    b.close();
  }
});

test('info cache: never throws after the store is closed, it answers "unknown"', () => {
  const store = openTemp();
  const c = store.cache;
  c.recordUncompressed(d('gz'), d('raw'));
  store.close();
  assert.doesNotThrow(() => {
    c.recordUncompressed(d('gz2'), d('raw'));
    c.recordVariant(d('raw'), 'gzip', 6, d('gz6'));
    c.recordLocation('docker', 'r/x', d('raw'));
  });
  assert.equal(c.uncompressedOf(d('gz')), undefined);
  assert.equal(c.findVariant(d('raw'), 'gzip'), undefined);
  assert.deepEqual(c.variantsOf(d('raw')), []);
  assert.deepEqual(c.locations('docker', d('raw')), []);
  assert.deepEqual(c.compressedOf(d('raw')), []);
});
