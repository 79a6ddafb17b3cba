/**
 * Bad input gets one clear line on stderr and the right exit code (2 image not found, 1 otherwise);
 * nothing is written at the destination and the store keeps nothing unverified.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { fixture, tempDir } from '../helpers/paths.js';
import { ocikit } from '../helpers/cli.js';

const FIXTURE = fixture('hello-oci');
let dir: string;
let n = 0;

interface Layout {
  root: string;
  index: { manifests: Array<{ digest: string; size: number; mediaType: string; annotations?: Record<string, string> }> };
  manifestPath: string;
  manifest: { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number; mediaType: string }> };
}

/** A private copy of the fixture layout to break. */
function layout(): Layout {
  const root = join(dir, `layout-${n++}`);
  cpSync(FIXTURE, root, { recursive: true });
  const index = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')) as Layout['index'];
  const manifestPath = join(root, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7));
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Layout['manifest'];
  return { root, index, manifestPath, manifest };
}

function blobPath(l: Layout, digest: string): string {
  return join(l.root, 'blobs', 'sha256', digest.slice(7));
}

/** Copy `src` to a fresh dir: destination, expect failure; check one line, exit code, and nothing left behind. */
function expectCopyFails(src: string, code: number, pattern: RegExp): void {
  // A fresh store each time: a store that already holds a blob (verified) would not read the broken source at all.
  const store = join(dir, `store-${n++}`);
  const dest = join(dir, `dest-${n++}`);
  const before = readdirSync(dir).sort();
  const r = ocikit(['--store', store, 'copy', '-q', src, `dir:${dest}`]);
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0]!, /^ocikit: /);
  assert.match(lines[0]!, pattern);
  assert.equal(r.stdout, '');
  assert.equal(existsSync(dest), false, 'no destination after a failed copy');
  assert.deepEqual(readdirSync(dir).sort().filter((f) => !f.startsWith('store')), before.filter((f) => !f.startsWith('store')), 'no staging leftovers');
  const tmp = join(store, 'tmp');
  if (existsSync(tmp)) assert.deepEqual(readdirSync(tmp), [], 'no partial blobs in the store');
}

describe('bad input', () => {
  before(() => {
    dir = tempDir('ocikit-bad-');
  });

  it('a layout that does not exist: exit 2', () => {
    expectCopyFails(`oci:${join(dir, 'nope')}:latest`, 2, /nope/);
  });

  it('a ref the layout does not have: exit 2, naming the refs it has', () => {
    expectCopyFails(`oci:${FIXTURE}:nosuchtag`, 2, /no image named "nosuchtag".*refs: latest/);
  });

  it('a garbled index.json', () => {
    const l = layout();
    writeFileSync(join(l.root, 'index.json'), '{"schemaVersion": 2, "manifests": [');
    expectCopyFails(`oci:${l.root}:latest`, 1, /index\.json.*malformed/i);
  });

  it('a missing index.json', () => {
    const l = layout();
    rmSync(join(l.root, 'index.json'));
    expectCopyFails(`oci:${l.root}:latest`, 2, /index\.json/);
  });

  it('a garbled manifest', () => {
    const l = layout();
    // Keep the digest right so only the JSON is wrong: rewrite the manifest and the index entry.
    const bad = Buffer.from('{"schemaVersion":2,"config":');
    const digest = 'sha256:' + createHash('sha256').update(bad).digest('hex');
    writeFileSync(blobPath(l, digest), bad);
    l.index.manifests[0] = { ...l.index.manifests[0]!, digest, size: bad.length };
    writeFileSync(join(l.root, 'index.json'), JSON.stringify(l.index));
    expectCopyFails(`oci:${l.root}:latest`, 1, /malformed manifest JSON/);
  });

  it('a missing blob: exit 1 (the image exists but is incomplete)', () => {
    const l = layout();
    rmSync(blobPath(l, l.manifest.layers[1]!.digest));
    expectCopyFails(`oci:${l.root}:latest`, 1, /does not have this blob/);
  });

  it('a blob whose content does not match its digest', () => {
    const l = layout();
    const p = blobPath(l, l.manifest.layers[1]!.digest);
    const b = readFileSync(p);
    b[100] = b[100]! ^ 0xff;
    chmodSync(p, 0o644);
    writeFileSync(p, b);
    expectCopyFails(`oci:${l.root}:latest`, 1, /digest/);
  });

  it('a blob whose size does not match the manifest', () => {
    const l = layout();
    const p = blobPath(l, l.manifest.layers[0]!.digest);
    writeFileSync(p, Buffer.concat([readFileSync(p), Buffer.from('trailing junk')]));
    expectCopyFails(`oci:${l.root}:latest`, 1, /bytes/);
  });

  it('a blob that is a symlink escaping the layout', () => {
    const l = layout();
    const p = blobPath(l, l.manifest.layers[0]!.digest);
    const outside = join(dir, `outside-${n++}`);
    cpSync(p, outside);
    rmSync(p);
    symlinkSync(outside, p);
    expectCopyFails(`oci:${l.root}:latest`, 1, /escap/);
  });

  it('a manifest over 4 MiB is refused without being parsed', () => {
    const l = layout();
    const big = Buffer.alloc(4 * 1024 * 1024 + 10, 0x20);
    const digest = 'sha256:' + createHash('sha256').update(big).digest('hex');
    writeFileSync(blobPath(l, digest), big);
    l.index.manifests[0] = { ...l.index.manifests[0]!, digest, size: big.length };
    writeFileSync(join(l.root, 'index.json'), JSON.stringify(l.index));
    expectCopyFails(`oci:${l.root}:latest`, 1, /limit/);
  });

  it('an unknown layer media type', () => {
    const l = layout();
    l.manifest.layers[0]!.mediaType = 'application/x-unknown-layer';
    const bytes = Buffer.from(JSON.stringify(l.manifest));
    const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
    writeFileSync(blobPath(l, digest), bytes);
    l.index.manifests[0] = { ...l.index.manifests[0]!, digest, size: bytes.length };
    writeFileSync(join(l.root, 'index.json'), JSON.stringify(l.index));
    expectCopyFails(`oci:${l.root}:latest`, 1, /unknown media type "application\/x-unknown-layer"/);
  });

  it('an index.json entry whose digest is malformed (path traversal attempt)', () => {
    const l = layout();
    l.index.manifests[0]!.digest = 'sha256:../../../../etc/passwd';
    writeFileSync(join(l.root, 'index.json'), JSON.stringify(l.index));
    expectCopyFails(`oci:${l.root}:latest`, 1, /malformed digest|digest/);
  });

  it('a dir: destination that is a non-empty directory of something else is refused, untouched', () => {
    const target = join(dir, 'precious');
    cpSync(FIXTURE, target, { recursive: true });
    const r = ocikit(['--store', join(dir, 'store'), 'copy', '-q', `oci:${FIXTURE}:latest`, `dir:${target}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ocikit: .*not empty/);
    assert.deepEqual(readdirSync(target).sort(), readdirSync(FIXTURE).sort());
  });

  it('an unknown transport or a name without one is a usage error', () => {
    const r = ocikit(['copy', 'foo:bar', `dir:${join(dir, 'x')}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ocikit: .*unknown transport "foo"/);
    const r2 = ocikit(['inspect', 'busybox']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /^ocikit: invalid image name "busybox"/);
  });

  it('errors are one line without --debug and carry a stack with it', () => {
    const r = ocikit(['--debug', 'inspect', `oci:${join(dir, 'nope')}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ocikit: [^\n]*\n[\s\S]*\n\s+at /);
  });
});

