import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_LAYER_TAR,
  DOCKER_LIST,
  DOCKER_V2S2_MANIFEST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_TAR_GZIP,
  OCI_LAYER_TAR_ZSTD,
  OCI_MANIFEST,
  buildManifest,
  convertIndex,
  convertManifest,
  encodeOciManifest,
  manifestDigest,
  parseManifest,
  updateLayers,
  type ChildUpdate,
  type Descriptor,
  type ParsedDockerManifest,
  type ParsedIndex,
  type ParsedOciManifest,
} from '../../lib/manifest/index.js';
import { fixture } from '../helpers/paths.js';

const golden = (name: string): Buffer => readFileSync(fixture('golden', name));
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const D = (c: string): string => `sha256:${c.repeat(64)}`;

function parseOci(bytes: Uint8Array): ParsedOciManifest {
  const p = parseManifest(bytes);
  assert.equal(p.kind, 'oci-manifest');
  return p;
}
function parseDocker(bytes: Uint8Array): ParsedDockerManifest {
  const p = parseManifest(bytes);
  assert.equal(p.kind, 'docker-v2s2');
  return p;
}
function parseIndex(bytes: Uint8Array): ParsedIndex {
  const p = parseManifest(bytes);
  assert.ok(p.kind === 'oci-index' || p.kind === 'docker-list');
  return p;
}
function childMap(): Map<string, ChildUpdate> {
  return new Map(Object.entries(JSON.parse(golden('oci-index.children.json').toString()) as Record<string, ChildUpdate>));
}
const layerKeys = (ls: Descriptor[]) => ls.map((l) => ({ digest: l.digest, size: l.size, urls: l.urls }));

// === goldens: exact bytes

test('golden: Docker v2s2 -> OCI', () => {
  const got = convertManifest(parseDocker(golden('docker-v2s2.manifest.json')), 'oci');
  assert.equal(got.mediaType, OCI_MANIFEST);
  assert.equal(got.kind, 'oci-manifest');
  assert.equal(got.bytes.toString(), golden('docker-v2s2.to-oci.json').toString());
  assert.deepEqual(JSON.parse(got.bytes.toString()), got.value);
});

test('golden: OCI -> Docker v2s2 drops annotations', () => {
  const got = convertManifest(parseOci(golden('oci-manifest.json')), 'v2s2');
  assert.equal(got.mediaType, DOCKER_V2S2_MANIFEST);
  assert.equal(got.bytes.toString(), golden('oci-manifest.to-v2s2.json').toString());
  assert.deepEqual(JSON.parse(got.bytes.toString()), got.value);
  assert.equal('annotations' in got.value, false);
});

test('golden: OCI re-encoded by updateLayers (sorted annotations, Go escapes)', () => {
  const src = parseOci(golden('oci-manifest.json'));
  const got = updateLayers(src, src.value.layers);
  assert.equal(got.bytes.toString(), golden('oci-manifest.canonical.json').toString());
  assert.deepEqual(JSON.parse(got.bytes.toString()), got.value);
});

test('golden: OCI index -> Docker list with converted children', () => {
  const got = convertIndex(parseIndex(golden('oci-index.json')), 'v2s2', childMap());
  assert.equal(got.mediaType, DOCKER_LIST);
  assert.equal(got.bytes.toString(), golden('oci-index.to-docker-list.json').toString());
  assert.deepEqual(JSON.parse(got.bytes.toString()), got.value);
});

test('golden outputs parse back as what they claim to be', () => {
  assert.equal(parseManifest(golden('docker-v2s2.to-oci.json'), OCI_MANIFEST).kind, 'oci-manifest');
  assert.equal(parseManifest(golden('oci-manifest.to-v2s2.json'), DOCKER_V2S2_MANIFEST).kind, 'docker-v2s2');
  assert.equal(parseManifest(golden('oci-index.to-docker-list.json'), DOCKER_LIST).kind, 'docker-list');
});

// === round trips and invariants

test('round trip v2s2 -> OCI -> v2s2 keeps every layer digest, size, url and media type', () => {
  const src = parseDocker(golden('docker-v2s2.manifest.json'));
  const oci = convertManifest(src, 'oci');
  const back = convertManifest(parseOci(oci.bytes), 'v2s2');
  assert.deepEqual(back.value, src.value);
  assert.deepEqual(oci.value.config.digest, src.value.config.digest);
  assert.deepEqual(layerKeys(oci.value.layers), layerKeys(src.value.layers));
});

