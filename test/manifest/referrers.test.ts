import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_LAYER_TAR_GZIP,
  OCI_MANIFEST,
  artifactTypeOf,
  isArtifactManifest,
  parseManifest,
  referrerDescriptor,
  referrersTag,
  subjectOf,
  type ParsedImageManifest,
} from '../../lib/manifest/index.js';
import type { Digest } from '../../lib/digest/index.js';

const D = (c: string): Digest => `sha256:${c.repeat(64)}` as Digest;
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const EMPTY = { mediaType: OCI_EMPTY, digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };

function image(
  extra: Record<string, unknown> = {},
  config: unknown = { mediaType: OCI_CONFIG, digest: D('c'), size: 10 },
  layers: unknown[] = [{ mediaType: OCI_LAYER_TAR_GZIP, digest: D('1'), size: 5 }],
): ParsedImageManifest {
  return parseManifest(json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers, ...extra })) as ParsedImageManifest;
}

test('referrersTag: the distribution-spec examples', () => {
  assert.equal(referrersTag(`sha256:${'a'.repeat(64)}`), `sha256-${'a'.repeat(64)}`);
  // sha512: the encoded part cut to 64 characters
  assert.equal(referrersTag(`sha512:${'a'.repeat(128)}`), `sha512-${'a'.repeat(64)}`);
  // algorithm cut to 32, encoded to 64, characters a tag cannot hold replaced by '-'
  assert.equal(
    referrersTag(
      'test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise+overall+truncation:alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLotsOfCharactersToExcerciseEncodedTruncation',
    ),
    'test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot',
  );
});

test('artifactTypeOf / referrerDescriptor: artifactType, else the config media type; an index without one has none; annotations copied', () => {
  const withType = image({ artifactType: 'application/spdx+json', subject: { mediaType: OCI_MANIFEST, digest: D('5'), size: 1 }, annotations: { b: '2', a: '1' } }, EMPTY);
  assert.equal(artifactTypeOf(withType), 'application/spdx+json');
  const d = referrerDescriptor(withType, D('e'), 123);
  assert.deepEqual(d, { mediaType: OCI_MANIFEST, digest: D('e'), size: 123, artifactType: 'application/spdx+json', annotations: { b: '2', a: '1' } });
  assert.equal(subjectOf(withType)?.digest, D('5'));

  const helm = image({}, { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: D('c'), size: 3 });
  assert.equal(artifactTypeOf(helm), 'application/vnd.cncf.helm.config.v1+json');
  assert.equal(referrerDescriptor(helm, D('e'), 1).annotations, undefined);

  const idx = parseManifest(json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], subject: { mediaType: OCI_MANIFEST, digest: D('5'), size: 1 } }));
  assert.equal(artifactTypeOf(idx), undefined);
  assert.deepEqual(referrerDescriptor(idx, D('f'), 9), { mediaType: OCI_INDEX, digest: D('f'), size: 9 });
  const typedIdx = parseManifest(json({ schemaVersion: 2, mediaType: OCI_INDEX, artifactType: 'application/x.multi', manifests: [] }));
  assert.equal(artifactTypeOf(typedIdx), 'application/x.multi');
});

test('isArtifactManifest: a non-image config or an artifactType makes an artifact; an image stays an image', () => {
  assert.equal(isArtifactManifest(image()), false);
  // an image config with layers of unknown types is not declared an artifact: the copier refuses those layers as before
  assert.equal(isArtifactManifest(image({}, undefined, [{ mediaType: 'application/x-unknown', digest: D('1'), size: 1 }])), false);
  assert.equal(isArtifactManifest(image({}, EMPTY)), true);
  assert.equal(isArtifactManifest(image({ artifactType: 'application/vnd.example' })), true);
  assert.equal(isArtifactManifest(image({}, { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: D('c'), size: 3 })), true);
});
