/**
 * Small real images made on the fly: OCI layouts whose layers are gzip'd tar archives (ustar headers
 * written here), configs with matching diff_ids. Images made from the same layers share blobs, as
 * the tags of one repository do.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha } from './digest.js';

/** A layer: its gzip'd bytes and the digest of the tar inside (the config's diff_id). */
export interface Layer {
  gz: Buffer;
  digest: string;
  diffId: string;
}

function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('14000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

/** A layer holding the given files (a tar, gzip'd at level 1). */
export function makeLayer(files: Array<{ name: string; data: Buffer | string }>): Layer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const data = Buffer.from(f.data);
    parts.push(tarHeader(f.name, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  const tar = Buffer.concat(parts);
  const gz = gzipSync(tar, { level: 1 });
  return { gz, digest: sha(gz), diffId: sha(tar) };
}

/** Bytes that do not compress much, the same for the same seed (a sha256 chain). */
export function pseudoRandom(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < size; off += 32) {
    block.copy(out, off, 0, Math.min(32, size - off));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/**
 * Write an OCI layout at `dir` holding one image: the gzip'd `layers` and `config` as blobs, a
 * manifest naming them, and index.json naming the manifest as `ref`. Shared by the image helpers.
 */
export function writeOciLayout(dir: string, layers: Array<{ gz: Buffer; digest: string }>, config: Buffer, ref: string): { manifest: Buffer; manifestDigest: string; configDigest: string } {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer): string => {
    const d = sha(b);
    writeFileSync(join(blobs, d.slice(7)), b);
    return d;
  };
  for (const l of layers) put(l.gz);
  const configDigest = put(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.gz.length })),
    }),
  );
  const manifestDigest = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': ref } }],
    }),
  );
  return { manifest, manifestDigest, configDigest };
}

/**
 * Write an OCI layout at `dir` holding one image made of `layers`, its config labelled `label`,
 * under ref `ref`. Returns the manifest digest.
 */
export function writeImage(dir: string, layers: Layer[], label: string, ref = 'latest'): string {
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin:/bin'], Labels: { 'org.example.variant': label } },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    }),
  );
  return writeOciLayout(dir, layers, config, ref).manifestDigest;
}
