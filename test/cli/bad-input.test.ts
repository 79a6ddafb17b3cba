/**
 * Bad input gets one clear line on stderr and the right exit code (2 image not found, 1 otherwise);
 * nothing is written at the destination and the store keeps nothing unverified.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { cliPath, fixture, tempDir } from '../helpers/paths.js';
import { ocikit } from '../helpers/cli.js';
import { rawTar, type RawEntry } from '../helpers/tar.js';
import { sha, shaHex } from '../../support/digest.js';

const FIXTURE = fixture('hello-oci');
let dir: string;
let n = 0;
/** An OCI layout of an image sharing no blob with the fixture: the pre-existing destination. */
let otherLayout: string;

function makeOtherLayout(root: string): void {
  const blobs = join(root, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer): { digest: string; size: number } => {
    const digest = sha(b);
    writeFileSync(join(blobs, digest.slice(7)), b);
    return { digest, size: b.length };
  };
  const layer = put(randomBytes(4096));
  const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  writeFileSync(join(root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(root, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'kept' } }],
    }),
  );
}

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

/** Every file under `root` with the sha256 of its content (symlinks by target): what "untouched" compares. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(p);
      else out[p.slice(root.length + 1)] = st ? shaHex(readFileSync(p)) : 'dangling';
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

/** No byte outside the printable range (and tab) in what reaches the terminal. */
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

/**
 * Copy `src` into a fresh dir: destination and into an existing oci: layout (holding another
 * image); expect failure both
 * times: one line on stderr naming what went wrong (`pattern`), the exit code, no raw control
 * character, nothing left behind, and the existing destination byte-for-byte as it was.
 */
function expectCopyFails(src: string, code: number, pattern: RegExp): void {
  // A fresh store each time: a store that already holds a blob (verified) would not read the broken source at all.
  const store = join(dir, `store-${n++}`);
  const dest = join(dir, `dest-${n++}`);
  const existing = join(dir, `existing-${n++}`);
  // Another image than the source's: a destination that already has the source's blobs would not read them.
  cpSync(otherLayout, existing, { recursive: true });
  const was = snapshot(existing);
  const before = readdirSync(dir).sort();
  for (const target of [`dir:${dest}`, `oci:${existing}:other`]) {
    const r = ocikit(['--store', store, 'copy', '-q', src, target]);
    assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
    assert.match(lines[0]!, /^ocikit: /);
    assert.match(lines[0]!, pattern);
    assert.doesNotMatch(r.stderr, RAW_CONTROL, 'no raw control character on stderr');
    assert.equal(r.stdout, '');
  }
  assert.equal(existsSync(dest), false, 'no destination after a failed copy');
  assert.deepEqual(snapshot(existing), was, 'the existing destination is exactly as it was');
  assert.deepEqual(
    readdirSync(dir)
      .sort()
      .filter((f) => !f.startsWith('store')),
    before.filter((f) => !f.startsWith('store')),
    'no staging leftovers',
  );
  const tmp = join(store, 'tmp');
  if (existsSync(tmp)) assert.deepEqual(readdirSync(tmp), [], 'no partial blobs in the store');
}

/** A dir: image of the fixture (written by ocikit, so with its version file), to break. */
function dirImage(): string {
  const d = join(dir, `dirimg-${n++}`);
  const r = ocikit(['--store', join(dir, 'store-dirimg'), 'copy', '-q', `oci:${FIXTURE}:latest`, `dir:${d}`]);
  assert.equal(r.code, 0, r.stderr);
  return d;
}

/** A docker save archive of one image with one layer, its parts changeable: `edit` gets manifest.json's item and the config. */
async function dockerArchive(edit: (item: Record<string, unknown>, config: Record<string, unknown>) => { config?: Buffer } | void = () => undefined): Promise<string> {
  const layer = await rawTar([{ name: 'hello.txt', data: 'hello\n' }]);
  const config: Record<string, unknown> = { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha(layer)] } };
  const item: Record<string, unknown> = { Config: 'config.json', RepoTags: ['example.com/x:1'], Layers: ['layer0/layer.tar'] };
  const over = edit(item, config);
  const entries: RawEntry[] = [
    { name: 'config.json', data: over?.config ?? JSON.stringify(config) },
    { name: 'layer0/', type: 'directory' },
    { name: 'layer0/layer.tar', data: layer },
    { name: 'manifest.json', data: JSON.stringify([item]) },
  ];
  const p = join(dir, `archive-${n++}.tar`);
  writeFileSync(p, await rawTar(entries));
  return p;
}

