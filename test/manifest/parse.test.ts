import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  DOCKER_LIST,
  DOCKER_V2S1_SIGNED_MANIFEST,
  DOCKER_V2S2_MANIFEST,
  MAX_CONFIG_SIZE,
  MAX_MANIFEST_SIZE,
  OCI_INDEX,
  OCI_MANIFEST,
  guessManifestMediaType,
  manifestChildren,
  manifestDigest,
  parseConfig,
  parseManifest,
  validateLayerMediaTypes,
} from '../../lib/manifest/index.js';
import { fixture } from '../helpers/paths.js';
import { isOcikitError } from '../../lib/errors.js';
import { sha } from '../../support/digest.js';

const golden = (name: string): Buffer => readFileSync(fixture('golden', name));
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

const D = (c: string): string => `sha256:${c.repeat(64)}`;
const layer = (c: string, size = 10, mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip') => ({ mediaType, digest: D(c), size });
const ociManifest = (over: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D('c'), size: 100 },
  layers: [layer('1'), layer('2'), layer('3')],
  ...over,
});

// === happy paths

test('parseManifest: a Docker v2s2 manifest, bytes kept as given', () => {
  const bytes = golden('docker-v2s2.manifest.json');
  const got = parseManifest(bytes, DOCKER_V2S2_MANIFEST);
  assert.equal(got.kind, 'docker-v2s2');
  assert.equal(got.mediaType, DOCKER_V2S2_MANIFEST);
  assert.equal(got.bytes, bytes);
  if (got.kind !== 'docker-v2s2') return;
  assert.equal(got.value.layers.length, 4);
  assert.equal(got.value.layers[3]!.urls!.length, 2);
  assert.equal(got.value.config.size, 1472);
});

test('parseManifest: an OCI manifest with annotations', () => {
  const got = parseManifest(golden('oci-manifest.json'));
  assert.equal(got.kind, 'oci-manifest');
  if (got.kind !== 'oci-manifest') return;
  assert.equal(got.value.annotations!['org.opencontainers.image.source'], 'https://github.com/example/app');
  assert.equal(got.value.layers[0]!.annotations!['org.opencontainers.image.title'], 'base.tar.gz');
});

test('parseManifest: an OCI index and a Docker list', () => {
  const idx = parseManifest(golden('oci-index.json'), `${OCI_INDEX}; charset=utf-8`);
  assert.equal(idx.kind, 'oci-index');
  if (idx.kind === 'oci-index') assert.deepEqual(idx.value.manifests[2]!.platform, { architecture: 'arm', os: 'linux', variant: 'v7' });
  const list = parseManifest(golden('oci-index.to-docker-list.json'));
  assert.equal(list.kind, 'docker-list');
  assert.equal(list.mediaType, DOCKER_LIST);
});

test('parseManifest: without a mediaType field, the declared type decides', () => {
  const { mediaType: _, ...noField } = ociManifest();
  assert.equal(parseManifest(json(noField), OCI_MANIFEST).kind, 'oci-manifest');
  // A generic Content-Type says nothing; the shape decides.
  assert.equal(parseManifest(json(noField), 'application/json').kind, 'oci-manifest');
});

test('parseManifest: without field or declaration, the shape decides', () => {
  const { mediaType: _m, ...manifest } = ociManifest();
  assert.equal(parseManifest(json(manifest)).kind, 'oci-manifest');
  const index = { schemaVersion: 2, manifests: [{ ...layer('a', 500, OCI_MANIFEST), platform: { architecture: 'amd64', os: 'linux' } }] };
  assert.equal(parseManifest(json(index)).kind, 'oci-index');
});

test('parseManifest: a manifest of exactly MAX_MANIFEST_SIZE bytes is accepted', () => {
  const body = json(ociManifest());
  const padded = Buffer.alloc(MAX_MANIFEST_SIZE, 0x20);
  body.copy(padded);
  assert.equal(parseManifest(padded).kind, 'oci-manifest');
});

// === rejections

test('parseManifest: larger than 4 MiB is E_MANIFEST_TOO_BIG, checked before JSON parsing', () => {
  assert.equal(MAX_MANIFEST_SIZE, 4 * 1024 * 1024);
  // Not JSON at all: if parsing came first, this would be E_BAD_INPUT.
  const big = Buffer.alloc(MAX_MANIFEST_SIZE + 1, 'x');
  assert.throws(() => parseManifest(big), { code: 'E_MANIFEST_TOO_BIG', message: /4194305 bytes, more than the limit of 4194304/ });
});

