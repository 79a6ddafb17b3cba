/**
 * `ocikit serve` answers the OCI 1.1 referrers API: `GET /v2/NAME/referrers/DIGEST` (an index,
 * empty when there are none, `artifactType` filtering with OCI-Filters-Applied), `OCI-Subject` on
 * the answer to a manifest PUT with a subject, artifacts with `artifactType`; clients that keep
 * the referrers-tag fallback keep working.
 *
 * Clients: the artifacts are pushed with plain distribution-API requests (test/helpers/artifacts.ts,
 * built byte by byte: another client than ocikit); ocikit's docker:// transport pushes and reads
 * referrers (it uses the API where the registry answers OCI-Subject, else the fallback tag); skopeo
 * reads every manifest back byte for byte.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { ocikit, ocikitAsync, run } from '../helpers/cli.js';
import { OCI_INDEX, addToLayout, artifact, artifactIndex, blob, layoutEntry, pushBlob, pushBuilt, pushManifest, tags, type Built, type Desc } from '../helpers/artifacts.js';
import { sha } from '../../support/digest.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { startServe, type ServeHandle } from '../helpers/serve.js';

const SPDX = 'application/spdx+json';
const SIG = 'application/vnd.example.signature.v1';
const MULTI = 'application/vnd.example.multi.v1';

interface Listing {
  status: number;
  type: string | null;
  filters: string | null;
  body: { schemaVersion: number; mediaType: string; manifests: Desc[] };
}

async function referrers(url: string, repo: string, digest: string, artifactType?: string): Promise<Listing> {
  const r = await fetch(`${url}/v2/${repo}/referrers/${digest}${artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : ''}`);
  return { status: r.status, type: r.headers.get('content-type'), filters: r.headers.get('oci-filters-applied'), body: (await r.json()) as Listing['body'] };
}

const digests = (l: Desc[]): string[] => l.map((d) => d.digest).sort();

describe('ocikit serve: OCI 1.1 referrers', () => {
  let dir: string;
  let store: string;
  let srv: ServeHandle;
  let image: Desc;
  let sbom: Built;
  let sig: Built;
  let parts: Built;
  let sbomSig: Built;

  before(async () => {
    dir = tempDir('ocikit-serve-referrers-');
    store = join(dir, 'store');
    const r = ocikit(['--store', store, 'copy', '-q', `oci:${fixture('hello-oci')}:latest`, 'store:app:1']);
    assert.equal(r.code, 0, r.stderr);
    srv = await startServe(store);
    const top = await fetch(`${srv.url}/v2/app/manifests/1`, { method: 'HEAD' });
    image = { mediaType: top.headers.get('content-type')!, digest: top.headers.get('docker-content-digest')!, size: Number(top.headers.get('content-length')) };
    sbom = artifact({ artifactType: SPDX, layers: [blob(SPDX, '{"spdxVersion":"SPDX-2.3"}\n')], subject: image, annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' } });
    sig = artifact({ artifactType: SIG, layers: [blob(SIG, `signature over ${image.digest}`)], subject: image });
    const part = (p: string): Built => artifact({ artifactType: 'application/vnd.example.part.v1', layers: [blob('application/octet-stream', `part ${p}`)] });
    parts = artifactIndex({ artifactType: MULTI, children: [part('a'), part('b')], subject: image });
    sbomSig = artifact({ artifactType: SIG, layers: [blob(SIG, `signature over ${sbom.digest}`)], subject: sbom.desc });
  });
  after(async () => {
    await srv?.stop();
  });

  it('a subject without referrers, or not there at all: 200 and an empty index; a bad digest: 400', async () => {
    for (const d of [image.digest, sha('nothing refers to this')]) {
      const l = await referrers(srv.url, 'app', d);
      assert.equal(l.status, 200);
      assert.equal(l.type, OCI_INDEX);
      assert.deepEqual(l.body, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
    }
    const bad = await fetch(`${srv.url}/v2/app/referrers/sha256:zz`);
    assert.equal(bad.status, 400);
  });

  it('artifacts pushed by another client: OCI-Subject on each PUT, listed with artifactType and annotations, filtered by artifactType', async () => {
    for (const m of [sbom, sig, parts, sbomSig]) {
      for (const b of m.blobs.values()) await pushBlob(srv.host, 'app', b);
      for (const c of m.children) await pushBuilt(srv.host, 'app', c);
      const h = await pushManifest(srv.host, 'app', m.digest, m.bytes, m.mediaType);
      assert.equal(h.get('oci-subject'), m === sbomSig ? sbom.digest : image.digest);
    }
    const all = await referrers(srv.url, 'app', image.digest);
    assert.equal(all.filters, null);
    assert.deepEqual(
      all.body.manifests.sort((a, b) => a.digest.localeCompare(b.digest)),
      [
        { mediaType: sbom.mediaType, digest: sbom.digest, size: sbom.bytes.length, artifactType: SPDX, annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' } },
        { mediaType: sig.mediaType, digest: sig.digest, size: sig.bytes.length, artifactType: SIG },
        { mediaType: OCI_INDEX, digest: parts.digest, size: parts.bytes.length, artifactType: MULTI },
      ].sort((a, b) => a.digest.localeCompare(b.digest)),
    );
    const onlySig = await referrers(srv.url, 'app', image.digest, SIG);
    assert.equal(onlySig.filters, 'artifactType');
    assert.deepEqual(digests(onlySig.body.manifests), [sig.digest]);
    assert.deepEqual(digests((await referrers(srv.url, 'app', sbom.digest)).body.manifests), [sbomSig.digest]);
    // Per repository: another repository holding the same image has none of them.
    assert.deepEqual((await referrers(srv.url, 'other', image.digest)).body.manifests, []);
    // A referrer deleted by digest leaves the list at once.
    assert.equal((await fetch(`${srv.url}/v2/app/manifests/${sig.digest}`, { method: 'DELETE' })).status, 202);
    assert.deepEqual(digests((await referrers(srv.url, 'app', image.digest)).body.manifests), [parts.digest, sbom.digest].sort());
  });

  it('ocikit inspect --referrers and copy --referrers read them through the API; skopeo reads each back byte for byte', async () => {
    const i = await ocikitAsync(['--store', join(dir, 'client'), 'inspect', '--tls-verify=false', '--referrers', `docker://${srv.host}/app:1`]);
    assert.equal(i.code, 0, i.stderr);
    assert.deepEqual(digests(JSON.parse(i.stdout) as Desc[]), [parts.digest, sbom.digest].sort());
    const out = join(dir, 'out');
    const c = await ocikitAsync(['--store', join(dir, 'client'), 'copy', '-q', '--referrers', '--src-tls-verify=false', `docker://${srv.host}/app:1`, `oci:${out}:x`]);
    assert.equal(c.code, 0, c.stderr);
    const listed = JSON.parse(ocikit(['--store', join(dir, 'client'), 'inspect', '--referrers', `oci:${out}:x`]).stdout) as Desc[];
    assert.deepEqual(digests(listed), [parts.digest, sbom.digest].sort());
    const skopeo = requirePeer('skopeo');
    for (const m of [sbom, parts, sbomSig, ...parts.children]) {
      const raw = run(skopeo, ['inspect', '--raw', '--tls-verify=false', `docker://${srv.host}/app@${m.digest}`]).stdout;
      assert.equal(sha(raw), m.digest);
    }
  });

  it('ocikit copy --referrers pushes to serve by the API (OCI-Subject: no fallback tag written); a fallback-tag index pushed by an older client is served as a tag', async () => {
    const root = join(dir, 'layout');
    cpSync(fixture('hello-oci'), root, { recursive: true });
    const subject = layoutEntry(root, 'latest');
    const note = artifact({ artifactType: SPDX, layers: [blob(SPDX, '{"name":"pushed by copy"}')], subject });
    addToLayout(root, note);
    const p = await ocikitAsync(['--store', join(dir, 'client2'), 'copy', '-q', '--referrers', '--dest-tls-verify=false', `oci:${root}:latest`, `docker://${srv.host}/pushed/app:1`]);
    assert.equal(p.code, 0, p.stderr);
    assert.deepEqual(digests((await referrers(srv.url, 'pushed/app', subject.digest)).body.manifests), [note.digest]);
    assert.deepEqual(await tags(srv.host, 'pushed/app'), ['1']);

    // A client without the API keeps an index of referrers under the tag sha256-<hex>.
    const fallback = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: note.mediaType, digest: note.digest, size: note.bytes.length, artifactType: SPDX }] }),
    );
    const fbTag = subject.digest.replace(':', '-');
    await pushManifest(srv.host, 'pushed/app', fbTag, fallback, OCI_INDEX);
    assert.deepEqual(await tags(srv.host, 'pushed/app'), ['1', fbTag]);
    const back = await fetch(`${srv.url}/v2/pushed/app/manifests/${fbTag}`);
    assert.equal(sha(Buffer.from(await back.arrayBuffer())), sha(fallback));
  });
});
