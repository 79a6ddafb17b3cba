/**
 * Copying one image (a top-level manifest or one instance of an index): stages 2 to 5.
 *
 * The config is checked (valid JSON, one diff ID per layer), and its diff IDs are what decompressed
 * layers are checked against in the same pass that decompresses them: a layer that needs them waits
 * for it; the others run beside it. The layers run largest first, a few at a time; then the
 * manifest is written.
 */
import { OcikitError } from '../errors.js';
import { digestBytes, shortDigest, type Digest } from '../digest/index.js';
import {
  MAX_CONFIG_SIZE,
  OCI_MANIFEST,
  convertManifest,
  artifactTypeOf,
  isArtifactManifest,
  isImageConfigMediaType,
  isNondistributableLayer,
  isZstdChunked,
  layerCompression,
  layerMediaTypeFor,
  parseConfig,
  replaceFormatAnnotations,
  updateLayers,
  type Descriptor,
  type ManifestFamily,
  type ManifestFormat,
  type ParsedImageManifest,
} from '../manifest/index.js';
import type { StoreHandle } from '../store/index.js';
import type { BlobInfo, DesiredCompression, ImageDestination, ImageSource } from '../transports/types.js';
import type { BlobCopier, BlobOutcome, BlobTask } from './blob.js';
import type { CopyOptions } from './options.js';
import { DEFAULT_BLOB_JOBS, runLimited } from './limit.js';
import { chooseManifestType } from './manifest-type.js';
import { ENCRYPTED_SUFFIX, isEncryptedMediaType } from '../ocicrypt/options.js';
import { compressionAfter, effectiveDesire, planLayer } from './plan.js';
import type { ProgressTracker } from './progress.js';

/** What the stages of one copy share. */
export interface ImageCopyContext {
  source: ImageSource;
  dest: ImageDestination;
  /** Opened when the copy first needs it (copy.ts says when that is). */
  store: StoreHandle;
  /**
   * The manifests this copy read (each verified) or wrote, by digest, kept in the store only when
   * the copy records what it did (copy.ts, stage 5c): see keepManifest.
   */
  manifests: Map<Digest, { bytes: Buffer; what: string }>;
  opts: CopyOptions;
  tracker: ProgressTracker;
  blobs: BlobCopier;
  /** The source, for messages. */
  label: string;
}

/** A manifest as written: its digest, type and bytes. */
export interface Written {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
  /** The destination already showed it where commit() puts it (alreadyAtDestination): nothing was copied. */
  alreadyThere: boolean;
}

/**
 * Note a manifest this copy read (verified) or wrote, for the store to keep when the copy records
 * what it did (copy.ts, stage 5c) — not now: a copy that finds its result already at the
 * destination moves nothing through the store and records nothing in it.
 */
export function keepManifest(c: Pick<ImageCopyContext, 'manifests'>, bytes: Buffer, what: string, digest: Digest = digestBytes(bytes)): void {
  if (!c.manifests.has(digest)) c.manifests.set(digest, { bytes, what });
}

/** An image planned (stages 2 and 3): the manifest type it gets and how each blob gets there. */
export interface PlannedImage {
  parsed: ParsedImageManifest;
  targetType: string;
  family: ManifestFamily;
  /** An OCI artifact: every blob kept as it is, nothing read from its config. */
  artifact: boolean;
  config: BlobTask;
  layers: BlobTask[];
  /**
   * The manifest the copy will write, known before any blob moves because no blob changes on the
   * way (every plan keeps it as it is); undefined otherwise.
   */
  predicted?: Buffer;
}