describe('bad input', () => {
  before(() => {
    dir = tempDir('ocikit-bad-');
    otherLayout = join(tempDir('ocikit-bad-other-'), 'layout');
    makeOtherLayout(otherLayout);
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
    const digest = sha(bad);
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
    const want = l.manifest.layers[1]!.digest;
    const got = sha(b);
    expectCopyFails(`oci:${l.root}:latest`, 1, new RegExp(`^ocikit: layer 1 \\(${want.slice(0, 19)}\\) of oci:${l.root}:latest: content has digest ${got}, expected ${want}$`));
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
    const digest = sha(big);
    writeFileSync(blobPath(l, digest), big);
    l.index.manifests[0] = { ...l.index.manifests[0]!, digest, size: big.length };
    writeFileSync(join(l.root, 'index.json'), JSON.stringify(l.index));
    expectCopyFails(`oci:${l.root}:latest`, 1, /limit/);
  });

  it('an unknown layer media type', () => {
    const l = layout();
    l.manifest.layers[0]!.mediaType = 'application/x-unknown-layer';
    const bytes = Buffer.from(JSON.stringify(l.manifest));
    const digest = sha(bytes);
    writeFileSync(blobPath(l, digest), bytes);
    l.index.manifests[0] = { ...l.index.manifests[0]!, digest, size: bytes.length };
    writeFileSync(join(l.root, 'index.json'), JSON.stringify(l.index));
    expectCopyFails(`oci:${l.root}:latest`, 1, /unknown media type "application\/x-unknown-layer"/);
  });

  it('an index.json entry whose digest is malformed (path traversal attempt)', () => {
    const l = layout();
    l.index.manifests[0]!.digest = 'sha256:../../../../etc/passwd';
    writeFileSync(join(l.root, 'index.json'), JSON.stringify(l.index));
    expectCopyFails(`oci:${l.root}:latest`, 1, new RegExp(`^ocikit: reading oci:${l.root}/index\\.json: index entry 0: malformed digest "sha256:\\.\\./\\.\\./\\.\\./\\.\\./etc/passwd"$`));
  });

  it('a dir: destination that is a non-empty directory of something else is refused, untouched', () => {
    const target = join(dir, 'precious');
    cpSync(FIXTURE, target, { recursive: true });
    const r = ocikit(['--store', join(dir, 'store'), 'copy', '-q', `oci:${FIXTURE}:latest`, `dir:${target}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ocikit: .*not empty/);
    assert.deepEqual(readdirSync(target).sort(), readdirSync(FIXTURE).sort());
  });

  it('a dir: image whose version file names a version ocikit does not know: exit 1, naming the image', () => {
    const d = dirImage();
    writeFileSync(join(d, 'version'), 'Directory Transport Version: 9.0\n');
    expectCopyFails(`dir:${d}`, 1, new RegExp(`^ocikit: reading dir:${d}: dir: transport version "9\\.0" is not one ocikit reads`));
  });

  it('a dir: image whose version file is not a version file at all', () => {
    const d = dirImage();
    writeFileSync(join(d, 'version'), '\x1b]0;owned\x07 surprise');
    expectCopyFails(`dir:${d}`, 1, new RegExp(`^ocikit: reading dir:${d}: the version file is not a dir: transport version \\("\\\\u001b\\]0;owned`));
  });

  it('a manifest that begins with a NUL and carries escape sequences: escaped on the terminal, naming the image', () => {
    const d = dirImage();
    writeFileSync(join(d, 'manifest.json'), Buffer.concat([Buffer.from([0]), Buffer.from('{"\x1b[2J\u009b31m\u202e":1}')]));
    expectCopyFails(`dir:${d}`, 1, new RegExp(`^ocikit: reading manifest of dir:${d}: malformed manifest JSON: .*\\\\(x00|u0000)`));
  });

  it('an oci-layout file of an unknown version', () => {
    const l = layout();
    writeFileSync(join(l.root, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
    expectCopyFails(`oci:${l.root}:latest`, 1, /oci-layout: unsupported imageLayoutVersion "2\.0\.0"/);
  });

  it('an index.json whose top-level mediaType is not an image index', () => {
    const l = layout();
    writeFileSync(join(l.root, 'index.json'), JSON.stringify({ ...l.index, mediaType: 'application/vnd.oci.image.manifest.v1+json' }));
    expectCopyFails(`oci:${l.root}:latest`, 1, /index\.json: manifest declares media type "application\/vnd\.oci\.image\.manifest\.v1\+json" but was served as/);
  });

  it('an index.json entry with a negative size, and one whose ref name carries control characters', () => {
    const l = layout();
    l.index.manifests[0]!.size = -1;
    writeFileSync(join(l.root, 'index.json'), JSON.stringify(l.index));
    expectCopyFails(`oci:${l.root}:latest`, 1, /index\.json: index entry 0: size must be a non-negative integer/);
    const l2 = layout();
    l2.index.manifests[0]!.annotations = { 'org.opencontainers.image.ref.name': 'late\x1b[8mst' };
    writeFileSync(join(l2.root, 'index.json'), JSON.stringify(l2.index));
    expectCopyFails(`oci:${l2.root}:latest`, 2, /no image named "latest" \(refs: late\\x1b\[8mst\)/);
  });

  it('a docker-archive whose config is not JSON: exit 1, naming the archive and the config', async () => {
    const a = await dockerArchive(() => ({ config: Buffer.from('\x00not json') }));
    expectCopyFails(`docker-archive:${a}`, 1, new RegExp(`^ocikit: reading the config of image @0 from docker-archive:${a}: malformed image config JSON`));
  });

  it('a docker-archive whose manifest.json lists more layers than the config has diff IDs', async () => {
    const a = await dockerArchive((item) => {
      item.Layers = ['layer0/layer.tar', 'layer0/layer.tar'];
    });
    expectCopyFails(`docker-archive:${a}`, 1, /manifest\.json lists 2 layers for image @0, its config 1 diff IDs/);
  });

  it('a docker-archive manifest.json whose fields have the wrong types, or point outside the archive', async () => {
    const tags = await dockerArchive((item) => {
      item.RepoTags = [42];
    });
    expectCopyFails(`docker-archive:${tags}`, 1, /manifest\.json: image 0: RepoTags must be a list of strings/);
    const escape = await dockerArchive((item) => {
      item.Config = '../../../etc/passwd';
    });
    expectCopyFails(`docker-archive:${escape}`, 1, /"\.\.\/\.\.\/\.\.\/etc\/passwd" escapes the archive/);
    const missing = await dockerArchive((item) => {
      item.Layers = ['layer9/layer.tar'];
    });
    // The image is there, incomplete: exit 1, as for a layout missing a blob.
    expectCopyFails(`docker-archive:${missing}`, 1, /no layer 0 of image @0 "layer9\/layer\.tar" in the archive, though manifest\.json lists it \(incomplete archive\)/);
  });

  it('a destination that cannot be written fails at once with the OS reason, exit 1 (not 2: only a source is "not found")', () => {
    // /proc refuses new entries with ENOENT although /proc exists: the case that made a recursive
    // mkdir retry forever. A hang shows up as a killed process (status null), not as a slow test.
    const cases: Array<[string, RegExp]> = [
      ['dir:/proc/ocikit-nope', /no such file or directory/],
      ['dir:/proc/ocikit-nope/deeper', /creating directory \/proc\/ocikit-nope: .*no such file or directory/],
      ['oci:/proc/ocikit-nope', /no such file or directory/],
      ['docker-archive:/proc/ocikit-nope.tar', /writing docker-archive:\/proc\/ocikit-nope\.tar: .*no such file or directory/],
      ['docker-archive:/proc/ocikit-nope/x.tar', /no such file or directory/],
      ['oci-archive:/proc/ocikit-nope.tar:x', /no such file or directory/],
      [`dir:${join(FIXTURE, 'index.json', 'x')}`, /not a directory/],
      [`oci-archive:${join(FIXTURE, 'index.json', 'x.tar')}`, /not a directory/],
    ];
    for (const [dest, why] of cases) {
      const r = spawnSync(cliPath, ['--store', join(dir, 'store-unwritable'), 'copy', '-q', `oci:${FIXTURE}:latest`, dest], {
        encoding: 'utf8',
        timeout: 20_000,
        killSignal: 'SIGKILL',
      });
      assert.equal(r.signal, null, `${dest}: still running after 20 s (killed)`);
      assert.equal(r.status, 1, `${dest}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^ocikit: /);
      assert.match(lines[0]!, why, dest);
    }
    assert.equal(existsSync(join(FIXTURE, 'index.json')) && statSync(join(FIXTURE, 'index.json')).isFile(), true);
  });

  // The store is made with lib/fs/dirs.ts's bounded mkdir: Node's own recursive mkdirSync never
  // returns under /proc (it retries forever, synchronously, so not even SIGTERM stops it).
  it('a blob store that cannot be created fails at once with the OS reason, exit 1', () => {
    const r = spawnSync(cliPath, ['--store', '/proc/ocikit-nope/store', 'copy', '-q', `oci:${FIXTURE}:latest`, `dir:${join(dir, 'never')}`], {
      encoding: 'utf8',
      timeout: 20_000,
      killSignal: 'SIGKILL',
    });
    assert.equal(r.signal, null, 'still running after 20 s (killed)');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^ocikit: [^\n]*\/proc\/ocikit-nope[^\n]*no such file or directory[^\n]*\n$/);
    assert.equal(existsSync(join(dir, 'never')), false);
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