test('parseManifest: text quoted from the document reaches no terminal raw, and the context names the image', () => {
  // A NUL first (what a broken registry served), an ANSI escape, a C1 CSI and a bidi override later.
  const hostile = Buffer.concat([Buffer.from([0]), Buffer.from('{"schemaVersion":2,"\x1b[31mred":1}')]);
  const check = (err: unknown, context: RegExp): boolean => {
    const m = (err as Error).message;
    assert.match(m, context);
    assert.doesNotMatch(m, /[\x00-\x1f\x7f-\x9f\u202a-\u202e]/, `raw control characters in: ${JSON.stringify(m)}`);
    assert.match(m, /\\x00|\\u0000/, 'the NUL is shown escaped');
    return true;
  };
  assert.throws(
    () => parseManifest(hostile, undefined, 'reading manifest of docker://r.example/app:1'),
    (err) => check(err, /^reading manifest of docker:\/\/r\.example\/app:1: malformed manifest JSON: /),
  );
  const mt = json({ schemaVersion: 2, mediaType: 'application/x-\u009b31m\u202eevil\u0000' });
  assert.throws(
    () => parseManifest(mt, undefined, 'reading manifest of oci:/x'),
    (err) => isOcikitError(err, 'E_UNSUPPORTED') && check(err, /^reading manifest of oci:\/x: unsupported manifest media type "application\/x-\\x9b31m\\u202eevil\\u0000"$/),
  );
  assert.throws(
    () => parseConfig(Buffer.from('\u0000'), 'reading config sha256:ab12 of dir:/y'),
    (err) => check(err, /^reading config sha256:ab12 of dir:\/y: malformed image config JSON: /),
  );
});

test('parseManifest: malformed JSON is E_BAD_INPUT', () => {
  assert.throws(() => parseManifest(Buffer.from('{"schemaVersion": 2,')), { code: 'E_BAD_INPUT', message: /^malformed manifest JSON: / });
  assert.throws(() => parseManifest(Buffer.from('')), { code: 'E_BAD_INPUT', message: /^malformed manifest JSON: / });
  assert.throws(() => parseManifest(Buffer.from('[1,2]')), { code: 'E_BAD_INPUT', message: /expected an object, got an array/ });
  assert.throws(() => parseManifest(Buffer.from('null')), { code: 'E_BAD_INPUT', message: /expected an object, got null/ });
});

test('parseManifest: invalid UTF-8 is E_BAD_INPUT, not silently replaced', () => {
  const bytes = Buffer.concat([Buffer.from('{"schemaVersion":2,"x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
  assert.throws(() => parseManifest(bytes), { code: 'E_BAD_INPUT', message: /^malformed manifest JSON: / });
});

test('parseManifest: a bad layer digest names the layer', () => {
  const m = ociManifest();
  (m.layers as Array<Record<string, unknown>>)[2]!.digest = 'sha256:notahex';
  assert.throws(() => parseManifest(json(m)), { code: 'E_BAD_INPUT', message: /^manifest layer 2: malformed digest/ });
  (m.layers as Array<Record<string, unknown>>)[2]!.digest = `sha256:${'a'.repeat(63)}`;
  assert.throws(() => parseManifest(json(m)), { code: 'E_BAD_INPUT', message: /^manifest layer 2: sha256 digest must have 64 hex/ });
  (m.layers as Array<Record<string, unknown>>)[2]!.digest = undefined;
  assert.throws(() => parseManifest(json(m)), { code: 'E_BAD_INPUT', message: /^manifest layer 2: expected a digest string/ });
});

test('parseManifest: a bad config digest names the config', () => {
  const m = ociManifest({ config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'md5:abc', size: 1 } });
  assert.throws(() => parseManifest(json(m)), { message: /^manifest config: / });
});

test('parseManifest: sizes must be non-negative safe integers', () => {
  for (const size of [-1, 1.5, '10', null, 2 ** 53]) {
    const m = ociManifest();
    (m.layers as Array<Record<string, unknown>>)[1]!.size = size;
    assert.throws(() => parseManifest(json(m)), { code: 'E_BAD_INPUT', message: /^manifest layer 1: size must be a non-negative integer/ }, String(size));
  }
});

test('parseManifest: descriptor media types must be non-empty strings', () => {
  const m = ociManifest();
  (m.layers as Array<Record<string, unknown>>)[0]!.mediaType = 7;
  assert.throws(() => parseManifest(json(m)), { code: 'E_BAD_INPUT', message: /^manifest layer 0: mediaType must be a non-empty string/ });
});

test('parseManifest: mistyped optional fields are refused', () => {
  const withUrls = ociManifest();
  (withUrls.layers as Array<Record<string, unknown>>)[0]!.urls = 'https://x';
  assert.throws(() => parseManifest(json(withUrls)), { code: 'E_BAD_INPUT', message: /manifest layer 0: urls must be an array of strings/ });
  assert.throws(() => parseManifest(json(ociManifest({ annotations: { a: 1 } }))), { code: 'E_BAD_INPUT', message: /annotations must be an object of strings/ });
  assert.throws(() => parseManifest(json(ociManifest({ layers: {} }))), { code: 'E_BAD_INPUT', message: /layers must be an array/ });
  const idx = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...layer('a', 1, OCI_MANIFEST), platform: { os: 'linux' } }] };
  assert.throws(() => parseManifest(json(idx)), { code: 'E_BAD_INPUT', message: /^index entry 0: platform.architecture must be a string/ });
});