/** Stages 2 and 3 for one image: nothing moves, nothing is read. An impossible plan fails here. */
export function planImage(c: ImageCopyContext, parsed: ParsedImageManifest, forced: ManifestFormat | undefined): PlannedImage {
  const { dest, opts } = c;
  // === ENCRYPTION HOOK: which layers get encrypted; encrypted layers (new, or kept so) need OCI
  const encryptAt = encryptedIndices(c, parsed.value.layers.length);
  const staysEncrypted = parsed.value.layers.some((l) => isEncryptedMediaType(l.mediaType)) && !opts.decryption;
  let format = forced ?? opts.format;
  if (encryptAt.size > 0 || staysEncrypted) {
    if (format === 'v2s2') throw new OcikitError('E_UNSUPPORTED', `${c.label}: encrypted layers need an OCI manifest; Docker v2s2 cannot describe them`, { hint: 'drop --format v2s2' });
    format = 'oci';
  }
  // === 2. choose the target manifest type
  const targetType = chooseManifestType(parsed.mediaType, dest.properties.supportedManifestTypes, format, String(dest.reference), dest.properties.alsoHolds, opts.preserveDigests);
  const family: ManifestFamily = targetType === OCI_MANIFEST ? 'oci' : 'docker';

  // === 3. plan blobs (layers planned before anything moves: an impossible plan fails first)
  const m = parsed.value;
  const config = m.config;
  const layerDescs = m.layers;
  const desired = desireOf(dest, opts);
  // === ARTIFACT HOOK (lib/manifest/referrers.ts): an OCI artifact (artifactType, or a config that
  // is not an image config) has opaque blobs of any media type: each is kept exactly as it is, so
  // its manifest (and digest) arrives unchanged, or fails to convert with a clear error.
  const artifact = isArtifactManifest(parsed);
  if (artifact && targetType !== parsed.mediaType) {
    throw new OcikitError(
      'E_UNSUPPORTED',
      `${c.label} is an artifact (type ${artifactTypeOf(parsed)}), which is copied only as it is, as ${parsed.mediaType}; ${dest.reference} would need ${targetType}`,
      {
        hint: 'drop --format, or copy to a destination that takes OCI manifests (oci:, docker://, dir:)',
      },
    );
  }
  const layers: BlobTask[] = layerDescs.map((l, i) => {
    if (artifact) return { info: descToInfo(l), label: `blob ${i}`, from: 'none', plan: { action: 'keep' }, exactLevel: false, foreign: false };
    const encrypted = isEncryptedMediaType(l.mediaType);
    const from = layerCompression(encrypted ? l.mediaType.slice(0, -ENCRYPTED_SUFFIX.length) : l.mediaType);
    if (from === undefined) throw new OcikitError('E_UNSUPPORTED', `${c.label}: layer ${i} has unknown media type ${JSON.stringify(l.mediaType)}`);
    // An encrypted layer without a key to open it goes as it is; with one, it is planned as what is inside.
    if (encrypted && !opts.decryption) return { info: descToInfo(l), label: `layer ${i}`, from, plan: { action: 'keep' }, exactLevel: false, foreign: false, encryptedSource: true };
    const plan = planLayer({
      from,
      chunked: isZstdChunked(l.annotations),
      family,
      desired,
      ...(opts.compressFormat ? { format: opts.compressFormat } : {}),
      ...(opts.compressLevel !== undefined ? { level: opts.compressLevel } : {}),
    });
    const task: BlobTask = {
      info: descToInfo(l),
      label: `layer ${i}`,
      from,
      plan,
      exactLevel: opts.compressLevel !== undefined,
      foreign: isNondistributableLayer(l.mediaType) && (l.urls?.length ?? 0) > 0,
    };
    if (encrypted) task.encryptedSource = task.decrypt = true;
    else if (encryptAt.has(i)) task.encrypt = true;
    return task;
  });
  const configTask: BlobTask = { info: descToInfo(config), label: 'config', from: 'none', plan: { action: 'keep' }, exactLevel: false, foreign: false };
  const planned: PlannedImage = { parsed, targetType, family, artifact, config: configTask, layers };
  // Every blob kept: stage 5 below only converts the manifest's type (if at all), so its bytes are known now.
  if (layers.every((t) => t.plan.action === 'keep' && !t.encrypt && !t.decrypt))
    planned.predicted = Buffer.from(parsed.mediaType === targetType ? parsed.bytes : convertManifest(parsed, family === 'oci' ? 'oci' : 'v2s2').bytes);
  return planned;
}

/**
 * Whether the destination already shows the manifest a planned top-level image would write, where
 * commit() would put it (one HEAD at a registry): then no blob needs copying (destination.hasManifest).
 */