test('round trip OCI -> v2s2 -> OCI keeps layers; only the annotations are gone', () => {
  const src = parseOci(golden('oci-manifest.json'));
  const back = convertManifest(parseDocker(convertManifest(src, 'v2s2').bytes), 'oci');
  assert.deepEqual(layerKeys(back.value.layers), layerKeys(src.value.layers));
  assert.deepEqual(
    back.value.layers.map((l) => l.mediaType),
    src.value.layers.map((l) => l.mediaType),
  );
  assert.equal(back.value.config.digest, src.value.config.digest);
  assert.equal(back.value.config.mediaType, OCI_CONFIG);
  assert.equal(back.value.annotations, undefined);
});

test('conversion is deterministic: the same input gives the same digest', () => {
  const a = convertManifest(parseDocker(golden('docker-v2s2.manifest.json')), 'oci');
  const b = convertManifest(parseDocker(golden('docker-v2s2.manifest.json')), 'oci');
  assert.equal(manifestDigest(a.bytes), manifestDigest(b.bytes));
});

test('converting to the same format returns the input bytes untouched', () => {
  const bytes = golden('docker-v2s2.manifest.json');
  const got = convertManifest(parseDocker(bytes), 'v2s2');
  assert.equal(got.bytes.buffer, bytes.buffer);
  assert.equal(manifestDigest(got.bytes), manifestDigest(bytes));
  const ociBytes = new Uint8Array(golden('oci-manifest.json'));
  const gotOci = convertManifest(parseOci(ociBytes), 'oci');
  assert.ok(Buffer.isBuffer(gotOci.bytes));
  assert.equal(gotOci.bytes.buffer, ociBytes.buffer);
  assert.equal(gotOci.bytes.byteLength, ociBytes.byteLength);
});

// === conversion refusals

const ociWith = (over: Record<string, unknown>) =>
  parseOci(
    json({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: D('c'), size: 100 },
      layers: [{ mediaType: OCI_LAYER_TAR_GZIP, digest: D('1'), size: 10 }],
      ...over,
    }),
  );

test('OCI -> v2s2: a zstd layer is E_UNSUPPORTED naming the layer, with a hint to decompress', () => {
  const m = ociWith({
    layers: [
      { mediaType: OCI_LAYER_TAR_GZIP, digest: D('1'), size: 10 },
      { mediaType: OCI_LAYER_TAR_ZSTD, digest: D('2'), size: 20 },
    ],
  });
  assert.throws(
    () => convertManifest(m, 'v2s2'),
    (err: unknown) => {
      const e = err as { code: string; message: string; hint?: string };
      assert.equal(e.code, 'E_UNSUPPORTED');
      assert.match(e.message, /^manifest layer 1: Docker schema 2 has no media type for zstd-compressed layers/);
      assert.match(e.hint ?? '', /decompress/);
      return true;
    },
  );
});

test('OCI -> v2s2: unknown layer types, artifacts and subjects are E_UNSUPPORTED', () => {
  const unknownLayer = ociWith({ layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: D('1'), size: 1 }] });
  assert.throws(() => convertManifest(unknownLayer, 'v2s2'), { code: 'E_UNSUPPORTED', message: /^manifest layer 0: cannot convert layer media type/ });
  const artifactConfig = ociWith({ config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: D('c'), size: 1 } });
  assert.throws(() => convertManifest(artifactConfig, 'v2s2'), { code: 'E_UNSUPPORTED', message: /OCI artifact \(config media type/ });
  assert.throws(() => convertManifest(ociWith({ artifactType: 'application/vnd.example.sbom' }), 'v2s2'), { code: 'E_UNSUPPORTED', message: /artifactType/ });
  const withSubject = ociWith({ subject: { mediaType: OCI_MANIFEST, digest: D('5'), size: 5 } });
  assert.throws(() => convertManifest(withSubject, 'v2s2'), { code: 'E_UNSUPPORTED', message: /subject/ });
});

