/**
 * The transport matrix: oci:, dir:, oci-archive:, docker-archive: (written by ocikit, and the two
 * archives also written by skopeo) into oci:, dir: (OCI and v2s2 manifests), oci-archive: and
 * docker-archive:, for the hello fixture and a generated five-layer image with gzip, zstd and plain
 * layers. Every output is read back by skopeo 1.9: the same config, the same number of layers, and
 * each layer, decompressed by skopeo, hashing to its diff ID.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { compress as zstdCompress } from 'zstd-napi';
import { copyImage } from '../../lib/copy/index.js';
import type { ManifestFormat } from '../../lib/manifest/index.js';
import { BlobStore } from '../../lib/store/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { rawTar } from '../helpers/tar.js';
import { sha } from '../../support/digest.js';

function runAsync(prog: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(prog, args);
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${prog} ${args.join(' ')} failed (${code}): ${err.trim()}`))));
  });
}

function tarOf(files: Array<{ name: string; data: Buffer }>): Promise<Buffer> {
  return rawTar(files);
}

/** Deterministic, partly compressible bytes. */
function bytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += 32) {
    const block = createHash('sha256')
      .update(`${seed}:${Math.floor(i / 4096)}`)
      .digest();
    block.copy(out, i);
  }
  return out;
}

/** An OCI layout of one image, ref "latest": five layers (gzip, zstd, plain, gzip, zstd). */
async function generateLayout(root: string): Promise<void> {
  mkdirSync(join(root, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const blob = (b: Buffer): { digest: string; size: number } => {
    writeFileSync(join(root, 'blobs', 'sha256', sha(b).slice(7)), b);
    return { digest: sha(b), size: b.length };
  };
  const kinds = ['gzip', 'zstd', 'none', 'gzip', 'zstd'] as const;
  const tars = await Promise.all(
    kinds.map((_, i) =>
      tarOf([
        { name: `layer${i}/data.bin`, data: bytes(`layer${i}`, 40_000 * (i + 1)) },
        { name: `layer${i}/note.txt`, data: Buffer.from(`layer ${i}\n`) },
      ]),
    ),
  );
  const types = { gzip: 'application/vnd.oci.image.layer.v1.tar+gzip', zstd: 'application/vnd.oci.image.layer.v1.tar+zstd', none: 'application/vnd.oci.image.layer.v1.tar' };
  const layers = tars.map((t, i) => {
    const k = kinds[i]!;
    const stored = k === 'gzip' ? gzipSync(t) : k === 'zstd' ? Buffer.from(zstdCompress(t)) : t;
    return { mediaType: types[k], ...blob(stored) };
  });
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-02-02T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin:/bin', 'MATRIX=1'], Cmd: ['/bin/true'], Labels: { 'org.example.generated': 'yes' } },
      rootfs: { type: 'layers', diff_ids: tars.map((t) => sha(t)) },
      history: tars.map((_, i) => ({ created: '2024-02-02T00:00:00Z', created_by: `generated layer ${i}` })),
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...blob(config) }, layers }),
  );
  const m = blob(manifest);
  writeFileSync(
    join(root, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
    }),
  );
}

/** The config (bytes and parsed) and diff IDs of the single image of an OCI layout. */
function truth(layout: string): { configDigest: string; config: unknown; diffIDs: string[]; layerCount: number } {
  const blob = (d: string): Buffer => readFileSync(join(layout, 'blobs', 'sha256', d.slice(7)));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const m = JSON.parse(blob(index.manifests[0]!.digest).toString()) as { config: { digest: string }; layers: unknown[] };
  const cfgBytes = blob(m.config.digest);
  const config = JSON.parse(cfgBytes.toString()) as { rootfs: { diff_ids: string[] } };
  return { configDigest: m.config.digest, config, diffIDs: config.rootfs.diff_ids, layerCount: m.layers.length };
}

interface Dest {
  kind: string;
  name: (dir: string) => string;
  format?: ManifestFormat;
  /** The manifest media type skopeo must report. */
  mediaType: string;
}

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const V2S2 = 'application/vnd.docker.distribution.manifest.v2+json';

const DESTS: Dest[] = [
  { kind: 'oci', name: (d) => `oci:${d}:latest`, mediaType: OCI },
  { kind: 'dir-oci', name: (d) => `dir:${d}`, format: 'oci', mediaType: OCI },
  { kind: 'dir-v2s2', name: (d) => `dir:${d}`, format: 'v2s2', mediaType: V2S2 },
  { kind: 'oci-archive', name: (d) => `oci-archive:${d}.tar:latest`, mediaType: OCI },
  { kind: 'docker-archive', name: (d) => `docker-archive:${d}.tar:example.com/matrix:latest`, mediaType: V2S2 },
];