export async function alreadyAtDestination(c: ImageCopyContext, predicted: Buffer | undefined): Promise<boolean> {
  if (!predicted || !c.dest.hasManifest) return false;
  return c.dest.hasManifest(digestBytes(predicted));
}

/**
 * Copy one image: its config and layers, then its manifest (top-level or an index instance).
 * `there`: the destination already shows the manifest this copy writes (alreadyAtDestination), so
 * its blobs are there: none is copied, and an instance manifest is not written again.
 */
export async function copySingle(c: ImageCopyContext, parsed: ParsedImageManifest, forced: ManifestFormat | undefined, topLevel: boolean, srcInstance?: Digest): Promise<Written> {
  const p = planImage(c, parsed, forced);
  // === 3b. already there? A top-level manifest the destination shows needs no blob (one HEAD).
  const there = topLevel && (await alreadyAtDestination(c, p.predicted));
  return copyPlanned(c, p, topLevel, there, srcInstance);
}

/** Tell progress what a planned image will copy: its blobs, their size at the source, its config. */
export function announceImage(c: ImageCopyContext, p: PlannedImage): void {
  const config = p.parsed.value.config;
  c.tracker.emit({ type: 'image', blobs: p.layers.length + 1, bytes: Math.max(0, config.size) + p.layers.reduce((a, t) => a + Math.max(0, t.info.size), 0), config: config.digest });
}

