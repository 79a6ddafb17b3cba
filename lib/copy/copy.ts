/**
 * copyImage: the pipeline every copy goes through. The stages are numbered as in docs/ARCHITECTURE.md:
 *   1 resolve the manifest (choose instances of an index)           this file, multiple.ts
 *   2 choose the target manifest type (destination support, --format) manifest-type.ts
 *   3 plan every blob (keep / decompress / compress)                  single.ts, plan.ts
 *   4 run blob jobs, largest first, N at a time                        single.ts, blob.ts
 *   5 write config, then manifest(s), then commit (atomic)             single.ts, this file
 * and, with `referrers`, 1c find the OCI 1.1 referrers and 5a copy them as they are (referrers.ts);
 * then 5c, record in the store what the copy did (not when it found its result already there).
 * The store is opened only by what needs it (README.md: the store).
 *
 * This module never branches on a transport's name: it reads declared properties only.
 * Every byte taken from a source is verified against its digest before anything is recorded or
 * made visible (blob.ts: WHO VERIFIES).
 */
import { promises as fsp } from 'node:fs';
import { OcikitError, isOcikitError, wrapError } from '../errors.js';
import { digestBytes, type Digest } from '../digest/index.js';
import { parseManifest } from '../manifest/index.js';
import { WorkerPool } from '../pool/index.js';
import { LeasedStore } from '../store/index.js';
import type { ImageDestination, ImageReference, ImageSource } from '../transports/types.js';
import { BlobCopier, type Counters } from './blob.js';
import { copyIndex, selectInstances } from './multiple.js';
import type { CopyOptions, CopyResult } from './options.js';
import { plainLayerPlan } from './plan.js';
import { ProgressTracker } from './progress.js';
import { copyReferrers, findReferrers, type FoundReferrer } from './referrers.js';
import { copySingle, desireOf, keepManifest, type ImageCopyContext } from './single.js';