test('v2s2 -> OCI: unknown layer types and non-image configs are E_UNSUPPORTED', () => {
  const base = { schemaVersion: 2, mediaType: DOCKER_V2S2_MANIFEST, config: { mediaType: DOCKER_CONFIG, size: 1, digest: D('c') } };
  const badLayer = parseDocker(json({ ...base, layers: [{ mediaType: 'application/x-weird', size: 1, digest: D('1') }] }));
  assert.throws(() => convertManifest(badLayer, 'oci'), { code: 'E_UNSUPPORTED', message: /^manifest layer 0: cannot convert layer media type application\/x-weird to OCI/ });
  const plugin = parseDocker(json({ ...base, config: { mediaType: 'application/vnd.docker.plugin.v1+json', size: 1, digest: D('c') }, layers: [] }));
  assert.throws(() => convertManifest(plugin, 'oci'), { code: 'E_UNSUPPORTED', message: /config media type application\/vnd.docker.plugin.v1\+json/ });
});

test('convertManifest refuses an index (E_INTERNAL: a caller bug)', () => {
  const idx = parseManifest(golden('oci-index.json'));
  assert.throws(() => convertManifest(idx as unknown as ParsedOciManifest, 'v2s2'), { code: 'E_INTERNAL' });
});

// === updateLayers and buildManifest

test('updateLayers: a v2s2 manifest with a decompressed layer', () => {
  const src = parseDocker(golden('docker-v2s2.manifest.json'));
  const layers = src.value.layers.map((l) => ({ ...l }));
  layers[0] = { mediaType: DOCKER_LAYER_TAR, digest: D('e'), size: 80000000 };
  const got = updateLayers(src, layers);
  assert.equal(got.kind, 'docker-v2s2');
  assert.deepEqual(got.value.layers[0], { mediaType: DOCKER_LAYER_TAR, size: 80000000, digest: D('e') });
  assert.deepEqual(got.value.layers.slice(1), src.value.layers.slice(1));
  assert.deepEqual(got.value.config, src.value.config);
  assert.deepEqual(parseManifest(got.bytes).value, got.value);
});

test('updateLayers: an OCI manifest with a zstd layer keeps config, annotations and new layer annotations', () => {
  const src = parseOci(golden('oci-manifest.json'));
  const layers = src.value.layers.map((l) => ({ ...l }));
  layers[1] = { mediaType: OCI_LAYER_TAR_ZSTD, digest: D('f'), size: 90, annotations: { 'io.example.note': 'a<b' } };
  const got = updateLayers(src, layers);
  assert.equal(got.value.layers[1]!.mediaType, OCI_LAYER_TAR_ZSTD);
  assert.deepEqual(got.value.annotations, src.value.annotations);
  assert.match(got.bytes.toString(), /"io\.example\.note":"a\\u003cb"/);
  assert.deepEqual(JSON.parse(got.bytes.toString()), got.value);
});

test('updateLayers: refusals', () => {
  const docker = parseDocker(golden('docker-v2s2.manifest.json'));
  assert.throws(() => updateLayers(docker, docker.value.layers.slice(1)), { code: 'E_INTERNAL', message: /layer count changed from 4 to 3/ });
  const zstd = docker.value.layers.map((l, i) => (i === 2 ? { ...l, mediaType: OCI_LAYER_TAR_ZSTD } : l));
  assert.throws(() => updateLayers(docker, zstd), { code: 'E_UNSUPPORTED', message: /^manifest layer 2: layer media type .*tar\+zstd cannot appear in a Docker v2s2 manifest/ });
  const ociType = docker.value.layers.map((l, i) => (i === 0 ? { ...l, mediaType: OCI_LAYER_TAR_GZIP } : l));
  assert.throws(() => updateLayers(docker, ociType), { code: 'E_UNSUPPORTED' });
  const badSize = docker.value.layers.map((l, i) => (i === 3 ? { ...l, size: -5 } : l));
  assert.throws(() => updateLayers(docker, badSize), { code: 'E_BAD_INPUT', message: /^new manifest layer 3: size/ });
});

