/**
 * copy --referrers and inspect --referrers (OCI 1.1 referrers, beyond skopeo), and artifacts in the
 * copy pipeline.
 *
 * Peers: a real docker-registry (distribution 2.8) on loopback, which has NO referrers API, so it
 * exercises the referrers tag schema (`sha256-<hex>` tags holding an OCI index); skopeo pushes the
 * images and reads back every manifest and blob at the destination. For the referrers API, no
 * registry on this machine implements it: test/helpers/referrers-proxy.ts adds it, as the
 * distribution-spec describes, in front of the same real registry (which still stores everything).
 * The artifacts (an SBOM with the empty config, a cosign-style signature with an image config and a
 * simplesigning layer, a signature of the SBOM, an index of two parts) are built byte by byte by
 * test/helpers/artifacts.ts and written to layouts or pushed by plain HTTP: produced by another client.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { closeDispatchers } from '../../lib/registry/index.js';
import { POLICY_ARGS, ocikit, ocikitAsync, run } from '../helpers/cli.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { startRegistry, type RegistryHandle } from '../../support/registry.js';
import { startReferrersProxy, type ReferrersProxy } from '../helpers/referrers-proxy.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { OCI_INDEX, addToLayout, artifact, artifactIndex, blob, getManifest, layoutEntry, pushBuilt, pushManifest, tags, type Built, type Desc } from '../helpers/artifacts.js';
import { sha } from '../../support/digest.js';

const SPDX = 'application/spdx+json';
const SIG = 'application/vnd.example.signature.v1';
const MULTI = 'application/vnd.example.multi.v1';
const COSIGN_LAYER = 'application/vnd.dev.cosign.simplesigning.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';

let reg: RegistryHandle;
let dir: string;
let skopeo: string;
let n = 0;

before(async () => {
  skopeo = requirePeer('skopeo');
  dir = tempDir('ocikit-referrers-');
  reg = await startRegistry();
});

after(async () => {
  await closeDispatchers();
  await reg.stop();
});

const oc = (args: string[]): ReturnType<typeof ocikit> => ocikit(['--store', join(dir, 'store'), ...args]);
/** For a registry behind an in-process layer: this process must keep serving while ocikit runs. */
const ocA = (args: string[]): ReturnType<typeof ocikitAsync> => ocikitAsync(['--store', join(dir, 'store'), ...args]);
const sk = (args: string[]): ReturnType<typeof run> => run(skopeo, [...POLICY_ARGS, ...args]);

/** The referrers of one image: built here, not by ocikit. */
interface Referrers {
  image: Desc;
  sbom: Built;
  cosign: Built;
  sbomSig: Built;
  parts: Built;
  /** Every referrer, subjects before their referrers. */
  all: Built[];
}

function makeReferrers(image: Desc, tag = String(n++)): Referrers {
  const sbom = artifact({
    artifactType: SPDX,
    layers: [blob(SPDX, `{"spdxVersion":"SPDX-2.3","name":"hello-${tag}"}\n`)],
    subject: image,
    annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z', 'org.example.sbom.format': 'json' },
  });
  // A cosign-style signature: an IMAGE config and a layer of a type no image has, no artifactType.
  const payload = Buffer.from(`{"critical":{"image":{"docker-manifest-digest":"${image.digest}"}},"n":"${tag}"}`);
  const cosign = artifact({
    config: blob(OCI_CONFIG, JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [sha(payload)] } })),
    layers: [blob(COSIGN_LAYER, payload, { annotations: { 'dev.cosignproject.cosign/signature': `MEUCIQ${tag}` } })],
    subject: image,
  });
  const sbomSig = artifact({ artifactType: SIG, layers: [blob(SIG, `signature over ${sbom.digest}`)], subject: sbom.desc });
  const part = (p: string): Built => artifact({ artifactType: 'application/vnd.example.part.v1', layers: [blob('application/octet-stream', `part ${p} of ${tag}`)] });
  const parts = artifactIndex({ artifactType: MULTI, children: [part('a'), part('b')], subject: image });
  return { image, sbom, cosign, sbomSig, parts, all: [sbom, cosign, parts, sbomSig] };
}