/** Copy the image named by `srcRef` to `destRef`, through the store. */
export async function copyImage(srcRef: ImageReference, destRef: ImageReference, opts: CopyOptions): Promise<CopyResult> {
  const started = process.hrtime.bigint();
  // Both sides' transports and every stage get this one handle: the store opens when something
  // first needs it, and this copy's lease is taken then (a copy that never needs it opens nothing).
  const store = new LeasedStore(opts.store);
  const counters: Counters = { bytesRead: 0, bytesWritten: 0, blobsReused: 0, blobsCopied: 0 };
  let readAtOpen = 0;
  const tracker = new ProgressTracker(opts.onProgress);
  let source: ImageSource | undefined;
  let dest: ImageDestination | undefined;
  // The one pool of this copy: the caller's, or ours (closed below).
  const ownPool = opts.pool ? undefined : new WorkerPool(opts.jobs ? { threads: opts.jobs } : {});
  const pool = opts.pool ?? ownPool!;
  try {
    // The destination opens first (nothing is visible there before commit): what it wants done to
    // plain layers is then known when the source opens, and a source that reads an export at open
    // can compress its layers as they arrive (SystemContext.write.compressLayers).
    dest = await destRef.newDestination({ ...opts.destCtx, store });
    const plain = plainLayerPlan(desireOf(dest, opts), { ...(opts.compressFormat ? { format: opts.compressFormat } : {}), ...(opts.compressLevel !== undefined ? { level: opts.compressLevel } : {}) });
    const compressLayers = plain.action === 'compress' ? { compressLayers: { format: plain.format, level: plain.level, exact: opts.compressLevel !== undefined, pool } } : {};
    // What a source reads at open (an export, an archive from a pipe): see CopyResult.bytesRead.
    const callerOnRead = opts.sourceCtx?.events?.onRead;
    const onRead = (bytes: number): void => {
      readAtOpen += bytes;
      if (opts.onProgress) tracker.emit({ type: 'read', bytes });
      callerOnRead?.(bytes);
    };
    const sourceCtx = opts.sourceCtx;
    source = await srcRef.newSource({ ...sourceCtx, store, write: { ...sourceCtx?.write, ...compressLayers }, events: { ...sourceCtx?.events, onRead } });
    const ctx: ImageCopyContext = {
      source,
      dest,
      store,
      manifests: new Map(),
      opts,
      tracker,
      label: srcRef.toString(),
      blobs: new BlobCopier({ source, dest, store, pool, tracker, counters, label: srcRef.toString() }),
    };

    // === 1. resolve the manifest
    const top = await source.getManifest();
    const parsed = parseManifest(top.bytes, top.mediaType || undefined, `reading manifest of ${srcRef}`);
    const sourceDigest = digestBytes(top.bytes);
    keepManifest(ctx, top.bytes, `manifest of ${srcRef}`, sourceDigest);

    // === 1b. SIGNATURE HOOK: trust policy, before any blob moves (lib/signature)
    if (opts.sign && !dest.putSignatures) {
      throw new OcikitError('E_UNSUPPORTED', `${destRef} cannot store signatures, so the copy cannot be signed`, { hint: 'sign a copy to dir: or docker://' });
    }
    if (opts.policy) {
      let images: Array<{ digest: Digest; instance?: Digest }> = [{ digest: sourceDigest }];
      if (parsed.kind === 'oci-index' || parsed.kind === 'docker-list') {
        const sel = selectInstances(ctx, parsed);
        const ds = sel.system ? [sel.system] : sel.chosen;
        if (ds.length > 0) images = ds.map((d) => ({ digest: d.digest, instance: d.digest }));
      }
      await opts.policy.check(source, images);
    }

    // === 1c. REFERRERS HOOK (referrers.ts): found before any blob moves
    let found: FoundReferrer[] | undefined;
    if (opts.referrers) found = await findReferrers(ctx, subjectsOf(ctx, parsed, sourceDigest), opts.referrers === true ? {} : opts.referrers);

    const written = parsed.kind === 'oci-index' || parsed.kind === 'docker-list' ? await copyIndex(ctx, parsed) : await copySingle(ctx, parsed, undefined, true);

    // === 5a. REFERRERS HOOK: after the image's manifests, before commit (which orders what appears)
    if (found) await copyReferrers(ctx, found, written);

    // === 5b. commit
    await dest.commit();
    tracker.emit({ type: 'committed', digest: written.digest });

    // === 5c. record in the store what the copy did: the manifests it read and wrote, and a ref for
    // each side. Not when the destination already showed the result (a push again): the copy moved
    // nothing, and the store is not opened just to say so (README.md: "The store: opened when
    // needed, written when something moved").
    if (!written.alreadyThere) {
      for (const [digest, m] of ctx.manifests) await store.get().put(m.bytes, { digest, what: m.what });
      store.get().setRef(destRef.toString(), written.digest);
      store.get().setRef(srcRef.toString(), sourceDigest);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const referrers = found?.map((f) => ({ digest: f.descriptor.digest, subject: f.subject, ...(f.descriptor.artifactType !== undefined ? { artifactType: f.descriptor.artifactType } : {}) }));
    return {
      manifestDigest: written.digest,
      mediaType: written.mediaType,
      sourceDigest,
      ...counters,
      bytesRead: Math.max(counters.bytesRead, readAtOpen),
      seconds,
      ...(referrers ? { referrers } : {}),
    };
  } catch (err) {
    // Our errors already say what was being done and to which image; only foreign ones need context.
    if (isOcikitError(err)) throw err;
    throw wrapError(err, `copying ${srcRef} to ${destRef}`);
  } finally {
    tracker.close();
    await dest?.close().catch(() => undefined);
    await source?.close().catch(() => undefined);
    await ownPool?.close().catch(() => undefined);
    store.release();
  }
}

/**
 * The manifests whose referrers --referrers looks for: those the copy takes from the source as they
 * are — the single image; from an index, the instance for this system, or the index and its chosen
 * instances. (Whether each then arrives unchanged is checked at stage 5a.)
 */
function subjectsOf(c: ImageCopyContext, parsed: ReturnType<typeof parseManifest>, topDigest: Digest): Digest[] {
  if (parsed.kind !== 'oci-index' && parsed.kind !== 'docker-list') return [topDigest];
  const sel = selectInstances(c, parsed);
  if (sel.system) return [sel.system.digest];
  return [topDigest, ...sel.chosen.map((d) => d.digest)];
}

/** Write the manifest digest to a file (--digestfile). */
export async function writeDigestFile(path: string, digest: Digest): Promise<void> {
  await fsp.writeFile(path, digest).catch((err) => {
    throw wrapError(err, `writing --digestfile ${path}`);
  });
}