test('buildManifest: OCI with annotations, encoded in the canonical format', () => {
  const config = { mediaType: OCI_CONFIG, digest: D('c'), size: 321 };
  const layers = [{ mediaType: OCI_LAYER_TAR_GZIP, digest: D('1'), size: 11 }];
  const got = buildManifest('oci', config, layers, { 'b.key': '2', 'a.key': '1' });
  const want =
    `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":{"mediaType":"${OCI_CONFIG}","digest":"${D('c')}","size":321},` +
    `"layers":[{"mediaType":"${OCI_LAYER_TAR_GZIP}","digest":"${D('1')}","size":11}],"annotations":{"a.key":"1","b.key":"2"}}`;
  assert.equal(got.bytes.toString(), want);
  assert.deepEqual(parseManifest(got.bytes).value, got.value);
});

test('buildManifest: v2s2, and its refusals', () => {
  const config = { mediaType: DOCKER_CONFIG, digest: D('c'), size: 321 };
  const layers = [{ mediaType: DOCKER_LAYER_GZIP, digest: D('1'), size: 11 }];
  const got = buildManifest('v2s2', config, layers);
  const want =
    `{"schemaVersion":2,"mediaType":"${DOCKER_V2S2_MANIFEST}","config":{"mediaType":"${DOCKER_CONFIG}","size":321,"digest":"${D('c')}"},` +
    `"layers":[{"mediaType":"${DOCKER_LAYER_GZIP}","size":11,"digest":"${D('1')}"}]}`;
  assert.equal(got.bytes.toString(), want);
  assert.throws(() => buildManifest('v2s2', config, layers, { a: 'b' }), { code: 'E_UNSUPPORTED', message: /cannot carry annotations/ });
  assert.throws(() => buildManifest('v2s2', config, [{ mediaType: OCI_LAYER_TAR_ZSTD, digest: D('1'), size: 1 }]), { code: 'E_UNSUPPORTED' });
  assert.throws(() => buildManifest('oci', { ...config, digest: 'nope' }, layers), { code: 'E_BAD_INPUT', message: /^manifest config: malformed digest/ });
  // An empty annotations map is the same as none.
  assert.equal(buildManifest('v2s2', config, layers, {}).bytes.toString(), want);
});

test('encoding: map keys sorted by UTF-8 bytes and U+2028/U+2029 escaped, as Go does', () => {
  const m = {
    schemaVersion: 2 as const,
    mediaType: OCI_MANIFEST as typeof OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: D('c'), size: 1 },
    layers: [],
    // JS objects put integer-like keys first; Go sorts every key as UTF-8 bytes, where U+FFFD (EF BF BD)
    // comes before U+1F600 (F0 9F 98 80) although UTF-16 order says the opposite.
    annotations: { a: 'x', '9': 'y', '10': 'z', '\u{1F600}': 'emoji', '\uFFFD': 'replacement', s: 'line\u2028sep' },
  };
  const got = encodeOciManifest(m).toString();
  assert.ok(got.endsWith(`"annotations":{"10":"z","9":"y","a":"x","s":"line\\u2028sep","\uFFFD":"replacement","\u{1F600}":"emoji"}}`), got);
  // An empty layers array is still written: the spec makes layers required.
  assert.match(got, /"layers":\[\]/);
});

// === indexes

test('convertIndex: same format and no changes returns the input bytes untouched', () => {
  const bytes = golden('oci-index.json');
  const got = convertIndex(parseIndex(bytes), 'oci');
  assert.equal(got.bytes.buffer, bytes.buffer);
  // A map whose entries change nothing is still "no change".
  const noop = new Map([[D('x'), { mediaType: OCI_MANIFEST, digest: D('x'), size: 1 }]]);
  assert.equal(convertIndex(parseIndex(bytes), 'oci', noop).bytes.buffer, bytes.buffer);
});

test('convertIndex: same format with a changed child is re-encoded with annotations kept', () => {
  const src = parseIndex(golden('oci-index.json'));
  const oldDigest = src.value.manifests[1]!.digest;
  const got = convertIndex(src, 'oci', new Map([[oldDigest, { mediaType: OCI_MANIFEST, digest: D('9'), size: 999 }]]));
  assert.equal(got.kind, 'oci-index');
  assert.equal(got.value.manifests[1]!.digest, D('9'));
  assert.equal(got.value.manifests[1]!.size, 999);
  assert.deepEqual(got.value.manifests[1]!.platform, { architecture: 'arm64', os: 'linux', variant: 'v8' });
  assert.deepEqual(got.value.manifests[0]!.annotations, { 'org.opencontainers.image.ref.name': 'v1-amd64' });
  assert.deepEqual(got.value.annotations, { 'org.opencontainers.image.created': '2024-05-01T12:00:00Z' });
  assert.deepEqual(parseManifest(got.bytes).value, got.value);
});

