/**
 * Interop with the real skopeo (Debian's 1.9) both ways: what ocikit writes to oci: and dir:, in both
 * manifest formats, skopeo reads with the same manifest, config and layer digests; what skopeo
 * writes, ocikit reads; and ocikit's inspect matches skopeo's.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, tempDir } from '../helpers/paths.js';
import { ocikit, run } from '../helpers/cli.js';
import { requirePeer } from '../../support/peers.js';
import { sha } from '../../support/digest.js';

let skopeo: string;
let dir: string;
let store: string;

function copy(src: string, dest: string, ...flags: string[]): void {
  const r = ocikit(['--store', store, 'copy', '-q', ...flags, src, dest]);
  assert.equal(r.code, 0, r.stderr);
}

function skopeoJson(args: string[]): Record<string, unknown> {
  return JSON.parse(run(skopeo, args).stdout) as Record<string, unknown>;
}

/**
 * ocikit's inspect output, checked against skopeo's: every key skopeo 1.9 prints is equal; the
 * LayersData that newer skopeo prints (and 1.9 does not) must agree with Layers.
 */
function inspectMatches(name: string): void {
  const want = skopeoJson(['inspect', name]);
  const got = JSON.parse(ocikit(['--store', store, 'inspect', name]).stdout) as Record<string, unknown> & { LayersData: Array<{ Digest: string }> };
  assert.deepEqual(
    got.LayersData.map((l) => l.Digest),
    got.Layers,
  );
  const { LayersData: _ignored, ...rest } = got;
  assert.deepEqual(rest, want);
  assert.deepEqual(Object.keys(rest), Object.keys(want), 'same keys in the same order');
}

