/**
 * lib/transports/tar/archive.ts reads archives in place by trusting `header.byteOffset`, a field
 * tar-stream 3.x sets on each entry's header but does not document. tar-stream is therefore pinned
 * to one exact version, and this test fails if the field disappears or means something else (an
 * upgrade must pass it before the pin moves).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { rawTar, tarHeaders } from '../helpers/tar.js';

test('tar-stream is pinned to the exact version installed', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const pinned = pkg.dependencies['tar-stream'];
  assert.match(pinned ?? '', /^\d+\.\d+\.\d+$/, 'an exact version, not a range');
  // Its package.json is not exported: find the package by its entry point, then read the file.
  const entry = createRequire(join(repoRoot, 'package.json')).resolve('tar-stream');
  const installed = (JSON.parse(readFileSync(join(dirname(entry), 'package.json'), 'utf8')) as { name: string; version: string }).version;
  assert.equal(installed, pinned);
});

test("header.byteOffset is where each member's data starts, long (pax) names and empty members included", async () => {
  const members = [
    { name: 'a.txt', data: Buffer.from('first member') },
    { name: `${'d'.repeat(120)}/${'n'.repeat(120)}.bin`, data: Buffer.alloc(1500, 7) },
    { name: 'empty', data: Buffer.alloc(0) },
    { name: 'last', data: Buffer.from('the end') },
  ];
  const tar = await rawTar(members);
  const seen = (await tarHeaders(tar)).map((h) => ({ name: h.name, offset: (h as { byteOffset?: unknown }).byteOffset, size: h.size ?? -1 }));
  assert.deepEqual(
    seen.map((s) => s.name),
    members.map((m) => m.name),
  );
  for (const [i, s] of seen.entries()) {
    assert.equal(typeof s.offset, 'number', `${s.name}: byteOffset is a number`);
    const off = s.offset as number;
    assert.equal(off % 512, 0, `${s.name}: data starts on a block boundary`);
    assert.deepEqual(tar.subarray(off, off + s.size), members[i]!.data, `${s.name}: the bytes at byteOffset are the member's data`);
  }
});
