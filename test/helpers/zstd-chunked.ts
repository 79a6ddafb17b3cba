/**
 * An independent reader of zstd:chunked layers for tests: written from the format's description
 * (containers/storage pkg/chunked), sharing no code with workers/zstd-chunked.ts. It checks what a
 * partial pull relies on: the annotations and the footer agree, the TOC's digest, every file's and
 * chunk's frames decompress to its bytes with its digests, and the tar-split plus the files'
 * contents give back the tar byte for byte.
 */
import assert from 'node:assert/strict';
import { decompress } from 'zstd-napi';
import { sha } from '../../support/digest.js';

/** A TOC entry as containers/storage writes it. */
export interface TocEntry {
  type: string;
  name: string;
  linkName?: string;
  mode?: number;
  size?: number;
  uid?: number;
  gid?: number;
  modtime?: string;
  xattrs?: Record<string, string>;
  digest?: string;
  offset?: number;
  endOffset?: number;
  chunkSize?: number;
  chunkOffset?: number;
  chunkDigest?: string;
  chunkType?: string;
}

/** Go's crc64 with the ISO table, bit by bit with BigInt (slow, and independent). */
function crc64(data: Buffer): Buffer {
  const poly = 0xd800000000000000n;
  let crc = 0xffffffffffffffffn;
  for (const b of data) {
    crc ^= BigInt(b);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(crc ^ 0xffffffffffffffffn);
  return out;
}

const skippable = (blob: Buffer, off: number, len: number): Buffer => {
  assert.deepEqual([...blob.subarray(off - 8, off - 4)], [0x50, 0x2a, 0x4d, 0x18], 'a skippable frame starts 8 bytes before');
  assert.equal(blob.readUInt32LE(off - 4), len, 'the skippable frame holds exactly that');
  return blob.subarray(off, off + len);
};

/** Checks `blob` against `annotations` and the `tar` it must decompress to; returns its TOC entries. */
export function checkZstdChunked(blob: Buffer, annotations: Record<string, string>, tar: Buffer, opts: { crc?: boolean } = {}): TocEntry[] {
  assert.ok(decompress(blob).equals(tar), 'any zstd reader gets the tar back');
  const [tocOff, tocLen, tocPlain, tocType] = annotations['io.github.containers.zstd-chunked.manifest-position']!.split(':').map(Number) as [number, number, number, number];
  const [splitOff, splitLen, splitPlain] = annotations['io.github.containers.zstd-chunked.tarsplit-position']!.split(':').map(Number) as [number, number, number];
  assert.equal(tocType, 1);
  assert.equal(annotations['io.containers.zstd-chunked.manifest-position'], annotations['io.github.containers.zstd-chunked.manifest-position'], 'legacy position');
  assert.equal(annotations['io.containers.zstd-chunked.manifest-checksum'], annotations['io.github.containers.zstd-chunked.manifest-checksum'], 'legacy digest');

  // the footer: the last 64 bytes, a skippable frame of its own
  const footer = skippable(blob, blob.length - 64, 64);
  assert.equal(footer.subarray(56).toString('latin1'), 'GNUlInUx');
  const f = (i: number): number => Number(footer.readBigUInt64LE(i * 8));
  assert.deepEqual([f(0), f(1), f(2), f(3), f(4), f(5), f(6)], [tocOff, tocLen, tocPlain, 1, splitOff, splitLen, splitPlain], 'footer = annotations');

  const tocZ = skippable(blob, tocOff, tocLen);
  assert.equal(sha(tocZ), annotations['io.github.containers.zstd-chunked.manifest-checksum'], 'TOC digest');
  const tocJson = decompress(tocZ);
  assert.equal(tocJson.length, tocPlain);
  const toc = JSON.parse(tocJson.toString('utf8')) as { version: number; entries: TocEntry[]; tarSplitDigest: string };
  assert.equal(toc.version, 1);
  const splitZ = skippable(blob, splitOff, splitLen);
  assert.equal(sha(splitZ), toc.tarSplitDigest, 'the TOC names the tar-split digest');
  const split = decompress(splitZ);
  assert.equal(split.length, splitPlain);
  assert.equal(tocOff + tocLen + 8, splitOff, 'tar-split right after the TOC');
  assert.equal(splitOff + splitLen + 8 + 64, blob.length, 'footer last');

  // every file's frames, and its chunks
  const contents = new Map<string, Buffer>();
  const entries = toc.entries;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.type === 'chunk') continue;
    if (!e.size || e.type !== 'reg') {
      assert.equal(e.offset, undefined, `${e.name}: no data, no offset`);
      continue;
    }
    const data = decompress(blob.subarray(e.offset, e.endOffset));
    assert.equal(data.length, e.size, `${e.name}: its frames hold its size`);
    assert.equal(`sha256:${sha(data).slice(7)}`, e.digest, `${e.name}: digest`);
    contents.set(e.name, data);
    if (e.chunkDigest === undefined) continue;
    const chunks = [e];
    while (entries[i + chunks.length]?.type === 'chunk') chunks.push(entries[i + chunks.length]!);
    let at = 0;
    chunks.forEach((c, k) => {
      assert.equal(c.name, e.name);
      assert.equal(c.chunkOffset ?? 0, at, `${e.name}: chunk ${k} starts where the last ended`);
      const end = k + 1 < chunks.length ? chunks[k + 1]!.offset! : e.endOffset!;
      const bytes = decompress(blob.subarray(c.offset, end));
      assert.equal(bytes.length, c.chunkSize, `${e.name}: chunk ${k} size`);
      assert.equal(sha(bytes), c.chunkDigest, `${e.name}: chunk ${k} digest`);
      if (c.chunkType === 'zeros')
        assert.ok(
          bytes.every((b) => b === 0),
          `${e.name}: chunk ${k} is zeros`,
        );
      at += bytes.length;
    });
    assert.equal(at, e.size, `${e.name}: chunks cover the file`);
  }

  // tar-split + contents = the tar
  const parts: Buffer[] = [];
  let pos = 0;
  for (const line of split.toString('utf8').split('\n').filter(Boolean)) {
    const t = JSON.parse(line) as { type: number; name?: string; size?: number; payload: string | null; position: number };
    assert.equal(t.position, pos++, 'positions count up');
    if (t.type === 2) parts.push(Buffer.from(t.payload!, 'base64'));
    else {
      const data = t.size ? contents.get(t.name!) : undefined;
      if (t.size && entries.find((e) => e.name === t.name)?.type === 'reg') {
        assert.ok(data, `${t.name}: in the TOC`);
        parts.push(data);
        if (opts.crc !== false) assert.equal(t.payload, crc64(data).toString('base64'), `${t.name}: tar-split crc64`);
      }
    }
  }
  assert.ok(Buffer.concat(parts).equals(tar), 'tar-split and the files give the tar back');
  return entries;
}