test('parseManifest: a declared type that contradicts the mediaType field is E_BAD_INPUT', () => {
  assert.throws(() => parseManifest(json(ociManifest()), DOCKER_V2S2_MANIFEST), {
    code: 'E_BAD_INPUT',
    message: `manifest declares media type "${OCI_MANIFEST}" but was served as "${DOCKER_V2S2_MANIFEST}"`,
  });
  // Serving a manifest as an index is the dangerous case.
  assert.throws(() => parseManifest(json(ociManifest()), OCI_INDEX), { code: 'E_BAD_INPUT' });
});

test('parseManifest: a document that could be read as two types is E_BAD_INPUT', () => {
  assert.throws(() => parseManifest(json(ociManifest({ manifests: [] }))), { code: 'E_BAD_INPUT', message: /has a "manifests" field; it is ambiguous/ });
  const idx = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], layers: [] };
  assert.throws(() => parseManifest(json(idx)), { code: 'E_BAD_INPUT', message: /has a "config" or "layers" field; it is ambiguous/ });
});

test('parseManifest: Docker schema 1 is E_UNSUPPORTED, by shape or by declaration', () => {
  const v1 = { schemaVersion: 1, name: 'library/busybox', tag: 'latest', architecture: 'amd64', fsLayers: [{ blobSum: D('a') }], history: [] };
  assert.throws(() => parseManifest(json(v1)), { code: 'E_UNSUPPORTED', message: /Docker schema 1 manifests are not supported/ });
  assert.throws(() => parseManifest(json(v1), DOCKER_V2S1_SIGNED_MANIFEST), { code: 'E_UNSUPPORTED' });
  assert.throws(() => parseManifest(json({ ...v1, mediaType: 'application/vnd.docker.distribution.manifest.v1+json' })), { code: 'E_UNSUPPORTED' });
});

test('parseManifest: an unknown media type is E_UNSUPPORTED naming it', () => {
  assert.throws(() => parseManifest(json(ociManifest({ mediaType: 'application/vnd.example.thing+json' }))), {
    code: 'E_UNSUPPORTED',
    message: 'unsupported manifest media type "application/vnd.example.thing+json"',
  });
  assert.throws(() => parseManifest(json({ schemaVersion: 2 }), 'application/vnd.example.thing+json'), { code: 'E_UNSUPPORTED' });
});

test('parseManifest: other rejections (schemaVersion, unknown shape, list entry without platform)', () => {
  assert.throws(() => parseManifest(json(ociManifest({ schemaVersion: 3 }))), { code: 'E_BAD_INPUT', message: /schemaVersion must be 2, got number 3/ });
  assert.throws(() => parseManifest(json({ hello: 'world' })), { code: 'E_BAD_INPUT', message: /cannot tell the manifest type/ });
  assert.throws(() => parseManifest(json(ociManifest({ mediaType: 42 }))), { code: 'E_BAD_INPUT', message: /mediaType must be a string/ });
  const list = { schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [layer('a', 1, DOCKER_V2S2_MANIFEST)] };
  assert.throws(() => parseManifest(json(list)), { code: 'E_BAD_INPUT', message: /^manifest list entry 0: platform is missing/ });
});

// === helpers

test('guessManifestMediaType: field, shape, schema 1 signed or not, undefined when unknown', () => {
  assert.equal(guessManifestMediaType(golden('docker-v2s2.manifest.json')), DOCKER_V2S2_MANIFEST);
  const { mediaType: _, ...bare } = ociManifest();
  assert.equal(guessManifestMediaType(json(bare)), OCI_MANIFEST);
  assert.equal(guessManifestMediaType(json({ schemaVersion: 2, manifests: [] })), OCI_INDEX);
  assert.equal(guessManifestMediaType(json({ schemaVersion: 1, fsLayers: [] })), 'application/vnd.docker.distribution.manifest.v1+json');
  assert.equal(guessManifestMediaType(json({ schemaVersion: 1, fsLayers: [], signatures: [] })), DOCKER_V2S1_SIGNED_MANIFEST);
  assert.equal(guessManifestMediaType(Buffer.from('not json')), undefined);
  assert.equal(guessManifestMediaType(json({ x: 1 })), undefined);
  assert.throws(() => guessManifestMediaType(Buffer.alloc(MAX_MANIFEST_SIZE + 1, ' ')), { code: 'E_MANIFEST_TOO_BIG' });
});

