/**
 * copyImage: the pipeline every copy goes through. The stages are numbered as in DESIGN.md:
 *   1 resolve the manifest (choose instances of an index)
 *   2 choose the target manifest type (destination support, --format)
 *   3 plan every blob (reuse at destination? variant already in the store? else fetch)
 *   4 run blob jobs, largest first, N at a time
 *   5 write config, then manifest(s), then commit (atomic)
 *
 * This module never branches on a transport's name: it reads declared properties only.
 * Every byte taken from a source is verified against its digest by the store on the way in.
 */
import { promises as fsp } from 'node:fs';
import { OcikitError, isOcikitError, wrapError } from '../errors.js';
import { digestBytes, shortDigest, verifyBytes, type Digest } from '../digest/index.js';
import {
  DOCKER_LIST,
  DOCKER_V2S2_MANIFEST,
  OCI_INDEX,
  OCI_MANIFEST,
  chooseInstance,
  convertIndex,
  convertManifest,
  encodeDockerList,
  encodeOciIndex,
  hostPlatform,
  isNondistributableLayer,
  layerCompression,
  layerMediaTypeFor,
  parseManifest,
  platformMatches,
  updateLayers,
  type Descriptor,
  type LayerCompression,
  type ManifestFormat,
  type ParsedImageManifest,
  type ParsedIndex,
  type ParsedManifest,
  type Platform,
} from '../manifest/index.js';
import type { BlobStore } from '../store/index.js';
import type { BlobInfo, ImageDestination, ImageReference, ImageSource, SystemContext } from '../transports/types.js';
import { DEFAULT_LEVEL, compressLayer, decompressLayer, type CompressFormat, type StoredBlob } from './transform.js';
import { runLimited } from './limit.js';
import { WorkerPool } from '../pool/index.js';

export type MultiArch = 'system' | 'all' | 'index-only';

/** Progress events; the CLI renders them (stderr), the library never prints. */
export type ProgressEvent =
  | { type: 'manifest'; digest: Digest; mediaType: string; instance?: Digest }
  | { type: 'blob-start'; digest: Digest; size: number }
  /** A transform's progress: `done` of `total` input bytes of the blob that blob-start named. */
  | { type: 'blob-progress'; digest: Digest; phase: 'decompressing' | 'compressing'; done: number; total: number }
  /** `from` is the digest blob-start named, when the blob written differs from it. */
  | { type: 'blob-done'; digest: Digest; size: number; how: 'reused-at-destination' | 'from-store' | 'fetched'; transformed?: 'compressed' | 'decompressed'; from?: Digest }
  | { type: 'committed'; digest: Digest };

export interface CopyOptions {
  store: BlobStore;
  /** Context for the source side (credentials, overrides). */
  sourceCtx?: SystemContext;
  /** Context for the destination side. */
  destCtx?: SystemContext;
  /** --format: force the manifest format at the destination. */
  format?: ManifestFormat;
  /** -a / --multi-arch: what to copy from an index. Default 'system'. */
  multiArch?: MultiArch;
  /** --platform (repeatable): copy this subset of an index, as an index. */
  platforms?: Platform[];
  /** --preserve-digests: fail rather than change the manifest digest. */
  preserveDigests?: boolean;
  /** --remove-signatures. */
  removeSignatures?: boolean;
  /** --dest-compress-format / --dest-compress-level, used when the destination wants compressed layers. */
  compressFormat?: CompressFormat;
  compressLevel?: number;
  /** How many blobs at once, at most (further bounded by the transports' properties). */
  jobs?: number;
  /**
   * The worker pool for compression, decompression and hashing. Without one, copyImage starts a
   * pool of `jobs` threads (default: the core count) on the first transform and closes it at the end.
   */
  pool?: WorkerPool;
  onProgress?: (ev: ProgressEvent) => void;
}

export interface CopyResult {
  /** Digest of the manifest written at the destination (the index, for a multi-image copy). */
  manifestDigest: Digest;
  mediaType: string;
  /** Bytes taken from the source (fetched into the store). */
  bytesRead: number;
  /** Bytes handed to the destination. */
  bytesWritten: number;
  blobsReused: number;
  blobsCopied: number;
  seconds: number;
}

interface Counters {
  bytesRead: number;
  bytesWritten: number;
  blobsReused: number;
  blobsCopied: number;
}