/** Stages 4 and 5 of a planned image (see copySingle); `announced`: announceImage was called for it already. */
export async function copyPlanned(c: ImageCopyContext, p: PlannedImage, topLevel: boolean, there: boolean, srcInstance?: Digest, announced = false): Promise<Written> {
  const { dest, opts } = c;
  const { parsed, targetType, family, artifact, layers: tasks } = p;
  const config = p.parsed.value.config;
  const outcomes = new Map<BlobTask, BlobOutcome>();
  if (!announced) announceImage(c, p);
  if (there) {
    for (const t of [p.config, ...tasks]) outcomes.set(t, c.blobs.alreadyThere(t));
  } else {
    await checkForeignLayers(c, tasks);

    // === 4a. the config, checked: its diff IDs are what decompressed layers must hash to. When no
    // layer needs them (every layer kept as it is, none uncompressed), a destination that has the
    // config or can mount it takes it without a byte read (then it is not checked here either).
    // It runs beside the layers: only a layer that needs its diff IDs waits for it, so a registry
    // gets the config's and the layers' checks, mounts and uploads at once, not one after another.
    const configTask = p.config;
    // (An encrypted layer's digest is of its ciphertext: never a diff ID.)
    const needsDiffID = (t: BlobTask): boolean => t.plan.action !== 'keep' || (t.from === 'none' && !t.encryptedSource);
    let configOk!: () => void;
    let configFailed!: (err: unknown) => void;
    const configDone = new Promise<void>((resolve, reject) => ((configOk = resolve), (configFailed = reject)));
    configDone.catch(() => undefined); // observed by runLimited through copyConfig's own throw
    const copyConfig = async (): Promise<void> => {
      // An artifact's config is one more opaque blob: no size cap, nothing read from it.
      if (artifact) {
        await c.blobs.copy(configTask);
        return;
      }
      const cfg = await c.blobs.copyConfig(configTask, MAX_CONFIG_SIZE, tasks.some(needsDiffID));
      if (!cfg.bytes || !isImageConfigMediaType(config.mediaType)) return;
      const what = `config ${shortDigest(config.digest)} of ${c.label}`;
      let diffIDs: Digest[];
      try {
        diffIDs = parseConfig(cfg.bytes).rootfs?.diff_ids ?? [];
      } catch (err) {
        throw new OcikitError('E_BAD_INPUT', `${what}: ${(err as Error).message}`, { cause: err });
      }
      if (diffIDs.length !== tasks.length) {
        throw new OcikitError('E_BAD_INPUT', `${what}: it lists ${diffIDs.length} diff IDs (rootfs.diff_ids) for ${tasks.length} layers`);
      }
      tasks.forEach((t, i) => {
        t.diffID = diffIDs[i]!;
        // An uncompressed layer's digest IS its diff ID: checked here, for free.
        if (t.from === 'none' && !t.encryptedSource && t.info.digest !== t.diffID) {
          throw new OcikitError('E_DIGEST_MISMATCH', `${c.label}: layer ${i} is uncompressed with digest ${t.info.digest}, but the config's diff ID is ${t.diffID}`);
        }
      });
    };

    // === 4b. the config, then the layers largest first, N at a time (--image-parallel-copies / --jobs,
    // and the transports' bounds), in one queue: the config starts first and takes one of the N.
    // DEFAULT_BLOB_JOBS at once unless told otherwise (limit.ts says why).
    const n = Math.max(1, Math.min(c.source.properties.concurrentGetBlob, dest.properties.concurrentPutBlob, opts.jobs ?? DEFAULT_BLOB_JOBS));
    const order = [configTask, ...[...tasks].sort((a, b) => b.info.size - a.info.size)];
    await runLimited(order, n, async (t) => {
      if (t === configTask) {
        try {
          await copyConfig();
        } catch (err) {
          configFailed(err);
          throw err;
        }
        configOk();
        return;
      }
      if (needsDiffID(t)) await configDone;
      outcomes.set(t, await c.blobs.copy(t));
    });
  }

  // === 5. write the manifest (blobs are all in place). New layers get their media types in the
  // OCI family, which has one for every compression (Docker v2s2 has no zstd, and a v2s2 source's
  // zstd layer can only be bound for OCI): an OCI source is updated, then converted; a v2s2 one is
  // converted first. Each layer that changed gets the media type of what it now is.
  const format: ManifestFamily = family;
  const updateFirst = parsed.kind === 'oci-manifest' || format === 'docker';
  let current: ParsedImageManifest = parsed;
  if (!updateFirst && current.mediaType !== targetType) current = convertManifest(current, 'oci');
  const familyNow: ManifestFamily = current.kind === 'oci-manifest' ? 'oci' : 'docker';
  const before = current.value.layers;
  const layers = tasks.map((t, i) => {
    const orig = before[i]!;
    const out = outcomes.get(t)!;
    if (out.digest === orig.digest) return orig;
    const comp = compressionAfter(t.from, t.plan);
    const { annotations: _old, ...rest } = orig;
    // The old blob's zstd:chunked (or estargz) annotations describe bytes that are gone.
    // A decrypted layer also loses its encryption annotations; an encrypted one brings its own.
    const annotations = replaceFormatAnnotations(orig.annotations, out.annotations, t.decrypt === true);
    const inner = t.encryptedSource ? orig.mediaType.slice(0, -ENCRYPTED_SUFFIX.length) : orig.mediaType;
    const mediaType = layerMediaTypeFor(familyNow, comp, { nondistributable: isNondistributableLayer(inner) }) + (t.encrypt ? ENCRYPTED_SUFFIX : '');
    return { ...rest, digest: out.digest, size: out.size, mediaType, ...(annotations ? { annotations } : {}) };
  });
  if (layers.some((l, i) => l !== before[i])) current = updateLayers(current, layers);
  if (current.mediaType !== targetType) current = convertManifest(current, format === 'oci' ? 'oci' : 'v2s2');
  const bytes = Buffer.from(current.bytes);
  const digest = digestBytes(bytes);
  const srcDigest = digestBytes(parsed.bytes);
  if (opts.preserveDigests && digest !== srcDigest) {
    throw new OcikitError('E_CONFLICT', `--preserve-digests: copying ${c.label} would change its manifest digest (${shortDigest(srcDigest)} -> ${shortDigest(digest)})`, {
      hint: 'drop --format and the compression options, or copy to a destination that takes this manifest type',
    });
  }
  await copySignatures(c, digest !== srcDigest, topLevel ? srcInstance : srcDigest, topLevel ? undefined : digest, bytes);
  // An instance of an index the destination already shows is there too: not written again.
  if (topLevel || !there) await dest.putManifest({ bytes, mediaType: targetType }, topLevel ? undefined : digest);
  c.tracker.emit({ type: 'manifest', digest, mediaType: targetType, ...(topLevel ? {} : { instance: digest }) });
  keepManifest(c, bytes, `manifest written to ${dest.reference}`, digest);
  return { digest, mediaType: targetType, bytes, alreadyThere: there };
}

