/**
 * Small real images made on the spot (test/serve, test/bundle): OCI layouts whose layers are gzipped tars of real files
 * (a daemon that pulls them can extract them), with content chosen by the test.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { writeOciLayout } from '../../support/images.js';
import { sha } from '../../support/digest.js';

/** A tar (ustar) of regular files, as bytes. */
export function tarOf(files: Record<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of Object.entries(files)) {
    const h = Buffer.alloc(512);
    const field = (off: number, len: number, s: string): void => void h.write(s.slice(0, len), off, 'ascii');
    field(0, 100, name);
    field(100, 8, '0000644\0');
    field(108, 8, '0000000\0');
    field(116, 8, '0000000\0');
    field(124, 12, data.length.toString(8).padStart(11, '0') + '\0');
    field(136, 12, '00000000000\0');
    field(156, 1, '0');
    field(257, 8, 'ustar\u000000');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** One gzip layer: its bytes, digest and diff ID. */
export interface Layer {
  gz: Buffer;
  digest: string;
  diffID: string;
}

/** A layer holding one file of `size` random bytes (so no two layers are alike). */
export function randomLayer(size: number, name = `f-${randomBytes(4).toString('hex')}`): Layer {
  const plain = tarOf({ [name]: randomBytes(size) });
  const gz = gzipSync(plain, { level: 1 });
  return { gz, digest: sha(gz), diffID: sha(plain) };
}

export interface BuiltImage {
  /** oci:DIR:REF */
  ref: string;
  dir: string;
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  configDigest: string;
  layers: Layer[];
}

/** An OCI layout at `dir` holding one image made of `layers`, named `refName`. */
export function ociImage(dir: string, layers: Layer[], refName = 'latest'): BuiltImage {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) }, config: { Cmd: ['/x'] } }));
  const { manifest, manifestDigest, configDigest } = writeOciLayout(dir, layers, config, refName);
  return { ref: `oci:${dir}:${refName}`, dir, manifest, manifestDigest, config, configDigest, layers };
}