/** A copy of the hello-oci fixture with referrers as untagged index.json entries (as oras writes them). */
function layoutWithReferrers(): { root: string; refs: Referrers } {
  const root = join(dir, `layout-${n++}`);
  cpSync(fixture('hello-oci'), root, { recursive: true });
  const refs = makeReferrers(layoutEntry(root, 'latest'));
  for (const r of refs.all) addToLayout(root, r);
  return { root, refs };
}

/**
 * Every manifest of `m` (and its children) and every blob it names are at `repo`, byte for byte:
 * skopeo reads the raw manifest and copies each image manifest to a dir: (with --preserve-digests),
 * whose files must hash to the digests.
 */
function assertAtRegistry(host: string, repo: string, m: Built): void {
  const raw = sk(['inspect', '--raw', '--tls-verify=false', `docker://${host}/${repo}@${m.digest}`]);
  assert.equal(sha(raw.stdout), m.digest, `manifest ${m.digest} at ${repo}`);
  if (m.children.length > 0) {
    for (const c of m.children) assertAtRegistry(host, repo, c);
    return;
  }
  const out = join(dir, `read-${n++}`);
  sk(['copy', '-q', '--preserve-digests', '--src-tls-verify=false', `docker://${host}/${repo}@${m.digest}`, `dir:${out}`]);
  assert.equal(sha(readFileSync(join(out, 'manifest.json'))), m.digest);
  const files = readdirSync(out).filter((f) => /^[0-9a-f]{64}$/.test(f));
  assert.deepEqual(files.sort(), [...m.blobs.keys()].map((d) => d.slice(7)).sort());
  for (const f of files) assert.equal(sha(readFileSync(join(out, f))), `sha256:${f}`);
}

/** The fallback-tag index of `subject` at `repo`, as entries (undefined when the tag is absent). */
async function fallbackIndex(host: string, repo: string, subject: string): Promise<Desc[] | undefined> {
  const r = await getManifest(host, repo, subject.replace(':', '-'));
  if (r.status === 404) return undefined;
  assert.equal(r.status, 200);
  const v = JSON.parse(r.bytes.toString('utf8')) as { mediaType: string; manifests: Desc[] };
  assert.equal(v.mediaType, OCI_INDEX);
  return v.manifests;
}

/** The referrers-list entry the spec requires for `m`. */
function entryOf(m: Built, artifactType: string | undefined, annotations?: Record<string, string>): Desc {
  return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, ...(artifactType ? { artifactType } : {}), ...(annotations ? { annotations } : {}) };
}

