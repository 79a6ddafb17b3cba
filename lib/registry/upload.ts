/**
 * Blob uploads (distribution-spec "Pushing blobs"):
 *   monolithic  POST …/blobs/uploads/ → 202 Location;  PUT Location?digest=D with the whole blob
 *   chunked     POST → 202; PATCH Location (Content-Range a-b) per chunk → 202 new Location; PUT ?digest=D, empty
 *
 * Monolithic is one request and what every registry here takes; a registry that refuses it (405,
 * 413 and the like) gets the chunked form, with chunks no smaller than its OCI-Chunk-Min-Length.
 * A file input is re-read for each attempt: an upload broken by a reset or a 5xx is abandoned and
 * started over in a fresh session (a session's state after a broken PUT is unknowable), up to
 * --retry-times. A stream input can be sent once and is verified on the way.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { OcikitError } from '../errors.js';
import { VerifyingStream, algorithmOf, isDigest, shortDigest, type Digest } from '../digest/index.js';
import { NotReplayableError, dump, header } from './client.js';
import { RegistryError } from './errors.js';
import { hostSemaphore } from './limiter.js';
import type { Repository, UploadSession } from './repository.js';
import { GiveUp, withRetries } from './retry.js';

/** Chunk size of the fallback chunked upload when none is configured. */
export const DEFAULT_CHUNK_SIZE = 32 * 1024 * 1024;

/** Read size and buffering of each stage of an upload's body (six run at once): see limiter.ts. */
const BODY_BUFFER = 256 * 1024;

/** How to upload one blob. */
export interface UploadOptions {
  /** Upload in chunks of this many bytes instead of one PUT. */
  chunkSize?: number;
  /** A session already opened for this blob (a mount the registry turned into an upload). */
  session?: UploadSession;
  /** Called with the byte count of every chunk read for sending (progress). */
  onBytes?: (n: number) => void;
}

/**
 * What to upload: a file (re-readable, so retried) or a stream (sent once). A file with `verify`
 * has not been hashed by anyone yet: its bytes are checked against the digest as they are sent
 * (one read for both), and the upload fails with E_DIGEST_MISMATCH / E_SIZE_MISMATCH before the
 * registry is asked to commit anything that differs. (The registry checks the digest too.) A
 * stream is checked the same way unless `verify` is false: its caller checks the same bytes
 * itself; its size is still enforced (Content-Length), and the registry still checks the digest.
 */
export type UploadInput = { kind: 'path'; path: string; verify?: boolean } | { kind: 'stream'; stream: Readable; verify?: boolean };

// Answers that mean "not like that" to a monolithic PUT, as opposed to "not this content" or "not you".
const MONOLITHIC_REFUSED = new Set([400, 404, 405, 411, 413, 416, 501]);

function withDigest(location: string, digest: Digest): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.toString();
}

/**
 * Upload one blob into `repo`. Resolves when the registry has committed it under `digest`.
 * MUST leave no half-written blob: a failed upload's session is cancelled (and the registry never
 * links a blob whose digest did not verify). Holds one of the host's upload slots (limiter.ts),
 * never a download slot: a stream input's download holds its own.
 */
export async function uploadBlob(repo: Repository, input: UploadInput, info: { digest: Digest; size: number }, opts: UploadOptions = {}): Promise<void> {
  const what = `pushing blob ${shortDigest(info.digest)} to docker://${repo.name}`;
  const release = await hostSemaphore(repo.client.host, 'upload').acquire();
  try {
    if (input.kind === 'stream') {
      const session = opts.session ?? (await repo.startUpload());
      try {
        const v = input.verify === false ? undefined : new VerifyingStream({ digest: info.digest, size: info.size, what }, BODY_BUFFER);
        if (v) input.stream.on('error', (err) => v.destroy(err));
        let used = false;
        await putWhole(
          repo,
          session.location,
          info,
          what,
          () => {
            if (used) throw new NotReplayableError();
            used = true;
            return v ? input.stream.pipe(v) : input.stream;
          },
          info.size,
        );
      } catch (err) {
        await repo.cancelUpload(session.location);
        throw err;
      }
      return;
    }

    await uploadFile(repo, input.path, input.verify === true, info, opts, what);
  } finally {
    release();
  }
}