/**
 * The layers --encrypt-layer chooses (negative indices count from the end), or every layer when
 * encrypting without it; none when not encrypting. An index out of range is E_USAGE, as skopeo.
 */
function encryptedIndices(c: ImageCopyContext, count: number): Set<number> {
  const e = c.opts.encryption;
  if (!e) return new Set();
  if (e.layers === undefined || e.layers.length === 0) return new Set(Array.from({ length: count }, (_, i) => i));
  const out = new Set<number>();
  for (const l of e.layers) {
    const i = l < 0 ? l + count : l;
    if (i < 0 || i >= count) throw new OcikitError('E_USAGE', `--encrypt-layer ${l}: ${c.label} has ${count} layer${count === 1 ? '' : 's'}`);
    out.add(i);
  }
  return out;
}

/** The destination's wish as this copy applies it (plan.ts effectiveDesire, with the copy's flags). */
export function desireOf(dest: ImageDestination, opts: CopyOptions): DesiredCompression {
  return effectiveDesire(dest.properties.desiredCompression, {
    ...(opts.preserveDigests ? { preserveDigests: true } : {}),
    ...(opts.destCtx?.write?.destCompression ? { destCompression: opts.destCtx.write.destCompression } : {}),
    ...(opts.compressFormat ? { compressFormat: opts.compressFormat } : {}),
  });
}

/**
 * A destination that cannot hold foreign layers (a docker-archive: `docker load` needs every
 * layer in the archive) needs their bytes: find out before anything is written whether the
 * source has them, instead of failing at commit after every other blob was written.
 */
async function checkForeignLayers(c: ImageCopyContext, tasks: BlobTask[]): Promise<void> {
  if (c.dest.properties.acceptsForeignLayers) return;
  for (const t of tasks) {
    if (!t.foreign) continue;
    t.foreign = false; // its bytes are needed: an absent one is now an error like any other
    if (c.store.get().has(t.info.digest)) continue;
    try {
      const p = await c.source.getBlob(t.info);
      if (p.kind === 'stream') p.stream.destroy();
    } catch (err) {
      throw new OcikitError(
        'E_UNSUPPORTED',
        `${c.label}: ${t.label} is a foreign layer whose bytes the source does not have, and ${c.dest.reference} cannot refer to foreign layers (${(err as Error).message})`,
        { cause: err },
      );
    }
  }
}

/**
 * Carry the source's signatures of one manifest to the destination and, for the top-level manifest
 * (destInstance undefined), add new ones from the SIGNATURE HOOK `opts.sign` over `bytes`.
 */
export async function copySignatures(c: ImageCopyContext, changed: boolean, srcInstance: Digest | undefined, destInstance: Digest | undefined, bytes: Buffer): Promise<void> {
  let sigs: Buffer[] = [];
  if (!c.opts.removeSignatures && c.source.getSignatures) {
    sigs = await c.source.getSignatures(srcInstance);
    if (sigs.length > 0 && changed) {
      throw new OcikitError('E_CONFLICT', `${c.label} is signed and copying it changes its manifest, which would invalidate the signatures`, { hint: 'use --remove-signatures to copy without them' });
    }
  }
  if (destInstance === undefined && c.opts.sign) sigs = [...sigs, ...(await c.opts.sign(bytes))];
  if (sigs.length === 0) return;
  if (!c.dest.putSignatures) {
    throw new OcikitError('E_UNSUPPORTED', `${c.dest.reference} cannot store signatures`, { hint: 'use --remove-signatures to copy without them' });
  }
  await c.dest.putSignatures(sigs, destInstance);
}

export function descToInfo(d: Descriptor): BlobInfo {
  const info: BlobInfo = { digest: d.digest, size: d.size, mediaType: d.mediaType };
  if (d.annotations) info.annotations = d.annotations;
  if (d.urls) info.urls = d.urls;
  return info;
}