/** One planned blob: what the source has and what the destination should get. */
interface BlobJob {
  src: BlobInfo;
  /** undefined: pass through; else the compression the destination gets. */
  target: { compression: LayerCompression; format?: CompressFormat; level?: number } | undefined;
  srcCompression: LayerCompression | 'config';
  /** The descriptor written in the output manifest, filled in by the job. */
  out?: BlobInfo;
  /** Foreign layer whose bytes may legitimately be absent at the source. */
  foreign: boolean;
}

/** Copy the image named by `srcRef` to `destRef`, through the store. */
export async function copyImage(srcRef: ImageReference, destRef: ImageReference, opts: CopyOptions): Promise<CopyResult> {
  const started = process.hrtime.bigint();
  const store = opts.store;
  const lease = store.lease();
  const counters: Counters = { bytesRead: 0, bytesWritten: 0, blobsReused: 0, blobsCopied: 0 };
  let source: ImageSource | undefined;
  let dest: ImageDestination | undefined;
  // A pool owned by this call starts its threads only if a layer needs transforming.
  const ownPool = opts.pool ? undefined : new WorkerPool(opts.jobs ? { threads: opts.jobs } : {});
  try {
    source = await srcRef.newSource({ ...opts.sourceCtx, store });
    dest = await destRef.newDestination({ ...opts.destCtx, store });
    const c = new Copier(source, dest, { ...opts, pool: opts.pool ?? ownPool! }, counters);

    // === 1. resolve the manifest
    const top = await source.getManifest();
    const parsed = parseManifest(top.bytes, top.mediaType || undefined, `reading manifest of ${srcRef}`); // HARDEN(issue 9, bug 10): name the image
    await store.put(top.bytes, { what: `manifest of ${srcRef}` });

    let written: { digest: Digest; mediaType: string; bytes: Buffer };
    if (parsed.kind === 'oci-index' || parsed.kind === 'docker-list') {
      written = await c.copyIndex(parsed);
    } else {
      written = await c.copySingle(parsed, undefined, true);
    }

    // === 5b. commit
    await dest.commit();
    opts.onProgress?.({ type: 'committed', digest: written.digest });
    await store.put(written.bytes, { what: `manifest written to ${destRef}` });
    store.setRef(destRef.toString(), written.digest);
    store.setRef(srcRef.toString(), digestBytes(top.bytes));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { manifestDigest: written.digest, mediaType: written.mediaType, ...counters, seconds };
  } catch (err) {
    // Our errors already say what was being done and to which image; only foreign ones need context.
    if (isOcikitError(err)) throw err;
    throw wrapError(err, `copying ${srcRef} to ${destRef}`);
  } finally {
    await dest?.close().catch(() => undefined);
    await source?.close().catch(() => undefined);
    await ownPool?.close().catch(() => undefined);
    lease.release();
  }
}

class Copier {
  private readonly store: BlobStore;
  constructor(
    private readonly source: ImageSource,
    private readonly dest: ImageDestination,
    private readonly opts: CopyOptions,
    private readonly counters: Counters,
  ) {
    this.store = opts.store;
  }

  private label(): string {
    return this.source.reference.toString();
  }

