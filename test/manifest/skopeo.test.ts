/**
 * The byte format of converted manifests, checked against the real skopeo: for the same conversion
 * ocikit and skopeo must write the same bytes, hence the same manifest digest. skopeo is a
 * required peer (support/peers.ts installs it); the test never skips.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_LAYER_TAR,
  DOCKER_V2S2_MANIFEST,
  convertManifest,
  parseManifest,
  updateLayers,
  type ParsedDockerManifest,
  type ParsedOciManifest,
} from '../../lib/manifest/index.js';
import { tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { sha, shaHex } from '../../support/digest.js';

// The real skopeo is a peer the test setup installs; a missing one fails here with the install command.
const skopeoPath = requirePeer('skopeo');

function skopeo(...args: string[]): void {
  const r = spawnSync(skopeoPath, ['--insecure-policy', 'copy', '-q', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `skopeo ${args.join(' ')}: ${r.stderr}`);
}

/** A dir: image with one gzip and one uncompressed layer, as a v2s2 manifest. */
function makeDockerDirImage(root: string): string {
  const dir = join(root, 'src');
  mkdirSync(dir);
  // 10 KiB of zeros is a valid, empty tar archive.
  const tar = Buffer.alloc(10240);
  const tarB = Buffer.concat([Buffer.from('x'.repeat(512)), Buffer.alloc(10240)]);
  const gz = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [sha(tar), sha(tarB)] },
      history: [{ created_by: 'a' }, { created_by: 'b' }],
    }),
  );
  const manifest = {
    schemaVersion: 2,
    mediaType: DOCKER_V2S2_MANIFEST,
    config: { mediaType: DOCKER_CONFIG, size: config.length, digest: sha(config) },
    layers: [
      { mediaType: DOCKER_LAYER_GZIP, size: gz.length, digest: sha(gz) },
      { mediaType: DOCKER_LAYER_TAR, size: tarB.length, digest: sha(tarB) },
    ],
  };
  for (const blob of [config, gz, tarB]) writeFileSync(join(dir, shaHex(blob)), blob);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 3));
  writeFileSync(join(dir, 'version'), 'Directory Transport Version: 1.1\n');
  return dir;
}

test('skopeo: v2s2 -> OCI writes the same manifest bytes (config descriptor aside)', () => {
  const root = tempDir();
  const src = makeDockerDirImage(root);
  const dst = join(root, 'oci');
  skopeo('--format', 'oci', `dir:${src}`, `dir:${dst}`);
  const ours = convertManifest(parseManifest(readFileSync(join(src, 'manifest.json'))) as ParsedDockerManifest, 'oci');
  const theirsText = readFileSync(join(dst, 'manifest.json'), 'utf8');
  const theirs = JSON.parse(theirsText) as { config: { digest: string; size: number } };
  // skopeo also rewrites the config blob into OCI form (new digest); ocikit keeps the Docker config
  // blob, which is a valid OCI config. Everything else must be byte-identical.
  const want = theirsText.replace(theirs.config.digest, ours.value.config.digest).replace(`"size":${theirs.config.size}}`, `"size":${ours.value.config.size}}`);
  assert.equal(ours.bytes.toString(), want);
});

test('skopeo: OCI with annotations -> v2s2 is byte-identical', () => {
  const root = tempDir();
  const src = makeDockerDirImage(root);
  const oci = join(root, 'oci');
  skopeo('--format', 'oci', `dir:${src}`, `dir:${oci}`);
  const m = JSON.parse(readFileSync(join(oci, 'manifest.json'), 'utf8'));
  m.annotations = { 'z.key': 'a<b>&c', 'a.key': 'x' };
  m.layers[0].annotations = { 'org.opencontainers.image.title': 'layer.tar.gz' };
  writeFileSync(join(oci, 'manifest.json'), JSON.stringify(m, null, 2));
  const v2 = join(root, 'v2');
  skopeo('--format', 'v2s2', `dir:${oci}`, `dir:${v2}`);
  const ours = convertManifest(parseManifest(readFileSync(join(oci, 'manifest.json'))) as ParsedOciManifest, 'v2s2');
  assert.equal(ours.bytes.toString(), readFileSync(join(v2, 'manifest.json'), 'utf8'));
});

test('skopeo: an OCI manifest re-encoded after recompression is byte-identical (sorted, escaped annotations)', () => {
  const root = tempDir();
  const src = makeDockerDirImage(root);
  const oci = join(root, 'oci');
  skopeo('--format', 'oci', `dir:${src}`, `dir:${oci}`);
  const m = JSON.parse(readFileSync(join(oci, 'manifest.json'), 'utf8'));
  m.annotations = { 'z.key': 'a<b>&c', 'a.key': 'x', '10': 'ten', '9': 'nine' };
  writeFileSync(join(oci, 'manifest.json'), JSON.stringify(m, null, 2));
  const zst = join(root, 'zstd');
  skopeo('--dest-compress', '--dest-compress-format', 'zstd', `dir:${oci}`, `dir:${zst}`);
  const theirs = readFileSync(join(zst, 'manifest.json'));
  const ours = updateLayers(parseManifest(readFileSync(join(oci, 'manifest.json'))) as ParsedOciManifest, JSON.parse(theirs.toString()).layers);
  assert.equal(ours.bytes.toString(), theirs.toString());
});