function expectedEntries(refs: Referrers): Map<string, Desc[]> {
  return new Map([
    [
      refs.image.digest,
      [entryOf(refs.sbom, SPDX, { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z', 'org.example.sbom.format': 'json' }), entryOf(refs.cosign, OCI_CONFIG), entryOf(refs.parts, MULTI)],
    ],
    [refs.sbom.digest, [entryOf(refs.sbomSig, SIG)]],
  ]);
}

const byDigest = (a: Desc[]): Desc[] => [...a].sort((x, y) => x.digest.localeCompare(y.digest));

describe('referrers tag schema (docker-registry 2.8, no referrers API)', () => {
  it('copy --referrers oci: -> docker:// pushes the image, every referrer by digest, and the fallback tags; skopeo reads every manifest and blob back', async () => {
    const { root, refs } = layoutWithReferrers();
    const r = oc(['copy', '-q', '--json', '--referrers', '--dest-tls-verify=false', `oci:${root}:latest`, `docker://${reg.host}/fb/app:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { manifestDigest: string; referrers: Array<{ digest: string; subject: string; artifactType?: string }> };
    assert.equal(res.manifestDigest, refs.image.digest);
    assert.deepEqual(
      res.referrers.map((x) => [x.digest, x.subject]),
      refs.all.map((m) => [m.digest, m === refs.sbomSig ? refs.sbom.digest : refs.image.digest]),
    );
    assert.deepEqual(await tags(reg.host, 'fb/app'), [refs.image.digest.replace(':', '-'), refs.sbom.digest.replace(':', '-'), 'v1'].sort());
    for (const [subject, want] of expectedEntries(refs)) assert.deepEqual(byDigest((await fallbackIndex(reg.host, 'fb/app', subject))!), byDigest(want));
    assertAtRegistry(reg.host, 'fb/app', { ...refs.sbom, children: [] });
    for (const m of refs.all) assertAtRegistry(reg.host, 'fb/app', m);

    // inspect --referrers reads them back from the fallback tag; --artifact-type filters.
    const i = oc(['inspect', '--tls-verify=false', '--referrers', `docker://${reg.host}/fb/app:v1`]);
    assert.equal(i.code, 0, i.stderr);
    const listed = JSON.parse(i.stdout) as Array<{ digest: string; artifactType?: string; mediaType: string; size: number; annotations: Record<string, string> }>;
    assert.deepEqual(
      byDigest(listed as Desc[]),
      byDigest(
        expectedEntries(refs)
          .get(refs.image.digest)!
          .map((d) => ({ ...d, annotations: d.annotations ?? {} })),
      ),
    );
    const f = oc(['inspect', '--tls-verify=false', '--referrers', '--artifact-type', SPDX, `docker://${reg.host}/fb/app:v1`]);
    assert.deepEqual(
      (JSON.parse(f.stdout) as Desc[]).map((d) => d.digest),
      [refs.sbom.digest],
    );

    // Copied again: the fallback indexes do not list anything twice.
    const again = oc(['copy', '-q', '--referrers', '--dest-tls-verify=false', `oci:${root}:latest`, `docker://${reg.host}/fb/app:v1`]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await fallbackIndex(reg.host, 'fb/app', refs.image.digest))!.length, 3);
  });

  it('referrers pushed by another client (skopeo image, hand-written fallback index) go docker:// -> docker:// and -> oci:, entries of others kept', async () => {
    const src = `${reg.host}/other/app`;
    sk(['copy', '-q', '--dest-tls-verify=false', `oci:${fixture('hello-oci')}:latest`, `docker://${src}:v1`]);
    const top = await getManifest(reg.host, 'other/app', 'v1');
    const image: Desc = { mediaType: top.type!, digest: sha(top.bytes), size: top.bytes.length };
    const refs = makeReferrers(image);
    for (const m of refs.all) await pushBuilt(reg.host, 'other/app', m);
    for (const [subject, entries] of expectedEntries(refs)) {
      await pushManifest(reg.host, 'other/app', subject.replace(':', '-'), Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries })), OCI_INDEX);
    }
    // The destination's list already holds an entry of another client: it must stay.
    const foreign = artifact({ artifactType: 'application/vnd.example.other', layers: [blob('text/plain', 'not ours')], subject: image });
    await pushBuilt(reg.host, 'copy/app', foreign);
    await pushManifest(
      reg.host,
      'copy/app',
      image.digest.replace(':', '-'),
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entryOf(foreign, 'application/vnd.example.other')] })),
      OCI_INDEX,
    );

    const r = oc(['copy', '-q', '--referrers', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${src}:v1`, `docker://${reg.host}/copy/app:v1`]);
    assert.equal(r.code, 0, r.stderr);
    const want = expectedEntries(refs);
    assert.deepEqual(byDigest((await fallbackIndex(reg.host, 'copy/app', image.digest))!), byDigest([entryOf(foreign, 'application/vnd.example.other'), ...want.get(image.digest)!]));
    assert.deepEqual(byDigest((await fallbackIndex(reg.host, 'copy/app', refs.sbom.digest))!), byDigest(want.get(refs.sbom.digest)!));
    for (const m of refs.all) assertAtRegistry(reg.host, 'copy/app', m);

    // To a layout: untagged index.json entries carrying the referrers-list fields; every file hashes to its name.
    const out = join(dir, `out-${n++}`);
    const o = oc(['copy', '-q', '--referrers', '--src-tls-verify=false', `docker://${src}:v1`, `oci:${out}:v1`]);
    assert.equal(o.code, 0, o.stderr);
    const idx = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: Desc[] };
    assert.deepEqual(idx.manifests[0], { ...image, annotations: { 'org.opencontainers.image.ref.name': 'v1' } });
    assert.deepEqual(byDigest(idx.manifests.slice(1)), byDigest([...want.values()].flat()));
    const files = readdirSync(join(out, 'blobs', 'sha256'));
    for (const f of files) assert.equal(sha(readFileSync(join(out, 'blobs', 'sha256', f))), `sha256:${f}`);
    for (const m of [...refs.all, ...refs.parts.children]) {
      assert.ok(files.includes(m.digest.slice(7)), `manifest ${m.digest} in the layout`);
      for (const b of m.blobs.keys()) assert.ok(files.includes(b.slice(7)), `blob ${b} in the layout`);
    }
    // The layout still names its one image without a ref; its referrers are listed from index.json.
    const named = oc(['inspect', '--raw', `oci:${out}`]);
    assert.equal(sha(named.stdout), image.digest);
    const listed = JSON.parse(oc(['inspect', '--referrers', `oci:${out}`]).stdout) as Desc[];
    assert.deepEqual(
      listed.map((d) => d.digest).sort(),
      want
        .get(image.digest)!
        .map((d) => d.digest)
        .sort(),
    );

    // And back from that layout to a registry: the same referrers, the same digests.
    const back = oc(['copy', '-q', '--referrers', '--dest-tls-verify=false', `oci:${out}:v1`, `docker://${reg.host}/back/app:v1`]);
    assert.equal(back.code, 0, back.stderr);
    for (const m of refs.all) assertAtRegistry(reg.host, 'back/app', m);
    assert.deepEqual(byDigest((await fallbackIndex(reg.host, 'back/app', image.digest))!), byDigest(want.get(image.digest)!));
  });

  it('a copy that changes the image refuses its referrers before commit: no tag, no referrer, no fallback tag', async () => {
    const { root, refs } = layoutWithReferrers();
    const r = oc(['copy', '-q', '--referrers', '--dest-compress-format', 'zstd', '--dest-tls-verify=false', `oci:${root}:latest`, `docker://${reg.host}/changed/app:v1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ocikit: .*has referrers .*this copy changes it/);
    assert.deepEqual(await tags(reg.host, 'changed/app'), []);
    for (const m of refs.all) assert.equal((await getManifest(reg.host, 'changed/app', m.digest)).status, 404);
  });

  it('the image manifest failing at commit leaves no referrer behind (they are pushed after it)', async () => {
    const { root, refs } = layoutWithReferrers();
    const proxy = await startFaultProxy(reg.host, (q) =>
      q.method === 'PUT' && q.path.endsWith('/manifests/v1') ? { kind: 'status', status: 400, body: '{"errors":[{"code":"MANIFEST_INVALID","message":"injected"}]}' } : { kind: 'pass' },
    );
    try {
      const r = await ocA(['copy', '-q', '--referrers', '--dest-tls-verify=false', `oci:${root}:latest`, `docker://${proxy.host}/failed/app:v1`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /injected/);
      // Only the image's tag was tried: no referrer (nor fallback tag) was pushed before it. (The
      // parts of the index referrer, plain manifests by digest like an index's instances, may be.)
      const puts = proxy.requests.filter((q) => q.method === 'PUT' && q.path.includes('/manifests/')).map((q) => q.path.slice('/v2/failed/app/manifests/'.length));
      assert.deepEqual(
        puts.filter((p) => !refs.parts.children.some((c) => c.digest === p)),
        ['v1'],
      );
    } finally {
      await proxy.close();
    }
    assert.deepEqual(await tags(reg.host, 'failed/app'), []);
    for (const m of refs.all) assert.equal((await getManifest(reg.host, 'failed/app', m.digest)).status, 404);
  });

  it('a referrer whose subject is another manifest is refused, nothing written', async () => {
    const src = `${reg.host}/bad/app`;
    sk(['copy', '-q', '--dest-tls-verify=false', `oci:${fixture('hello-oci')}:latest`, `docker://${src}:v1`]);
    const top = await getManifest(reg.host, 'bad/app', 'v1');
    const stranger = artifact({
      artifactType: SPDX,
      layers: [blob(SPDX, '{"other":true}')],
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha('another image'), size: 13 },
    });
    await pushBuilt(reg.host, 'bad/app', stranger);
    await pushManifest(reg.host, 'bad/app', sha(top.bytes).replace(':', '-'), Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entryOf(stranger, SPDX)] })), OCI_INDEX);
    const out = join(dir, `bad-${n++}`);
    const r = oc(['copy', '-q', '--referrers', '--src-tls-verify=false', `docker://${src}:v1`, `oci:${out}:v1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ocikit: referrer sha256:[0-9a-f]+ of sha256:[0-9a-f]+ .*its subject is sha256:/);
    assert.equal(existsSync(out), false);

    // A stale list: it names a manifest since deleted from the registry (by a client that left the
    // fallback tag as it was). Exit 1 (not "image not found"), nothing written.
    const gone = artifact({ artifactType: SPDX, layers: [blob(SPDX, '{"deleted":true}')], subject: { mediaType: top.type!, digest: sha(top.bytes), size: top.bytes.length } });
    await pushBuilt(reg.host, 'bad/app', gone);
    await pushManifest(reg.host, 'bad/app', sha(top.bytes).replace(':', '-'), Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entryOf(gone, SPDX)] })), OCI_INDEX);
    const del = await fetch(`http://${reg.host}/v2/bad/app/manifests/${gone.digest}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    const stale = oc(['copy', '-q', '--referrers', '--src-tls-verify=false', `docker://${src}:v1`, `docker://${reg.host}/stale/app:v1`]);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /^ocikit: referrer sha256:[0-9a-f]+ .*listed by the source, which does not have it/);
    assert.deepEqual(await tags(reg.host, 'stale/app'), []);
  });

  it('destinations that cannot hold referrers refuse before anything is written; without referrers they copy', () => {
    const { root } = layoutWithReferrers();
    for (const dest of [`docker-archive:${join(dir, `x-${n++}.tar`)}:a/b:c`, `dir:${join(dir, `d-${n++}`)}`]) {
      const r = oc(['copy', '-q', '--referrers', `oci:${root}:latest`, dest]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot hold referrers, and oci:.* has 4 \(--referrers\)/);
      assert.equal(existsSync(dest.split(':')[1]!), false);
    }
    const plain = join(dir, `d-${n++}`);
    assert.equal(oc(['copy', '-q', '--referrers', `oci:${fixture('hello-oci')}:latest`, `dir:${plain}`]).code, 0);
    assert.equal(oc(['copy', '-q', '--artifact-type', SPDX, `oci:${root}:latest`, `dir:${plain}-2`]).code, 1);
  });
});