  /** Copy an index: all instances, a --platform subset, index-only, or the one for this system. */
  async copyIndex(parsed: ParsedIndex): Promise<{ digest: Digest; mediaType: string; bytes: Buffer }> {
    const o = this.opts;
    const entries = parsed.value.manifests as Descriptor[];
    let chosen: Descriptor[];
    if (o.platforms && o.platforms.length > 0) {
      chosen = entries.filter((d) => d.platform && o.platforms!.some((p) => platformMatches(p, d.platform!)));
      for (const p of o.platforms) {
        if (!entries.some((d) => d.platform && platformMatches(p, d.platform))) {
          throw new OcikitError('E_NOT_FOUND', `no image in the index of ${this.label()} matches --platform ${platformString(p)}; it has: ${entries.map((d) => (d.platform ? platformString(d.platform) : '?')).join(', ')}`);
        }
      }
    } else if ((o.multiArch ?? 'system') === 'system') {
      const want = hostPlatform({ overrideOS: o.sourceCtx?.overrideOS, overrideArch: o.sourceCtx?.overrideArch, overrideVariant: o.sourceCtx?.overrideVariant });
      const d = chooseInstance(parsed, want);
      const inst = await this.getInstance(d);
      if (inst.kind !== 'oci-manifest' && inst.kind !== 'docker-v2s2') {
        throw new OcikitError('E_UNSUPPORTED', `${this.label()}: nested index ${shortDigest(d.digest)} is not supported`);
      }
      return this.copySingle(inst, undefined, true);
    } else if (o.multiArch === 'index-only') {
      chosen = [];
    } else {
      chosen = entries;
    }

    // === 2. choose the target index type
    const targetIndexType = this.chooseIndexType(parsed.mediaType);
    const targetFormat: ManifestFormat = targetIndexType === OCI_INDEX ? 'oci' : 'v2s2';
    if (!this.dest.properties.supportsIndex) {
      throw new OcikitError('E_UNSUPPORTED', `${this.dest.reference} cannot hold a multi-image index`, { hint: 'copy one image: drop --all and --platform (--override-arch chooses which)' });
    }

    const replaced = new Map<string, Descriptor>();
    for (const d of chosen) {
      const inst = await this.getInstance(d);
      if (inst.kind !== 'oci-manifest' && inst.kind !== 'docker-v2s2') {
        throw new OcikitError('E_UNSUPPORTED', `${this.label()}: nested index ${shortDigest(d.digest)} is not supported`);
      }
      const w = await this.copySingle(inst, targetFormat, false);
      replaced.set(d.digest, { ...d, digest: w.digest, size: w.bytes.length, mediaType: w.mediaType });
    }
    let out: { bytes: Buffer; mediaType: string };
    const subset = o.platforms && o.platforms.length > 0;
    // A subset is a new index: encode it, so conversion below starts from the subset's own bytes.
    const filtered: ParsedIndex = subset ? subsetIndex(parsed, chosen) : parsed;
    const unchanged = !subset && targetIndexType === parsed.mediaType && [...replaced].every(([k, v]) => k === v.digest);
    if (unchanged) {
      out = { bytes: Buffer.from(parsed.bytes), mediaType: parsed.mediaType };
    } else {
      const conv = convertIndex(filtered, targetFormat, replaced);
      out = { bytes: conv.bytes, mediaType: conv.mediaType };
    }
    const digest = digestBytes(out.bytes);
    if (o.preserveDigests && digest !== digestBytes(parsed.bytes)) {
      throw new OcikitError('E_CONFLICT', `--preserve-digests: copying ${this.label()} would change its index digest (${shortDigest(digestBytes(parsed.bytes))} -> ${shortDigest(digest)})`);
    }
    await this.dest.putManifest({ bytes: out.bytes, mediaType: out.mediaType });
    this.opts.onProgress?.({ type: 'manifest', digest, mediaType: out.mediaType });
    return { digest, mediaType: out.mediaType, bytes: out.bytes };
  }

  private async getInstance(d: Descriptor): Promise<ParsedManifest> {
    const m = await this.source.getManifest(d.digest as Digest);
    verifyBytes(m.bytes, { digest: d.digest as Digest, size: d.size, what: `manifest ${shortDigest(d.digest)} from ${this.label()}` });
    await this.store.put(m.bytes, { digest: d.digest as Digest, what: `manifest ${shortDigest(d.digest)}` });
    return parseManifest(m.bytes, d.mediaType || m.mediaType || undefined, `reading manifest ${shortDigest(d.digest)} of ${this.label()}`); // HARDEN(issue 9, bug 10)
  }

  private chooseIndexType(srcType: string): string {
    const sup = this.dest.properties.supportedManifestTypes;
    const f = this.opts.format;
    const want = f === 'oci' ? OCI_INDEX : f === 'v2s2' ? DOCKER_LIST : srcType;
    if (sup.includes(want)) return want;
    if (f) throw new OcikitError('E_UNSUPPORTED', `${this.dest.reference} does not accept ${want} (--format ${f})`);
    const alt = sup.find((t) => t === OCI_INDEX || t === DOCKER_LIST);
    if (!alt) throw new OcikitError('E_UNSUPPORTED', `${this.dest.reference} cannot hold a multi-image index`, { hint: 'copy one image: drop --all and --platform (--override-arch chooses which)' });
    return alt;
  }

