/**
 * Running a sync: every image of a source listing copied to its destination name, several at once,
 * through one BlobStore and one WorkerPool (a layer shared by twenty tags is fetched once) and, to a
 * registry, one BlobLedger (it is checked, mounted or uploaded once per destination repository),
 * skipping images the destination already holds.
 *
 * Skipping: the source's manifest digest (one HEAD for a registry) is compared with the destination's
 * (one HEAD; for dir: and oci:, what is on disk, blobs included). When the copy changes the manifest
 * (--format, the instance of an index chosen for this platform, oci:'s OCI-only manifests), the
 * digest the last copy of that source manifest wrote, with the same options, is what is compared:
 * the store remembers it as a ref named `sync:<options>:<source digest>`. So a re-run after an
 * interruption copies only what is missing, and a repeated mirror run costs two HEADs per image.
 */
import { createHash } from 'node:crypto';
import { join, posix } from 'node:path';
import { OcikitError, isOcikitError, type ErrorCode } from '../errors.js';
import type { Digest } from '../digest/index.js';
import { isReferrersTag } from '../manifest/index.js';
import { copyImage, type CopyOptions, type ManifestSigner } from '../copy/index.js';
import { parseImageName } from '../transports/index.js';
import { MemoryBlobLedger } from '../transports/blob-ledger.js';
import type { ImageReference, SystemContext, TransportOptions } from '../transports/types.js';
import type { StoreHandle } from '../store/index.js';
import type { WorkerPool } from '../pool/index.js';
import type { ListFailure, SourceImage } from './sources.js';
import { sharingFetches, type FetchesInFlight } from './shared-fetch.js';

/** The kinds of sync destination (--dest). */
export type SyncDestKind = 'docker' | 'dir' | 'oci';

/** How an image fared. `gone`: the registry listed the tag but no longer has it. */
export type ImageStatus = 'copied' | 'skipped' | 'failed' | 'gone' | 'would-copy' | 'would-skip';

/** One line of the report. */
export interface ImageResult {
  source: string;
  destination: string;
  status: ImageStatus;
  /** The manifest digest at the destination (copied or skipped). */
  digest?: Digest;
  bytesRead?: number;
  bytesWritten?: number;
  seconds?: number;
  error?: { code: string; message: string };
}

/** The whole sync's report (`--json`). */
export interface SyncReport {
  images: ImageResult[];
  sources: number;
  copied: number;
  skipped: number;
  failed: number;
  gone: number;
  bytesRead: number;
  bytesWritten: number;
  seconds: number;
}

export interface SyncOptions {
  /** The store every copy goes through, and where the sync records what it did. */
  store: StoreHandle;
  pool: WorkerPool;
  destKind: SyncDestKind;
  /** DESTINATION: a registry namespace (docker), a directory (dir), a layout (oci). */
  destination: string;
  destCtx: TransportOptions;
  /** --scoped: the destination name keeps the whole source name (registry and path). */
  scoped?: boolean;
  /** --append-suffix: added to every destination tag (or directory name). */
  appendSuffix?: string;
  /** What each image copy is given (format, multi-arch, blobs at once, ...). */
  copy?: Pick<CopyOptions, 'format' | 'multiArch' | 'platforms' | 'preserveDigests' | 'removeSignatures' | 'jobs' | 'compressFormat' | 'compressLevel' | 'referrers'>;
  /**
   * --sign-by and the like: the signer of each destination (its docker reference is the identity).
   * Images already at the destination are then copied again (a HEAD, then only the signatures are
   * written), so that each one gets its signature.
   */
  signerFor?: (dest: ImageReference) => ManifestSigner;
  /** Images copied at once (default 4). Requests per registry host stay bounded by lib/registry. */
  images?: number;
  dryRun?: boolean;
  keepGoing?: boolean;
  /** Called as each image is done, in completion order. */
  onImage?: (r: ImageResult, done: number, total: number) => void;
}

/** The destination reference of a source image, named as skopeo sync names it. */
export function destinationFor(img: SourceImage, o: Pick<SyncOptions, 'destKind' | 'destination' | 'scoped' | 'appendSuffix'>): ImageReference {
  const suffix = (o.scoped ? img.name : posix.basename(img.name)) + (o.appendSuffix ?? '');
  switch (o.destKind) {
    case 'docker':
      return parseImageName(`docker://${posix.join(o.destination.replace(/^docker:\/\//, ''), suffix)}`);
    case 'dir':
      return parseImageName(`dir:${join(o.destination, suffix)}`);
    case 'oci':
      // One layout; the name (REPO:TAG, or HOST/REPO:TAG with --scoped) is the image's ref.
      return parseImageName(`oci:${o.destination}:${suffix}`);
  }
}