describe('skopeo reads what ocikit writes', () => {
  before(() => {
    skopeo = requirePeer('skopeo');
    dir = tempDir('ocikit-skopeo-');
    store = join(dir, 'store');
  });

  for (const [dest, format] of [
    ['oci', 'oci'],
    ['dir', 'oci'],
    ['dir', 'v2s2'],
  ] as const) {
    it(`${dest}: in ${format} format: same manifest, config and layers; skopeo copies it on`, () => {
      const target = join(dir, `${dest}-${format}`);
      const name = dest === 'oci' ? `oci:${target}:v1` : `dir:${target}`;
      copy(`oci:${fixture('hello-oci')}:latest`, name, '--format', format);
      const gotRaw = Buffer.from(run(skopeo, ['inspect', '--raw', name]).stdout);
      const ours = Buffer.from(ocikit(['--store', store, 'inspect', '--raw', name]).stdout);
      assert.deepEqual(gotRaw, ours, 'skopeo reads the manifest ocikit wrote');
      const m = JSON.parse(gotRaw.toString()) as { mediaType: string; layers: Array<{ digest: string }>; config: { digest: string } };
      assert.equal(m.mediaType, format === 'oci' ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json');
      const cfg = Buffer.from(run(skopeo, ['inspect', '--config', '--raw', name]).stdout);
      assert.equal(sha(cfg), m.config.digest);
      const want = JSON.parse(readFileSync(join(fixture('hello-oci'), 'index.json'), 'utf8')).manifests[0].digest as string;
      const srcManifest = JSON.parse(readFileSync(join(fixture('hello-oci'), 'blobs', 'sha256', want.slice(7)), 'utf8')) as { layers: Array<{ digest: string }>; config: { digest: string } };
      assert.deepEqual(
        m.layers.map((l) => l.digest),
        srcManifest.layers.map((l) => l.digest),
        'layer digests unchanged by conversion',
      );
      assert.equal(m.config.digest, srcManifest.config.digest, 'config unchanged by conversion');
      // skopeo can copy it on (it verifies every blob digest as it goes).
      run(skopeo, ['copy', '-q', name, `oci:${join(dir, `${dest}-${format}-by-skopeo`)}:x`]);
    });
  }

  it('inspect: ocikit prints what skopeo prints', () => {
    const name = `oci:${fixture('hello-oci')}:latest`;
    inspectMatches(name);
    const wantCfg = skopeoJson(['inspect', '--config', name]);
    const gotCfg = JSON.parse(ocikit(['--store', store, 'inspect', '--config', name]).stdout) as Record<string, unknown>;
    assert.deepEqual(gotCfg, wantCfg);
  });

  it('oci: multi-arch: skopeo reads the index ocikit wrote with --all, and each instance', () => {
    const target = join(dir, 'multi');
    copy(`oci:${fixture('multiarch-oci')}:latest`, `oci:${target}:all`, '--all');
    const idx = JSON.parse(run(skopeo, ['inspect', '--raw', `oci:${target}:all`]).stdout) as { manifests: Array<{ digest: string; platform: { architecture: string } }> };
    assert.deepEqual(
      idx.manifests.map((m) => m.platform.architecture),
      ['amd64', 'arm64'],
    );
    for (const arch of ['amd64', 'arm64']) {
      const out = skopeoJson(['--override-arch', arch, 'inspect', `oci:${target}:all`]);
      assert.equal(out.Architecture, arch);
    }
  });
});

describe('ocikit reads what skopeo writes', () => {
  before(() => {
    skopeo = requirePeer('skopeo');
    dir = tempDir('ocikit-skopeo2-');
    store = join(dir, 'store');
  });

  for (const [kind, format] of [
    ['oci', 'oci'],
    ['dir', 'oci'],
    ['dir', 'v2s2'],
  ] as const) {
    it(`skopeo's ${kind}: (${format}) copies through ocikit to oci: and dir: with the same digests`, () => {
      const target = join(dir, `sk-${kind}-${format}`);
      const name = kind === 'oci' ? `oci:${target}:t` : `dir:${target}`;
      run(skopeo, ['copy', '-q', '--format', format, `oci:${fixture('hello-oci')}:latest`, name]);
      const want = Buffer.from(run(skopeo, ['inspect', '--raw', name]).stdout);
      // Same format out: the manifest is byte-identical.
      const sameFmt = join(dir, `back-${kind}-${format}`);
      copy(name, `dir:${sameFmt}`);
      assert.deepEqual(readFileSync(join(sameFmt, 'manifest.json')), want);
      // And ocikit's inspect agrees with skopeo's on the skopeo-written image.
      inspectMatches(name);
    });
  }

  it('reads a layout whose top-level index.json is itself multi-platform (skopeo cannot: containers/skopeo#1136)', () => {
    const layout = join(dir, 'top-multi');
    cpSync(fixture('multiarch-oci'), layout, { recursive: true });
    const top = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const inner = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', top.manifests[0]!.digest.slice(7)), 'utf8')) as { manifests: unknown[] };
    writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: inner.manifests }));
    const sk = run(skopeo, ['inspect', `oci:${layout}`], { allowFail: true });
    assert.notEqual(sk.code, 0, 'skopeo 1.9 refuses this layout');
    const out = join(dir, 'from-top-multi');
    copy(`oci:${layout}`, `oci:${out}:all`, '--all');
    const idx = JSON.parse(run(skopeo, ['inspect', '--raw', `oci:${out}:all`]).stdout) as { manifests: unknown[] };
    assert.equal(idx.manifests.length, 2);
    const one = JSON.parse(ocikit(['--store', store, '--override-arch', 'arm64', 'inspect', `oci:${layout}`]).stdout) as { Architecture: string };
    assert.equal(one.Architecture, 'arm64');
  });

  it('an oci: layout holds several images; writing an existing ref replaces only that ref', () => {
    const layout = join(dir, 'shared');
    mkdirSync(layout, { recursive: true });
    copy(`oci:${fixture('hello-oci')}:latest`, `oci:${layout}:a`);
    copy(`oci:${fixture('multiarch-oci')}:latest`, `oci:${layout}:b`, '--all');
    run(skopeo, ['copy', '-q', `oci:${fixture('multiarch-oci')}:latest`, `oci:${layout}:c`, '--override-arch', 'arm64']);
    copy(`oci:${fixture('multiarch-oci')}:latest`, `oci:${layout}:a`, '--override-arch', 'arm64');
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
    const refs = index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']).sort();
    assert.deepEqual(refs, ['a', 'b', 'c']);
    const a = index.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === 'a')!;
    const c = index.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === 'c')!;
    assert.equal(a.digest, c.digest, 'ocikit and skopeo chose the same arm64 image');
    for (const r of ['a', 'b', 'c']) run(skopeo, ['inspect', '--raw', `oci:${layout}:${r}`]);
    const tags = JSON.parse(ocikit(['list-tags', `oci:${layout}`]).stdout) as { Tags: string[] };
    assert.deepEqual(tags.Tags.sort(), ['a', 'b', 'c']);
  });
});