  private chooseManifestType(srcType: string, forced: ManifestFormat | undefined): string {
    const sup = this.dest.properties.supportedManifestTypes;
    const f = forced ?? this.opts.format;
    const want = f === 'oci' ? OCI_MANIFEST : f === 'v2s2' ? DOCKER_V2S2_MANIFEST : srcType;
    if (sup.includes(want)) return want;
    if (f) throw new OcikitError('E_UNSUPPORTED', `${this.dest.reference} does not accept ${want === OCI_MANIFEST ? 'OCI' : 'Docker v2s2'} manifests (--format ${f})`);
    const alt = sup.find((t) => t === OCI_MANIFEST || t === DOCKER_V2S2_MANIFEST);
    if (!alt) throw new OcikitError('E_UNSUPPORTED', `${this.dest.reference} accepts no single-image manifest type`);
    return alt;
  }

  /** Copy one image: its config and layers, then its manifest (top-level or an index instance). */
  async copySingle(parsed: ParsedImageManifest, forced: ManifestFormat | undefined, topLevel: boolean): Promise<{ digest: Digest; mediaType: string; bytes: Buffer }> {
    // === 2. choose the target manifest type
    const targetType = this.chooseManifestType(parsed.mediaType, forced);
    const targetFamily = targetType === OCI_MANIFEST ? 'oci' : 'docker';

    // === 3. plan blobs
    const m = parsed.value;
    const jobs: BlobJob[] = [];
    const config = m.config as Descriptor;
    jobs.push({ src: descToInfo(config), target: undefined, srcCompression: 'config', foreign: false });
    for (const [i, l] of (m.layers as Descriptor[]).entries()) {
      const comp = layerCompression(l.mediaType);
      if (comp === undefined) {
        throw new OcikitError('E_UNSUPPORTED', `${this.label()}: layer ${i} has unknown media type ${JSON.stringify(l.mediaType)}`);
      }
      jobs.push({ src: descToInfo(l), target: this.planLayer(comp, targetFamily), srcCompression: comp, foreign: isNondistributableLayer(l.mediaType) && (l.urls?.length ?? 0) > 0 });
    }

    // === 4. run blob jobs, largest first, N at a time
    const p = this.source.properties.concurrentGetBlob;
    const q = this.dest.properties.concurrentPutBlob;
    const n = Math.max(1, Math.min(p, q, this.opts.jobs ?? 4));
    const order = [...jobs].sort((a, b) => b.src.size - a.src.size);
    await runLimited(order, n, (job) => this.runJob(job));

    // === 5. write the manifest (blobs are all in place)
    const layers = jobs.slice(1).map((j, i) => {
      const orig = (m.layers as Descriptor[])[i]!;
      const out = j.out!;
      if (out.digest === orig.digest) return orig;
      const comp = j.target!.compression;
      const family = parsed.kind === 'oci-manifest' ? 'oci' : 'docker';
      return { ...orig, digest: out.digest, size: out.size, mediaType: layerMediaTypeFor(family, comp, { nondistributable: isNondistributableLayer(orig.mediaType) }) } as Descriptor;
    });
    const layersChanged = layers.some((l, i) => l !== (m.layers as Descriptor[])[i]);
    let current: ParsedImageManifest = layersChanged ? updateLayers(parsed, layers) : parsed;
    const targetFormat: ManifestFormat = targetFamily === 'oci' ? 'oci' : 'v2s2';
    if (current.mediaType !== targetType) current = convertManifest(current, targetFormat);
    const bytes = Buffer.from(current.bytes);
    const digest = digestBytes(bytes);
    const srcDigest = digestBytes(parsed.bytes);
    if (this.opts.preserveDigests && digest !== srcDigest) {
      throw new OcikitError('E_CONFLICT', `--preserve-digests: copying ${this.label()} would change its manifest digest (${shortDigest(srcDigest)} -> ${shortDigest(digest)}); drop --format or compression options`);
    }
    await this.copySignatures(digest !== srcDigest, topLevel ? undefined : srcDigest, topLevel ? undefined : digest);
    await this.dest.putManifest({ bytes, mediaType: targetType }, topLevel ? undefined : digest);
    this.opts.onProgress?.({ type: 'manifest', digest, mediaType: targetType, ...(topLevel ? {} : { instance: digest }) });
    await this.store.put(bytes, { what: 'converted manifest' });
    return { digest, mediaType: targetType, bytes };
  }