/** The repository an image goes to (the layout or directory tree for oci: and dir:), for primers. */
function destinationRepository(img: SourceImage, o: SyncOptions): string {
  try {
    const ref = destinationFor(img, o);
    return ref.dockerReference ? ref.dockerReference.replace(/[:@][^/]*$/, '') : o.destination;
  } catch {
    return '';
  }
}

/** The key of the options that change what a copy writes: part of the store's record name. */
function optionsKey(o: SyncOptions, ctx: TransportOptions): string {
  const c = o.copy ?? {};
  const what = JSON.stringify([
    o.destKind,
    c.format ?? '',
    c.multiArch ?? 'system',
    (c.platforms ?? []).map((p) => [p.os, p.architecture, p.variant ?? '']),
    c.compressFormat ?? '',
    c.compressLevel ?? '',
    ctx.platform?.overrideOS ?? '',
    ctx.platform?.overrideArch ?? '',
    ctx.platform?.overrideVariant ?? '',
    o.destCtx.write?.destCompression ?? '',
  ]);
  return createHash('sha256').update(what).digest('hex').slice(0, 16);
}

function describe(err: unknown): { code: string; message: string } {
  return { code: isOcikitError(err) ? err.code : 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

/**
 * Sync `images` (from listSource) to the destination. Without keepGoing the first failure stops
 * new copies, lets running ones finish, and is thrown (after onImage reported it); with keepGoing
 * every image is tried and the report says which failed.
 */
export async function runSync(images: SourceImage[], listFailures: ListFailure[], sources: number, o: SyncOptions): Promise<SyncReport> {
  const started = process.hrtime.bigint();
  // With --referrers, a registry's referrers fallback tags (sha256-<hex>, an index of the
  // referrers of that manifest) travel with the images they describe: each copy writes the
  // destination's own. Synced as images too, they would race those updates.
  if (o.copy?.referrers) images = images.filter((img) => !(img.remote && isReferrersTag(img.name.slice(img.name.lastIndexOf(':') + 1))));
  images = distinctDestinations(images, o);
  const results: ImageResult[] = [];
  const total = images.length + listFailures.length;
  let done = 0;
  const report = (r: ImageResult): void => {
    results.push(r);
    o.onImage?.(r, ++done, total);
  };
  for (const f of listFailures) report({ source: f.source, destination: '', status: 'failed', error: describe(f.error) });

  let firstError: OcikitError | undefined;
  let next = 0;
  const inFlight: FetchesInFlight = new Map();
  // Every copy to a registry shares one ledger of the blobs the destination repositories hold: a
  // layer the tags share is checked, mounted or uploaded by one image while the others wait for
  // it, and then known without a request. So the images run side by side from the start.
  const ledger = o.destKind === 'docker' ? new MemoryBlobLedger() : undefined;
  if (ledger) o = { ...o, destCtx: { ...o.destCtx, write: { ...o.destCtx.write, blobLedger: ledger } } };
  // To dir: and oci: (no ledger), the first image of each destination goes alone: the layers its
  // images share then arrive there once, instead of several images writing them at the same time.
  const primers = new Map<string, Promise<unknown>>();
  const worker = async (): Promise<void> => {
    while (next < images.length && firstError === undefined) {
      const img = images[next++]!;
      const repo = destinationRepository(img, o);
      const primer = ledger ? undefined : primers.get(repo);
      let r: ImageResult;
      if (primer) {
        await primer;
        if (firstError !== undefined) break;
        r = await syncOne(img, o, inFlight);
      } else {
        const p = syncOne(img, o, inFlight);
        primers.set(repo, p);
        r = await p;
      }
      if (r.status === 'failed' && !o.keepGoing && firstError === undefined) {
        firstError = new OcikitError(r.error!.code as ErrorCode, `sync: copying ${r.source} to ${r.destination}: ${r.error!.message}`);
      }
      report(r);
    }
  };
  const n = Math.max(1, Math.min(o.images ?? 4, images.length));
  await Promise.all(Array.from({ length: n }, worker));
  if (firstError !== undefined) throw firstError;
  const sum = (k: 'bytesRead' | 'bytesWritten'): number => results.reduce((a, r) => a + (r[k] ?? 0), 0);
  const count = (s: ImageStatus): number => results.filter((r) => r.status === s).length;
  return {
    images: results,
    sources,
    copied: count('copied'),
    skipped: count('skipped') + count('would-skip'),
    failed: count('failed'),
    gone: count('gone'),
    bytesRead: sum('bytesRead'),
    bytesWritten: sum('bytesWritten'),
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

/**
 * The images, each source once, after checking that no two sources would be written to one
 * destination name (`a/debian:1` and `b/debian:1` without --scoped): E_USAGE naming both, before
 * anything is copied, where a sync would otherwise overwrite one with the other (or skip the
 * second as "already there").
 */
function distinctDestinations(images: SourceImage[], o: SyncOptions): SourceImage[] {
  const bySource = new Map<string, SourceImage>();
  for (const img of images) if (!bySource.has(img.ref.toString())) bySource.set(img.ref.toString(), img);
  const byDestination = new Map<string, string>();
  for (const [source, img] of bySource) {
    let dest: string;
    try {
      dest = destinationFor(img, o).toString();
    } catch {
      continue; // reported by the image's own copy
    }
    const other = byDestination.get(dest);
    if (other !== undefined) {
      throw new OcikitError('E_USAGE', `sync: ${other} and ${source} would both be written to ${dest}`, {
        hint: o.scoped ? 'give them distinct sync destinations' : "use --scoped to keep each source's registry and path in the destination name",
      });
    }
    byDestination.set(dest, source);
  }
  return [...bySource.values()];
}

/** One image: skip check, then the copy. Never throws: a failure is a result. */
async function syncOne(img: SourceImage, o: SyncOptions, inFlight: FetchesInFlight): Promise<ImageResult> {
  const started = process.hrtime.bigint();
  const source = img.ref.toString();
  let destRef: ImageReference;
  try {
    destRef = destinationFor(img, o);
  } catch (err) {
    return { source, destination: '', status: 'failed', error: describe(err) };
  }
  const destination = destRef.toString();
  const recordName = (d: Digest): string => `sync:${optionsKey(o, img.ctx)}:${d}`;
  try {
    // === skip check: one look at each side
    const srcCtx: SystemContext = { ...img.ctx, store: o.store };
    let srcDigest: Digest | undefined;
    let unreachable = false;
    try {
      srcDigest = img.ref.manifestDigest ? await img.ref.manifestDigest(srcCtx) : undefined;
    } catch (err) {
      // The name's own registry cannot be reached: the copy may still read the image from a
      // registries.conf mirror (a HEAD goes to the name, as tag lists do); it decides.
      if (!isOcikitError(err, 'E_NETWORK')) throw err;
      unreachable = true;
    }
    if (srcDigest === undefined && img.remote && !unreachable)
      return { source, destination, status: 'gone', error: { code: 'E_NOT_FOUND', message: 'the registry listed this tag but no longer has it' } };
    // With --referrers an image already there is copied again all the same (its blobs and
    // manifest are found with a HEAD each): referrers added since the last run must follow it.
    // With a signer too: each image must get its signature.
    if (srcDigest !== undefined && destRef.manifestDigest && !o.copy?.referrers && !o.signerFor) {
      const expected = o.store.get().getRef(recordName(srcDigest)) ?? srcDigest;
      const destDigest = await destRef.manifestDigest({ ...o.destCtx, store: o.store }).catch(() => undefined);
      if (destDigest === expected) return { source, destination, status: o.dryRun ? 'would-skip' : 'skipped', digest: destDigest };
    }
    if (o.dryRun) return { source, destination, status: 'would-copy' };

    // === the copy
    // To a registry, a download is relayed into the upload as it arrives (lib/copy/blob.ts), which
    // sharing would undo (it fetches a blob whole into the store first); tags of one repository
    // still fetch a shared layer once: the ledger lets one image move it while the others wait
    // and then know it is there. To dir: and oci:, images fetched at once share each download.
    const from = o.destKind === 'docker' ? img.ref : sharingFetches(img.ref, o.store, inFlight);
    const sign = o.signerFor?.(destRef);
    const res = await copyImage(from, destRef, { ...(o.copy ?? {}), ...(sign ? { sign } : {}), store: o.store, pool: o.pool, sourceCtx: img.ctx, destCtx: o.destCtx });
    // Keyed by the digest the copy actually read (the tag may have moved since the HEAD). Recorded
    // even when the copy found its result already there: the next run then skips it at once.
    o.store.get().setRef(recordName(res.sourceDigest), res.manifestDigest);
    return {
      source,
      destination,
      status: 'copied',
      digest: res.manifestDigest,
      bytesRead: res.bytesRead,
      bytesWritten: res.bytesWritten,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    };
  } catch (err) {
    return { source, destination, status: 'failed', error: describe(err) };
  }
}
