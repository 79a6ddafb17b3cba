/**
 * An OCI layout may hold Docker v2s2 manifests, and skopeo writes them there in two cases:
 * `--format v2s2` into `oci:`/`oci-archive:`, and `--preserve-digests` from a v2s2 image (it may
 * not convert then). ocikit does the same; without either flag a v2s2 image still becomes OCI.
 * Each case runs skopeo on the same input and compares what both wrote, and what skopeo reads back.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { POLICY_ARGS, ocikit, run } from '../helpers/cli.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { sha } from '../../support/digest.js';

const HELLO = `oci:${fixture('hello-oci')}:latest`;
const MULTI = `oci:${fixture('multiarch-oci')}:latest`;
const V2S2 = 'application/vnd.docker.distribution.manifest.v2+json';
const LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

let dir: string;
let skopeo: string;
let n = 0;
const out = (): string => join(dir, `out-${n++}`);
const oc = (args: string[]): ReturnType<typeof ocikit> => ocikit(['--store', join(dir, 'store'), ...args]);
const sk = (args: string[]): string => run(skopeo, [...POLICY_ARGS, ...args]).stdout;

/** The top index.json entry of a layout: its media type, and the manifest bytes it names. */
function top(layout: string): { mediaType: string; bytes: Buffer } {
  const idx = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ mediaType: string; digest: string }> };
  const d = idx.manifests[0]!;
  const bytes = readFileSync(join(layout, 'blobs', 'sha256', d.digest.slice(7)));
  assert.equal(sha(bytes), d.digest);
  return { mediaType: d.mediaType, bytes };
}

before(() => {
  dir = tempDir('ocikit-v2s2-layout-');
  skopeo = requirePeer('skopeo');
});

describe('Docker v2s2 manifests in OCI layouts, as skopeo writes them', () => {
  it('--format v2s2 into oci: writes the v2s2 manifest skopeo writes, and skopeo reads it back', () => {
    const ours = out();
    const theirs = out();
    const r = oc(['copy', '-q', '--format', 'v2s2', HELLO, `oci:${ours}:v2`]);
    assert.equal(r.code, 0, r.stderr);
    sk(['copy', '-q', '--format', 'v2s2', HELLO, `oci:${theirs}:v2`]);
    const o = top(ours);
    const t = top(theirs);
    assert.equal(o.mediaType, V2S2);
    assert.equal(t.mediaType, V2S2);
    assert.equal(JSON.parse(o.bytes.toString()).mediaType, V2S2);
    assert.equal(sha(o.bytes), sha(t.bytes), 'the same manifest bytes as skopeo');
    // skopeo 1.9 finds a layout's only image without a ref; by ref name it skips Docker media
    // types, even in a layout it wrote itself ("no descriptor found"). ocikit finds it either way.
    assert.equal(sha(sk(['inspect', '--raw', `oci:${ours}`])), sha(o.bytes), 'skopeo reads our layout');
    // And back out of the layout: ocikit reads it as the v2s2 image it is.
    const again = oc(['inspect', '--raw', `oci:${ours}:v2`]);
    assert.equal(sha(again.stdout), sha(o.bytes));
  });

  it('--format v2s2 --all into oci-archive: writes a Docker manifest list, as skopeo', () => {
    const ours = join(dir, 'multi.tar');
    const r = oc(['copy', '-q', '--all', '--format', 'v2s2', MULTI, `oci-archive:${ours}:m`]);
    assert.equal(r.code, 0, r.stderr);
    const raw = sk(['inspect', '--raw', `oci-archive:${ours}`]);
    const list = JSON.parse(raw) as { mediaType: string; manifests: Array<{ mediaType: string }> };
    assert.equal(list.mediaType, LIST);
    assert.ok(list.manifests.length > 1);
    for (const m of list.manifests) assert.equal(m.mediaType, V2S2);
  });

  it('--preserve-digests from a v2s2 image into oci: keeps its manifest digest; without it the image becomes OCI (as skopeo)', () => {
    const v2 = out();
    assert.equal(oc(['copy', '-q', '--format', 'v2s2', HELLO, `dir:${v2}`]).code, 0);
    const srcDigest = sha(readFileSync(join(v2, 'manifest.json')));

    const kept = out();
    const r = oc(['copy', '-q', '--preserve-digests', `dir:${v2}`, `oci:${kept}:p`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(top(kept).bytes), srcDigest);
    const skKept = out();
    sk(['copy', '-q', '--preserve-digests', `dir:${v2}`, `oci:${skKept}:p`]);
    assert.equal(sha(top(skKept).bytes), srcDigest, 'skopeo keeps it too');

    const converted = out();
    assert.equal(oc(['copy', '-q', `dir:${v2}`, `oci:${converted}:c`]).code, 0);
    assert.equal(top(converted).mediaType, 'application/vnd.oci.image.manifest.v1+json');
  });

  it('a destination that cannot hold the asked-for type still refuses before writing: --format oci into docker-archive:', () => {
    const tar = join(dir, 'refused.tar');
    const r = oc(['copy', '-q', '--format', 'oci', HELLO, `docker-archive:${tar}:x/y:1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ocikit: .*does not accept OCI manifests \(--format oci\)/);
  });
});