describe('referrers API (an in-process layer adding it to the real registry)', () => {
  let api: ReferrersProxy;
  before(async () => {
    api = await startReferrersProxy(reg.host);
  });
  after(async () => {
    await api.close();
  });

  it('copy --referrers to a registry with the API: pushed after the image, indexed by the registry (OCI-Subject), no fallback tag', async () => {
    const { root, refs } = layoutWithReferrers();
    const r = await ocA(['copy', '-q', '--referrers', '--dest-tls-verify=false', `oci:${root}:latest`, `docker://${api.host}/api/app:v1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await tags(reg.host, 'api/app'), ['v1']);
    const puts = api.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/v2/api/app/manifests/')).map((q) => q.path.slice('/v2/api/app/manifests/'.length));
    // The image first, then the referrers, each after its subject; the index's parts (not referrers) before it.
    for (const m of refs.all) assert.ok(puts.indexOf('v1') < puts.indexOf(m.digest), `${m.digest} pushed after the image`);
    assert.ok(puts.indexOf(refs.sbom.digest) < puts.indexOf(refs.sbomSig.digest));
    assert.ok(puts.indexOf(refs.parts.children[1]!.digest) < puts.indexOf(refs.parts.digest));
    assert.equal(puts.filter((p) => p.startsWith('sha256-')).length, 0);
    for (const m of refs.all) assertAtRegistry(reg.host, 'api/app', m);

    // inspect --referrers asks the API; the registry filters by artifactType.
    const listed = JSON.parse((await ocA(['inspect', '--tls-verify=false', '--referrers', `docker://${api.host}/api/app:v1`])).stdout) as Desc[];
    assert.deepEqual(
      byDigest(listed),
      byDigest(
        expectedEntries(refs)
          .get(refs.image.digest)!
          .map((d) => ({ ...d, annotations: d.annotations ?? {} })),
      ),
    );
    const before = api.requests.length;
    const sbomOnly = JSON.parse((await ocA(['inspect', '--tls-verify=false', '--referrers', '--artifact-type', SPDX, `docker://${api.host}/api/app:v1`])).stdout) as Desc[];
    assert.deepEqual(
      sbomOnly.map((d) => d.digest),
      [refs.sbom.digest],
    );
    assert.ok(api.requests.slice(before).some((q) => q.path === `/v2/api/app/referrers/${refs.image.digest}?artifactType=${encodeURIComponent(SPDX)}`));

    // From the API registry to one without (the real one, directly): there they go to fallback tags.
    const c = await ocA(['copy', '-q', '--referrers', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${api.host}/api/app:v1`, `docker://${reg.host}/api2fb/app:v1`]);
    assert.equal(c.code, 0, c.stderr);
    for (const [subject, want] of expectedEntries(refs)) assert.deepEqual(byDigest((await fallbackIndex(reg.host, 'api2fb/app', subject))!), byDigest(want));
  });

  it('a registry that pages its answer and ignores the filter: every page read, the filter applied here', async () => {
    const { root, refs } = layoutWithReferrers();
    const pushed = await ocA(['copy', '-q', '--referrers', '--dest-tls-verify=false', `oci:${root}:latest`, `docker://${api.host}/paged/app:v1`]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const paged = await startReferrersProxy(reg.host, { pageSize: 1, filters: false });
    try {
      // The new layer knows nothing yet: push again through it so it indexes the referrers.
      const again = await ocA(['copy', '-q', '--referrers', '--dest-tls-verify=false', `oci:${root}:latest`, `docker://${paged.host}/paged/app:v1`]);
      assert.equal(again.code, 0, again.stderr);
      const all = JSON.parse((await ocA(['inspect', '--tls-verify=false', '--referrers', `docker://${paged.host}/paged/app:v1`])).stdout) as Desc[];
      assert.equal(all.length, 3);
      assert.ok(paged.requests.some((q) => q.path.startsWith(`/v2/paged/app/referrers/${refs.image.digest}?page=2`)));
      const sigs = JSON.parse((await ocA(['inspect', '--tls-verify=false', '--referrers', '--artifact-type', MULTI, `docker://${paged.host}/paged/app:v1`])).stdout) as Desc[];
      assert.deepEqual(
        sigs.map((d) => d.digest),
        [refs.parts.digest],
      );
      // copy --artifact-type: the SBOM and its own referrer (the signature), nothing else.
      const out = join(dir, `paged-${n++}`);
      const c = await ocA(['copy', '-q', '--json', '--referrers', '--artifact-type', SPDX, '--src-tls-verify=false', `docker://${paged.host}/paged/app:v1`, `oci:${out}:v1`]);
      assert.equal(c.code, 0, c.stderr);
      assert.deepEqual(
        (JSON.parse(c.stdout) as { referrers: Array<{ digest: string }> }).referrers.map((x) => x.digest),
        [refs.sbom.digest, refs.sbomSig.digest],
      );
    } finally {
      await paged.close();
    }
  });
});

describe('referrers in OCI layouts and archives', () => {
  it('a fallback-tag index inside a layout (regclient-style) is read too; an oci-archive: of a layout is read like the layout', () => {
    const root = join(dir, `layout-${n++}`);
    cpSync(fixture('hello-oci'), root, { recursive: true });
    const refs = makeReferrers(layoutEntry(root, 'latest'));
    // Only the fallback index is an index.json entry: the referrers are reachable through it alone.
    for (const m of [refs.sbom, refs.cosign, refs.parts]) addToLayout(root, m, { entry: false });
    const list = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: expectedEntries(refs).get(refs.image.digest) }));
    const fallback: Built = { bytes: list, digest: sha(list), mediaType: OCI_INDEX, blobs: new Map(), children: [], desc: { mediaType: OCI_INDEX, digest: sha(list), size: list.length } };
    addToLayout(root, fallback, { ref: refs.image.digest.replace(':', '-') });
    const listed = JSON.parse(oc(['inspect', '--referrers', `oci:${root}:latest`]).stdout) as Desc[];
    assert.deepEqual(
      byDigest(listed),
      byDigest(
        expectedEntries(refs)
          .get(refs.image.digest)!
          .map((d) => ({ ...d, annotations: d.annotations ?? {} })),
      ),
    );

    const { root: l2, refs: r2 } = layoutWithReferrers();
    const tar = join(dir, `arch-${n++}.tar`);
    run(requirePeer('tar'), ['-C', l2, '-cf', tar, '.']);
    const fromTar = JSON.parse(oc(['inspect', '--referrers', `oci-archive:${tar}:latest`]).stdout) as Desc[];
    assert.deepEqual(fromTar.map((d) => d.digest).sort(), [r2.sbom.digest, r2.cosign.digest, r2.parts.digest].sort());
    const out = join(dir, `fromtar-${n++}`);
    const c = oc(['copy', '-q', '--referrers', `oci-archive:${tar}:latest`, `oci:${out}:latest`]);
    assert.equal(c.code, 0, c.stderr);
    const entries = (JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: Desc[] }).manifests;
    assert.deepEqual(
      entries
        .slice(1)
        .map((d) => d.digest)
        .sort(),
      r2.all.map((m) => m.digest).sort(),
    );
  });

  it("an index: --all carries the referrers of the index and of each instance, one instance its own, a --platform subset refuses the index's", () => {
    const root = join(dir, `multi-${n++}`);
    cpSync(fixture('multiarch-oci'), root, { recursive: true });
    const index = layoutEntry(root, 'latest');
    const instances = (JSON.parse(readFileSync(join(root, 'blobs', 'sha256', index.digest.slice(7)), 'utf8')) as { manifests: Array<Desc & { platform: { architecture: string } }> }).manifests;
    const on = (subject: Desc, what: string): Built => artifact({ artifactType: SIG, layers: [blob(SIG, `signature of ${what}`)], subject });
    const onIndex = on(index, 'the index');
    const onInst = instances.map((d) => on({ mediaType: d.mediaType, digest: d.digest, size: d.size }, d.platform.architecture));
    for (const m of [onIndex, ...onInst]) addToLayout(root, m);

    const all = oc(['copy', '-q', '--json', '--all', '--referrers', `oci:${root}:latest`, `oci:${join(dir, `multi-out-${n++}`)}:latest`]);
    assert.equal(all.code, 0, all.stderr);
    const got = (JSON.parse(all.stdout) as { referrers: Array<{ digest: string; subject: string }> }).referrers;
    assert.deepEqual(got.map((r) => [r.digest, r.subject]).sort(), [[onIndex.digest, index.digest], ...onInst.map((m, i) => [m.digest, instances[i]!.digest])].sort());

    const arm = instances.findIndex((d) => d.platform.architecture === 'arm64');
    const one = oc(['--override-os', 'linux', '--override-arch', 'arm64', 'copy', '-q', '--json', '--referrers', `oci:${root}:latest`, `oci:${join(dir, `multi-out-${n++}`)}:arm`]);
    assert.equal(one.code, 0, one.stderr);
    const res = JSON.parse(one.stdout) as { manifestDigest: string; referrers: Array<{ digest: string }> };
    assert.equal(res.manifestDigest, instances[arm]!.digest);
    assert.deepEqual(
      res.referrers.map((r) => r.digest),
      [onInst[arm]!.digest],
    );

    const subset = oc(['copy', '-q', '--referrers', '--platform', 'linux/amd64', `oci:${root}:latest`, `oci:${join(dir, `multi-out-${n++}`)}:amd`]);
    assert.equal(subset.code, 1);
    assert.match(subset.stderr, new RegExp(`manifest ${index.digest.slice(0, 19)} has referrers .*this copy changes it`));
  });

  it('inspect --referrers on a transport without referrers is a clear error; --artifact-type needs --referrers', () => {
    const d = join(dir, `plain-${n++}`);
    assert.equal(oc(['copy', '-q', `oci:${fixture('hello-oci')}:latest`, `dir:${d}`]).code, 0);
    const r = oc(['inspect', '--referrers', `dir:${d}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ocikit: listing referrers of dir:.*cannot hold OCI referrers/);
    const u = oc(['inspect', '--artifact-type', SPDX, `dir:${d}`]);
    assert.equal(u.code, 1);
    assert.match(u.stderr, /needs --referrers/);
  });
});

describe('artifacts in the copy pipeline', () => {
  it('an artifact copied on its own keeps every blob and its digest, whatever compression is asked; v2s2 is refused with nothing written', async () => {
    const { root, refs } = layoutWithReferrers();
    const out = join(dir, `art-${n++}`);
    // @1: the SBOM (the first entry after the image)
    const r = oc(['copy', '-q', '--json', '--dest-compress-format', 'zstd', `oci:${root}:@1`, `oci:${out}:sbom`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { manifestDigest: string }).manifestDigest, refs.sbom.digest);
    for (const d of [refs.sbom.digest, ...refs.sbom.blobs.keys()]) assert.equal(sha(readFileSync(join(out, 'blobs', 'sha256', d.slice(7)))), d);
    // The cosign-style one (image config, a layer type no image has) as an artifact alone is still refused as an image.
    const cosign = oc(['copy', '-q', `oci:${root}:@2`, `oci:${out}-c:x`]);
    assert.equal(cosign.code, 1);
    assert.match(cosign.stderr, /unknown media type/);
    const v2 = join(dir, `v2-${n++}`);
    const bad = oc(['copy', '-q', '--format', 'v2s2', `oci:${root}:@1`, `dir:${v2}`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^ocikit: oci:.* is an artifact \(type application\/spdx\+json\), which is copied only as it is/);
    assert.equal(existsSync(v2), false);

    // To a registry without the API, an artifact with a subject is listed in its subject's fallback tag (the spec's client duty).
    const p = oc(['copy', '-q', '--dest-tls-verify=false', `oci:${root}:@1`, `docker://${reg.host}/solo/app:sbom`]);
    assert.equal(p.code, 0, p.stderr);
    assert.deepEqual(await fallbackIndex(reg.host, 'solo/app', refs.image.digest), [expectedEntries(refs).get(refs.image.digest)![0]]);
    assertAtRegistry(reg.host, 'solo/app', refs.sbom);
  });
});
