/** The hash job: sha256 of a file, read in 1 MiB chunks (node:crypto's fastest size here). */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { HashJob, HashResult } from './protocol.js';

/** sha256 of the file `job.src`. Throws on I/O errors; the entry point turns them into replies. */
export async function hash(job: HashJob): Promise<HashResult> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(job.src, { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${h.digest('hex')}`, size };
}
