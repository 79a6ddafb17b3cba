import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DOCKER_CONFIG,
  DOCKER_FOREIGN_LAYER_GZIP,
  DOCKER_FOREIGN_LAYER_TAR,
  DOCKER_LAYER_GZIP,
  DOCKER_LAYER_TAR,
  DOCKER_LIST,
  DOCKER_V2S1_SIGNED_MANIFEST,
  DOCKER_V2S2_MANIFEST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_NONDIST_TAR,
  OCI_LAYER_NONDIST_TAR_GZIP,
  OCI_LAYER_NONDIST_TAR_ZSTD,
  OCI_LAYER_TAR,
  OCI_LAYER_TAR_GZIP,
  OCI_LAYER_TAR_ZSTD,
  OCI_MANIFEST,
  isImageConfigMediaType,
  isIndexMediaType,
  isManifestMediaType,
  isNondistributableLayer,
  isSchema1MediaType,
  layerCompression,
  layerMediaTypeFor,
  normalizeMediaType,
} from '../../lib/manifest/index.js';

test('media types: the constants are the spec strings', () => {
  assert.equal(OCI_MANIFEST, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(OCI_INDEX, 'application/vnd.oci.image.index.v1+json');
  assert.equal(OCI_CONFIG, 'application/vnd.oci.image.config.v1+json');
  assert.equal(DOCKER_V2S2_MANIFEST, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(DOCKER_LIST, 'application/vnd.docker.distribution.manifest.list.v2+json');
  assert.equal(DOCKER_CONFIG, 'application/vnd.docker.container.image.v1+json');
  assert.equal(DOCKER_LAYER_GZIP, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
  assert.equal(DOCKER_FOREIGN_LAYER_GZIP, 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip');
  assert.equal(DOCKER_LAYER_TAR, 'application/vnd.docker.image.rootfs.diff.tar');
  assert.equal(OCI_LAYER_NONDIST_TAR_ZSTD, 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd');
});

test('layerCompression: every known layer type, and undefined for the rest', () => {
  const table: Array<[string, string | undefined]> = [
    [OCI_LAYER_TAR, 'none'],
    [OCI_LAYER_TAR_GZIP, 'gzip'],
    [OCI_LAYER_TAR_ZSTD, 'zstd'],
    [OCI_LAYER_NONDIST_TAR, 'none'],
    [OCI_LAYER_NONDIST_TAR_GZIP, 'gzip'],
    [OCI_LAYER_NONDIST_TAR_ZSTD, 'zstd'],
    [DOCKER_LAYER_TAR, 'none'],
    [DOCKER_LAYER_GZIP, 'gzip'],
    [DOCKER_FOREIGN_LAYER_TAR, 'none'],
    [DOCKER_FOREIGN_LAYER_GZIP, 'gzip'],
    ['application/vnd.oci.image.layer.v1.tar+gzip+encrypted', undefined],
    ['application/vnd.cncf.helm.chart.content.v1.tar+gzip', undefined],
    [OCI_CONFIG, undefined],
    ['', undefined],
  ];
  for (const [mediaType, want] of table) assert.equal(layerCompression(mediaType), want, mediaType);
});

test('isNondistributableLayer: OCI nondistributable and Docker foreign only', () => {
  assert.equal(isNondistributableLayer(OCI_LAYER_NONDIST_TAR_GZIP), true);
  assert.equal(isNondistributableLayer(DOCKER_FOREIGN_LAYER_TAR), true);
  assert.equal(isNondistributableLayer(OCI_LAYER_TAR_GZIP), false);
  assert.equal(isNondistributableLayer(DOCKER_LAYER_GZIP), false);
  assert.equal(isNondistributableLayer('application/x-unknown'), false);
});

test('layerMediaTypeFor: each family, compression and distributability', () => {
  const table: Array<[Parameters<typeof layerMediaTypeFor>, string]> = [
    [['oci', 'none'], OCI_LAYER_TAR],
    [['oci', 'gzip'], OCI_LAYER_TAR_GZIP],
    [['oci', 'zstd'], OCI_LAYER_TAR_ZSTD],
    [['oci', 'none', { nondistributable: true }], OCI_LAYER_NONDIST_TAR],
    [['oci', 'gzip', { nondistributable: true }], OCI_LAYER_NONDIST_TAR_GZIP],
    [['oci', 'zstd', { nondistributable: true }], OCI_LAYER_NONDIST_TAR_ZSTD],
    [['docker', 'none'], DOCKER_LAYER_TAR],
    [['docker', 'gzip'], DOCKER_LAYER_GZIP],
    [['docker', 'none', { nondistributable: true }], DOCKER_FOREIGN_LAYER_TAR],
    [['docker', 'gzip', { nondistributable: true }], DOCKER_FOREIGN_LAYER_GZIP],
  ];
  for (const [args, want] of table) assert.equal(layerMediaTypeFor(...args), want, JSON.stringify(args));
});

test('layerMediaTypeFor: Docker has no zstd type, so E_UNSUPPORTED with a hint to decompress', () => {
  for (const nondistributable of [false, true]) {
    assert.throws(
      () => layerMediaTypeFor('docker', 'zstd', { nondistributable }),
      (err: unknown) => {
        const e = err as { code: string; message: string; hint?: string };
        assert.equal(e.code, 'E_UNSUPPORTED');
        assert.match(e.message, /Docker schema 2 has no media type for .*zstd-compressed layers/);
        assert.match(e.hint ?? '', /decompress/);
        return true;
      },
    );
  }
});

test('isIndexMediaType / isManifestMediaType / isSchema1MediaType / isImageConfigMediaType', () => {
  assert.equal(isIndexMediaType(OCI_INDEX), true);
  assert.equal(isIndexMediaType(DOCKER_LIST), true);
  assert.equal(isIndexMediaType(OCI_MANIFEST), false);
  assert.equal(isManifestMediaType(OCI_MANIFEST), true);
  assert.equal(isManifestMediaType(DOCKER_V2S2_MANIFEST), true);
  assert.equal(isManifestMediaType(DOCKER_V2S1_SIGNED_MANIFEST), false);
  assert.equal(isManifestMediaType(OCI_INDEX), false);
  assert.equal(isSchema1MediaType(DOCKER_V2S1_SIGNED_MANIFEST), true);
  assert.equal(isSchema1MediaType(DOCKER_V2S2_MANIFEST), false);
  assert.equal(isImageConfigMediaType(OCI_CONFIG), true);
  assert.equal(isImageConfigMediaType(DOCKER_CONFIG), true);
  assert.equal(isImageConfigMediaType('application/vnd.cncf.helm.config.v1+json'), false);
});

test('normalizeMediaType: strips parameters and case; generic types mean "not declared"', () => {
  assert.equal(normalizeMediaType(`${DOCKER_V2S2_MANIFEST}; charset=utf-8`), DOCKER_V2S2_MANIFEST);
  assert.equal(normalizeMediaType(' Application/VND.OCI.Image.Index.v1+JSON '), OCI_INDEX);
  assert.equal(normalizeMediaType('application/json'), undefined);
  assert.equal(normalizeMediaType('text/plain; charset=utf-8'), undefined);
  assert.equal(normalizeMediaType('application/octet-stream'), undefined);
  assert.equal(normalizeMediaType(''), undefined);
  assert.equal(normalizeMediaType(undefined), undefined);
});
