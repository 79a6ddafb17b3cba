/** Reading a BlobPayload as a stream, whichever form a source handed it over in. */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { BlobPayload } from './types.js';

/**
 * The payload's bytes as a stream: the stream itself, the whole file, or the region
 * [offset, offset+size) of the file — read through the source's descriptor when it gave one (the
 * descriptor stays the source's: it is not closed here).
 */
export function payloadStream(p: BlobPayload): Readable {
  if (p.kind === 'stream') return p.stream;
  if (p.offset === undefined) return createReadStream(p.path, { highWaterMark: 1 << 20 });
  const range = { start: p.offset, end: p.offset + p.size - 1, highWaterMark: 1 << 20 };
  if (p.size === 0) return createReadStream('/dev/null');
  return p.fd !== undefined ? createReadStream('', { ...range, fd: p.fd, autoClose: false }) : createReadStream(p.path, range);
}