/** A file upload: monolithic, chunked when refused or asked, restarted in a new session on retryable failures. */
async function uploadFile(repo: Repository, path: string, verify: boolean, info: { digest: Digest; size: number }, opts: UploadOptions, what: string): Promise<void> {
  const size = (await fsp.stat(path)).size;
  if (verify && info.size >= 0 && size !== info.size) throw new OcikitError('E_SIZE_MISMATCH', `${what}: the file has ${size} bytes, expected ${info.size}`);
  // Each attempt opens the file afresh; a request that fails before reading it must not leak the descriptor.
  const opened: Readable[] = [];
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  let chunked = opts.chunkSize !== undefined;
  // Verifying a chunked upload: one hash per attempt, fed the chunks in the order they are sent
  // (each once). A monolithic one is verified by the VerifyingStream its body goes through.
  let hash: Hash | undefined;
  const open = (start?: number, end?: number): Readable => {
    const r = createReadStream(path, start === undefined ? { highWaterMark: BODY_BUFFER } : { start, end, highWaterMark: BODY_BUFFER });
    opened.push(r);
    const hashing = verify && chunked;
    if (!hashing && !opts.onBytes) return r;
    if (hashing && (start === undefined || start === 0)) hash = createHash(algorithmOf(info.digest));
    const h = hashing ? hash : undefined;
    const tap = new Transform({
      highWaterMark: BODY_BUFFER,
      transform(chunk: Buffer, _e, cb): void {
        h?.update(chunk);
        opts.onBytes?.(chunk.length);
        cb(null, chunk);
      },
    });
    r.on('error', (err) => tap.destroy(err));
    opened.push(tap);
    return r.pipe(tap);
  };
  /** Throws unless the bytes sent in this attempt hash to the digest; run before asking the registry to commit. */
  const check = (): void => {
    if (!verify) return;
    const got = `${algorithmOf(info.digest)}:${hash?.digest('hex') ?? ''}`;
    if (got !== info.digest) throw new OcikitError('E_DIGEST_MISMATCH', `${what}: content has digest ${got}, expected ${info.digest}`);
  };
  let session = opts.session;
  try {
    // Each try in a fresh session: the state of one broken mid-body is unknowable.
    await withRetries(repo.client.retryPolicy, what, async () => {
      if (session === undefined) {
        try {
          session = await repo.startUpload();
        } catch (err) {
          // startUpload went through send()'s retries already.
          throw new GiveUp(err);
        }
      }
      const s = session;
      try {
        if (chunked) {
          await putChunked(repo, s, open, size, info, what, chunkSize, check);
        } else {
          try {
            // One PUT: the digest is in the URL, so the check runs on the way (VerifyingStream) instead.
            await putWhole(repo, s.location, info, what, () => (verify ? open().pipe(verifier(info, what)) : open()), size);
          } catch (err) {
            if (!(err instanceof RegistryError) || err.status === undefined || !MONOLITHIC_REFUSED.has(err.status) || err.registryCode === 'DIGEST_INVALID') throw err;
            // The registry does not take a blob in one PUT: start over in chunks.
            await repo.cancelUpload(s.location);
            chunked = true;
            session = await repo.startUpload();
            await putChunked(repo, session, open, size, info, what, chunkSize, check);
          }
        }
      } catch (err) {
        await repo.cancelUpload(session.location);
        session = undefined;
        throw err;
      }
    });
  } finally {
    for (const r of opened) r.destroy();
  }
}

async function putWhole(repo: Repository, location: string, info: { digest: Digest; size: number }, what: string, body: () => Readable, size: number): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  // undici sends Content-Length only when told; without it the body goes chunked, which some registries refuse.
  if (size >= 0) headers['content-length'] = String(size);
  const res = await repo.send({ method: 'PUT', path: withDigest(location, info.digest), headers, body, what, ok: [201, 204, 200], retry: false });
  await dump(res.body);
  checkCommitted(res.headers, info.digest, what);
}

async function putChunked(
  repo: Repository,
  session: UploadSession,
  open: (start: number, end: number) => Readable,
  size: number,
  info: { digest: Digest; size: number },
  what: string,
  chunkSize: number,
  beforeCommit: () => void,
): Promise<void> {
  const step = Math.max(chunkSize, session.minChunk, 1);
  let location = session.location;
  for (let start = 0; start < size; start += step) {
    const end = Math.min(size, start + step) - 1;
    const res = await repo.send({
      method: 'PATCH',
      path: location,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end}`, 'content-length': String(end - start + 1) },
      body: () => open(start, end),
      what: `${what} (bytes ${start}-${end})`,
      ok: [202, 204],
      retry: false,
    });
    await dump(res.body);
    const loc = header(res.headers, 'location');
    if (loc) location = new URL(loc, res.url).toString();
  }
  beforeCommit();
  const res = await repo.send({ method: 'PUT', path: withDigest(location, info.digest), headers: { 'content-length': '0' }, what, ok: [201, 204, 200], retry: false });
  await dump(res.body);
  checkCommitted(res.headers, info.digest, what);
}

/** A VerifyingStream for a whole-blob body; its failure fails the request before the registry commits. */
function verifier(info: { digest: Digest; size: number }, what: string): VerifyingStream {
  return new VerifyingStream({ digest: info.digest, size: info.size, what }, BODY_BUFFER);
}

function checkCommitted(headers: Record<string, string | string[] | undefined>, digest: Digest, what: string): void {
  const got = header(headers, 'docker-content-digest');
  if (got && isDigest(got) && got !== digest) throw new OcikitError('E_DIGEST_MISMATCH', `${what}: the registry committed it as ${got}`);
}