  private async copySignatures(changed: boolean, srcInstance: Digest | undefined, destInstance: Digest | undefined): Promise<void> {
    if (this.opts.removeSignatures || !this.source.getSignatures) return;
    const sigs = await this.source.getSignatures(srcInstance);
    if (sigs.length === 0) return;
    if (changed) {
      throw new OcikitError('E_CONFLICT', `${this.label()} is signed and copying it changes its manifest, which would invalidate the signatures`, { hint: 'use --remove-signatures to copy without them' });
    }
    if (!this.dest.putSignatures) {
      throw new OcikitError('E_UNSUPPORTED', `${this.dest.reference} cannot store signatures`, { hint: 'use --remove-signatures to copy without them' });
    }
    await this.dest.putSignatures(sigs, destInstance);
  }

  /** What the destination should get for a layer compressed as `comp`. undefined = as it is. */
  private planLayer(comp: LayerCompression, family: 'oci' | 'docker'): BlobJob['target'] {
    const want = this.dest.properties.desiredCompression;
    const fmt = this.opts.compressFormat;
    const level = this.opts.compressLevel;
    if (want === 'decompress') return comp === 'none' ? undefined : { compression: 'none' };
    if (comp === 'zstd' && family === 'docker') {
      // Docker v2s2 has no zstd media type: give it gzip (or plain tar when the destination wants that).
      return { compression: 'gzip', format: 'gzip', level: level ?? DEFAULT_LEVEL.gzip };
    }
    if (want === 'compress') {
      const f = fmt ?? (comp === 'none' ? 'gzip' : comp);
      if (family === 'docker' && f === 'zstd') throw new OcikitError('E_UNSUPPORTED', 'Docker v2s2 manifests cannot describe zstd layers; use --format oci or --dest-compress-format gzip');
      if (comp === f && level === undefined) return undefined;
      if (comp === f && level !== undefined) return { compression: f, format: f, level };
      return { compression: f, format: f, level: level ?? DEFAULT_LEVEL[f] };
    }
    // preserve, but an explicit --dest-compress-format that differs recompresses (as skopeo).
    if (fmt && comp !== 'none' && comp !== fmt) {
      if (family === 'docker' && fmt === 'zstd') throw new OcikitError('E_UNSUPPORTED', 'Docker v2s2 manifests cannot describe zstd layers; use --format oci');
      return { compression: fmt, format: fmt, level: level ?? DEFAULT_LEVEL[fmt] };
    }
    return undefined;
  }

  private async runJob(job: BlobJob): Promise<void> {
    const info = job.src;
    const what = `blob ${shortDigest(info.digest)} from ${this.label()}`;
    this.opts.onProgress?.({ type: 'blob-start', digest: info.digest, size: info.size });

    // Pass-through blob already at the destination: nothing to fetch or write.
    if (!job.target) {
      const reused = await this.dest.tryReusingBlob(info);
      if (reused) {
        job.out = { ...info, size: reused.size };
        this.counters.blobsReused++;
        this.opts.onProgress?.({ type: 'blob-done', digest: info.digest, size: info.size, how: 'reused-at-destination' });
        return;
      }
    }

    // A transformed blob whose result the store already knows needs no source bytes at all.
    let result: StoredBlob | undefined;
    if (job.target) result = this.knownTransform(job);

    let how: 'from-store' | 'fetched' = 'from-store';
    let srcBlob: StoredBlob | undefined;
    if (!result) {
      const fetched = await this.ensureInStore(info, what, job.foreign);
      if (!fetched) {
        // A foreign layer the source does not carry: the manifest keeps pointing at its URLs.
        job.out = info;
        this.opts.onProgress?.({ type: 'blob-done', digest: info.digest, size: info.size, how: 'reused-at-destination' });
        return;
      }
      srcBlob = fetched.blob;
      how = fetched.fetched ? 'fetched' : 'from-store';
      result = job.target ? await this.transform(job, srcBlob, what) : srcBlob;
    }

    const outInfo: BlobInfo = { digest: result.digest, size: result.size, mediaType: info.mediaType };
    if (job.target) {
      const reused = await this.dest.tryReusingBlob(outInfo);
      if (reused) {
        job.out = outInfo;
        this.counters.blobsReused++;
        this.opts.onProgress?.({ type: 'blob-done', digest: result.digest, size: result.size, how: 'reused-at-destination', from: info.digest });
        return;
      }
    }
    await this.dest.putBlob({ kind: 'path', path: result.path }, outInfo);
    this.counters.bytesWritten += result.size;
    this.counters.blobsCopied++;
    job.out = outInfo;
    this.opts.onProgress?.({
      type: 'blob-done',
      digest: result.digest,
      size: result.size,
      how,
      ...(result.digest !== info.digest ? { from: info.digest } : {}),
      ...(job.target ? { transformed: job.target.compression === 'none' ? ('decompressed' as const) : ('compressed' as const) } : {}),
    });
  }

