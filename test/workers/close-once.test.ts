/**
 * A worker closes each output descriptor exactly once. `bundle apply` of a bundle whose layer does
 * not match its digest used to close its output file twice (in finish, then again on the error
 * path), which Node reports as "Warning: File descriptor N closed but not opened in unmanaged
 * mode": the second close could have closed a file another thread had just opened under the
 * same number.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ocikit } from '../helpers/cli.js';
import { ociImage, randomLayer } from '../helpers/layer-images.js';
import { tempDir } from '../helpers/paths.js';
import { storeSnapshot } from '../helpers/store.js';

describe('workers close each descriptor once', () => {
  it('bundle apply of a bundle with a corrupt layer: one line of error, no descriptor warning, nothing stored', () => {
    const dir = tempDir('ocikit-close-once-');
    const layer = randomLayer(200_000);
    const img = ociImage(join(dir, 'img'), [layer]);
    const sender = join(dir, 'sender');
    const receiver = join(dir, 'receiver');
    assert.equal(ocikit(['--store', sender, 'copy', '-q', img.ref, 'store:acme/app:1']).code, 0);
    const bundle = join(dir, 'b.tar');
    const made = ocikit(['--store', sender, 'bundle', 'create', 'store:acme/app:1', '-o', bundle]);
    assert.equal(made.code, 0, made.stderr);
    const bytes = readFileSync(bundle);
    const at = bytes.indexOf(layer.gz.subarray(0, 256));
    assert.ok(at > 0);
    bytes[at + 1000] = bytes[at + 1000]! ^ 0xff;
    const tampered = join(dir, 'tampered.tar');
    writeFileSync(tampered, bytes);
    // The receiver exists (an empty store) so that what apply leaves can be compared.
    assert.equal(ocikit(['--store', receiver, 'store', 'ls']).code, 0);
    const before = storeSnapshot(receiver);
    const r = ocikit(['--store', receiver, 'bundle', 'apply', tampered]);
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.stderr, /File descriptor|Warning/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /digest/);
    assert.deepEqual(storeSnapshot(receiver), before);
  });
});