test('convertIndex: Docker list -> OCI index round trip restores digests and platforms', () => {
  const list = parseIndex(golden('oci-index.to-docker-list.json'));
  const src = parseIndex(golden('oci-index.json'));
  const sizeOf = new Map(src.value.manifests.map((e) => [e.digest as string, e.size]));
  const reverse = new Map<string, ChildUpdate>();
  for (const [oldDigest, u] of childMap()) reverse.set(u.digest, { mediaType: OCI_MANIFEST, digest: oldDigest, size: sizeOf.get(oldDigest)! });
  const got = convertIndex(list, 'oci', reverse);
  assert.equal(got.mediaType, OCI_INDEX);
  assert.deepEqual(
    got.value.manifests,
    src.value.manifests.map((e) => ({ mediaType: e.mediaType, digest: e.digest, size: e.size, platform: e.platform })),
  );
});

test('convertIndex: Docker list -> OCI index drops the Docker-only platform features', () => {
  const list = {
    schemaVersion: 2,
    mediaType: DOCKER_LIST,
    manifests: [{ mediaType: DOCKER_V2S2_MANIFEST, size: 7, digest: D('a'), platform: { architecture: 'amd64', os: 'linux', features: ['sse4'] } }],
  };
  const got = convertIndex(parseIndex(json(list)), 'oci');
  assert.deepEqual(got.value.manifests[0]!.platform, { architecture: 'amd64', os: 'linux' });
  assert.equal(
    got.bytes.toString(),
    `{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[{"mediaType":"${DOCKER_V2S2_MANIFEST}","digest":"${D('a')}","size":7,"platform":{"architecture":"amd64","os":"linux"}}]}`,
  );
});

test('convertIndex -> Docker list: refusals', () => {
  const src = parseIndex(golden('oci-index.json'));
  // Children not converted: a Docker list cannot reference OCI manifests.
  assert.throws(
    () => convertIndex(src, 'v2s2'),
    (err: unknown) => {
      const e = err as { code: string; message: string; hint?: string };
      assert.equal(e.code, 'E_UNSUPPORTED');
      assert.match(e.message, /^index entry 0: a Docker manifest list cannot reference application\/vnd\.oci\.image\.manifest\.v1\+json/);
      assert.match(e.hint ?? '', /convert the child manifests/);
      return true;
    },
  );
  const noPlatform = parseIndex(json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: DOCKER_V2S2_MANIFEST, digest: D('a'), size: 1 }] }));
  assert.throws(() => convertIndex(noPlatform, 'v2s2'), { code: 'E_UNSUPPORTED', message: /^index entry 0 \(sha256:a+\) has no platform/ });
  const withSubject = parseIndex(json({ ...JSON.parse(golden('oci-index.json').toString()), subject: { mediaType: OCI_MANIFEST, digest: D('5'), size: 1 } }));
  assert.throws(() => convertIndex(withSubject, 'v2s2', childMap()), { code: 'E_UNSUPPORTED', message: /subject/ });
  const badUpdate = new Map([[src.value.manifests[0]!.digest, { mediaType: DOCKER_V2S2_MANIFEST, digest: 'sha256:bad' as never, size: 1 }]]);
  assert.throws(() => convertIndex(src, 'v2s2', badUpdate), { code: 'E_BAD_INPUT', message: /^index entry 0 update: sha256 digest must have 64 hex/ });
});

test('convertIndex: an updated child drops the embedded data of the old one', () => {
  const idx = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ mediaType: OCI_MANIFEST, digest: D('a'), size: 2, data: 'e30=', platform: { architecture: 'amd64', os: 'linux' } }],
  };
  const got = convertIndex(parseIndex(json(idx)), 'oci', new Map([[D('a'), { mediaType: OCI_MANIFEST, digest: D('b'), size: 3 }]]));
  assert.equal(got.value.manifests[0]!.data, undefined);
  assert.doesNotMatch(got.bytes.toString(), /"data"/);
});