  /** The store's cached result of this job's transform, if it has one. */
  private knownTransform(job: BlobJob): StoredBlob | undefined {
    const t = job.target!;
    const cache = this.store.cache;
    const uncompressed = job.srcCompression === 'none' ? job.src.digest : cache.uncompressedOf(job.src.digest);
    if (!uncompressed) return undefined;
    // Without an explicit --dest-compress-level any compressed form the store has seen will do; it may
    // even be the original (say, the registry's gzip of a layer that came out of a docker-archive).
    const level = this.opts.compressLevel;
    const d = t.compression === 'none' ? uncompressed : cache.findVariant(uncompressed, t.format!, level);
    if (!d) return undefined;
    const st = this.store.stat(d);
    return st ? { digest: d, size: st.size, path: st.path } : undefined;
  }

  private async transform(job: BlobJob, src: StoredBlob, what: string): Promise<StoredBlob> {
    const t = job.target!;
    const from = job.srcCompression as LayerCompression;
    const pool = this.opts.pool;
    const progress = (phase: 'decompressing' | 'compressing') => (done: number, total: number): void =>
      this.opts.onProgress?.({ type: 'blob-progress', digest: job.src.digest, phase, done, total });
    let plain = src;
    if (from !== 'none') plain = await decompressLayer(this.store, src, from, what, { pool, onProgress: progress('decompressing') });
    if (t.compression === 'none') return plain;
    return compressLayer(this.store, plain, t.format!, t.level!, what, { pool, onProgress: progress('compressing') });
  }

  /**
   * Make sure the store has the source blob (verified); fetch it when it does not.
   * Returns undefined for an absent foreign layer.
   */
  private async ensureInStore(info: BlobInfo, what: string, foreign: boolean): Promise<{ blob: StoredBlob; fetched: boolean } | undefined> {
    const st = this.store.stat(info.digest);
    if (st && (info.size < 0 || st.size === info.size)) return { blob: { digest: info.digest, size: st.size, path: st.path }, fetched: false };
    let payload;
    try {
      payload = await this.source.getBlob(info);
    } catch (err) {
      if ((err as OcikitError).code === 'E_NOT_FOUND') {
        if (foreign) return undefined;
        // The image was found; one of its blobs was not: the image is incomplete, which is not
        // "image not found" (exit 2) but bad input (exit 1).
        throw new OcikitError('E_BAD_INPUT', `${what}: the source does not have this blob (incomplete image): ${(err as Error).message}`, { cause: err });
      }
      throw err;
    }
    const expect = { digest: info.digest, size: info.size, mediaType: info.mediaType, what };
    const res = payload.kind === 'path' ? await this.store.put({ path: payload.path }, expect) : await this.store.put(payload.stream, expect);
    this.counters.bytesRead += res.size;
    return { blob: res, fetched: true };
  }
}

function subsetIndex(parsed: ParsedIndex, chosen: Descriptor[]): ParsedIndex {
  if (parsed.kind === 'oci-index') {
    const value = { ...parsed.value, manifests: chosen };
    return { ...parsed, value, bytes: encodeOciIndex(value) };
  }
  const value = { ...parsed.value, manifests: chosen as typeof parsed.value.manifests };
  return { ...parsed, value, bytes: encodeDockerList(value) };
}

function descToInfo(d: Descriptor): BlobInfo {
  const info: BlobInfo = { digest: d.digest as Digest, size: d.size, mediaType: d.mediaType };
  if (d.annotations) info.annotations = d.annotations;
  if (d.urls) info.urls = d.urls;
  return info;
}

export function platformString(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Write the manifest digest to a file (--digestfile). */
export async function writeDigestFile(path: string, digest: Digest): Promise<void> {
  await fsp.writeFile(path, digest).catch((err) => {
    throw wrapError(err, `writing --digestfile ${path}`);
  });
}