test('manifestDigest: sha256 of the exact bytes, whitespace included', () => {
  const bytes = golden('docker-v2s2.manifest.json');
  const want = sha(bytes);
  assert.equal(manifestDigest(bytes), want);
  assert.notEqual(manifestDigest(Buffer.concat([bytes, Buffer.from('\n')])), want);
});

test('manifestChildren: config and layers, or index entries; the subject is not a child', () => {
  const m = parseManifest(json(ociManifest({ subject: { mediaType: OCI_MANIFEST, digest: D('5'), size: 5 } })));
  assert.deepEqual(
    manifestChildren(m).map((d) => d.digest),
    [D('c'), D('1'), D('2'), D('3')],
  );
  const idx = parseManifest(golden('oci-index.json'));
  assert.deepEqual(
    manifestChildren(idx).map((d) => d.size),
    [1052, 1052, 1053],
  );
});

test('validateLayerMediaTypes: known layer types pass, others are E_UNSUPPORTED naming the layer', () => {
  validateLayerMediaTypes(parseManifest(golden('docker-v2s2.manifest.json')));
  validateLayerMediaTypes(parseManifest(golden('oci-manifest.json')));
  validateLayerMediaTypes(parseManifest(golden('oci-index.json')));
  const m = ociManifest({ layers: [layer('1'), layer('2', 5, 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted')] });
  const parsed = parseManifest(json(m)); // parse itself allows it
  assert.throws(() => validateLayerMediaTypes(parsed), {
    code: 'E_UNSUPPORTED',
    message: 'manifest layer 1: unsupported layer media type "application/vnd.oci.image.layer.v1.tar+gzip+encrypted"',
  });
});

// === configs

const dockerConfig = {
  architecture: 'amd64',
  os: 'linux',
  created: '2024-05-01T12:00:00.000000000Z',
  docker_version: '24.0.7',
  config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'], Labels: { maintainer: 'x' } },
  rootfs: { type: 'layers', diff_ids: [D('a'), D('b')] },
  history: [
    { created: '2024-05-01T12:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:abc in /' },
    { created_by: 'CMD ["sh"]', empty_layer: true },
  ],
};

test('parseConfig: a Docker config, unknown fields kept', () => {
  const got = parseConfig(json({ ...dockerConfig, container: 'abc123' }));
  assert.equal(got.architecture, 'amd64');
  assert.deepEqual(got.rootfs!.diff_ids, [D('a'), D('b')]);
  assert.deepEqual(got.config!.Cmd, ['sh']);
  assert.equal(got.docker_version, '24.0.7');
  assert.equal(got.container, 'abc123');
  assert.equal(got.history![1]!.empty_layer, true);
});

test('parseConfig: a missing diff_ids (Docker omits an empty one) becomes []', () => {
  const got = parseConfig(json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }));
  assert.deepEqual(got.rootfs!.diff_ids, []);
});

test('parseConfig: rejections', () => {
  assert.throws(() => parseConfig(Buffer.from('{"architecture":')), { code: 'E_BAD_INPUT', message: /^malformed image config JSON: / });
  assert.throws(() => parseConfig(Buffer.alloc(MAX_CONFIG_SIZE + 1, '{')), { code: 'E_MANIFEST_TOO_BIG', message: /^image config is/ });
  const badDiff = { ...dockerConfig, rootfs: { type: 'layers', diff_ids: [D('a'), 'sha256:zz'] } };
  assert.throws(() => parseConfig(json(badDiff)), { code: 'E_BAD_INPUT', message: /^image config diff_id 1: malformed digest/ });
  assert.throws(() => parseConfig(json({ ...dockerConfig, architecture: 64 })), { code: 'E_BAD_INPUT', message: /architecture must be a string/ });
  assert.throws(() => parseConfig(json({ ...dockerConfig, history: [{ empty_layer: 'yes' }] })), {
    code: 'E_BAD_INPUT',
    message: /^image config history 0: empty_layer must be a boolean/,
  });
  assert.throws(() => parseConfig(json({ ...dockerConfig, config: { Env: 'A=1' } })), { code: 'E_BAD_INPUT', message: /Env must be an array of strings/ });
});