describe('archive matrix: oci, dir, oci-archive, docker-archive both ways, verified by skopeo', () => {
  let dir: string;
  let skopeo: string;
  const images: Record<string, string> = {};
  before(async () => {
    dir = tempDir('ocikit-matrix-');
    skopeo = requirePeer('skopeo');
    images.hello = fixture('hello-oci');
    images.generated = join(dir, 'generated-oci');
    await generateLayout(images.generated);
  });

  for (const image of ['hello', 'generated']) {
    // Each source has its own store and directories: the six run side by side.
    describe(`image ${image}`, { concurrency: 3 }, () => {
      const sources: Record<string, string> = {};
      let store: BlobStore;
      before(async () => {
        const layout = images[image]!;
        const base = join(dir, image);
        mkdirSync(base);
        store = BlobStore.open(join(base, 'store'));
        sources.oci = `oci:${layout}:latest`;
        // The other sources, written by ocikit from the layout ...
        for (const [kind, name] of [
          ['dir', `dir:${join(base, 'src-dir')}`],
          ['oci-archive', `oci-archive:${join(base, 'src-oci.tar')}:latest`],
          ['docker-archive', `docker-archive:${join(base, 'src-docker.tar')}:example.com/src:1`],
        ] as const) {
          await copyImage(parseImageName(sources.oci), parseImageName(name), { store });
          sources[kind] = name;
        }
        // ... and by skopeo.
        await runAsync(skopeo, ['copy', '-q', sources.oci, `oci-archive:${join(base, 'skopeo-oci.tar')}:latest`]);
        // skopeo 1.9 cannot write zstd layers into a docker-archive ("zstd compression is not
        // supported for docker images"); give it ocikit's docker-archive, whose layers are plain.
        await runAsync(skopeo, [
          'copy',
          '-q',
          image === 'generated' ? `docker-archive:${join(base, 'src-docker.tar')}` : sources.oci,
          `docker-archive:${join(base, 'skopeo-docker.tar')}:example.com/skopeo:1`,
        ]);
        sources['skopeo oci-archive'] = `oci-archive:${join(base, 'skopeo-oci.tar')}:latest`;
        sources['skopeo docker-archive'] = `docker-archive:${join(base, 'skopeo-docker.tar')}`;
        store.close();
      });

      for (const src of ['oci', 'dir', 'oci-archive', 'docker-archive', 'skopeo oci-archive', 'skopeo docker-archive']) {
        it(`${src} -> every destination`, async () => {
          const want = truth(images[image]!);
          // A store of its own per source: its first copy reads every blob from the source itself.
          const base = join(dir, image, src.replace(/ /g, '-'));
          mkdirSync(base);
          const srcStore = BlobStore.open(join(base, 'store'));
          try {
            for (const dest of DESTS) {
              const target = join(base, dest.kind);
              const name = dest.name(target);
              const label = `${image}: ${src} -> ${dest.kind}`;
              await copyImage(parseImageName(sources[src]!), parseImageName(name), { store: srcStore, ...(dest.format ? { format: dest.format } : {}) });
              // skopeo names a single-image docker-archive by its path alone.
              const skopeoName = dest.kind === 'docker-archive' ? `docker-archive:${target}.tar` : name;
              const [rawOut, cfgOut] = await Promise.all([runAsync(skopeo, ['inspect', '--raw', skopeoName]), runAsync(skopeo, ['inspect', '--config', skopeoName])]);
              const raw = JSON.parse(rawOut) as { mediaType: string; config: { digest: string }; layers: unknown[] };
              assert.equal(raw.config.digest, want.configDigest, `${label}: config digest`);
              assert.equal(raw.layers.length, want.layerCount, `${label}: layer count`);
              assert.equal(raw.mediaType, dest.mediaType, `${label}: manifest type`);
              assert.deepEqual(JSON.parse(cfgOut), want.config, `${label}: config`);
              const back = join(base, `${dest.kind}-back`);
              await runAsync(skopeo, ['copy', '-q', '--dest-decompress', skopeoName, `dir:${back}`]);
              const layers = (JSON.parse(readFileSync(join(back, 'manifest.json'), 'utf8')) as { layers: Array<{ digest: string }> }).layers;
              assert.deepEqual(
                layers.map((l) => sha(readFileSync(join(back, l.digest.slice(7))))),
                want.diffIDs,
                `${label}: every layer, decompressed by skopeo, hashes to its diff ID`,
              );
            }
          } finally {
            srcStore.close();
          }
        });
      }
    });
  }
});
