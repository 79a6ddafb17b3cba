/**
 * Copying from an index (OCI index or Docker manifest list): stage 1's choice of instances — the
 * one for this system, every one (--all), a --platform subset (written as an index), or the index
 * alone (index-only) — then each chosen instance as a single image, then the index itself.
 */
import { OcikitError } from '../errors.js';
import { digestBytes, shortDigest, verifyBytes } from '../digest/index.js';
import {
  OCI_INDEX,
  chooseInstance,
  convertIndex,
  encodeDockerList,
  encodeOciIndex,
  formatPlatform,
  hostPlatform,
  parseManifest,
  platformMatches,
  type Descriptor,
  type ManifestFormat,
  type ParsedImageManifest,
  type ParsedIndex,
} from '../manifest/index.js';
import { chooseIndexType } from './manifest-type.js';
import { alreadyAtDestination, announceImage, copyPlanned, copySignatures, copySingle, keepManifest, planImage, type ImageCopyContext, type PlannedImage, type Written } from './single.js';

/** Which instances of an index this copy takes: the one for this system, or a list (maybe empty: index-only). */
export function selectInstances(c: Pick<ImageCopyContext, 'opts' | 'label'>, parsed: ParsedIndex): { system?: Descriptor; chosen: Descriptor[] } {
  const o = c.opts;
  const entries = parsed.value.manifests as Descriptor[];
  if (o.platforms && o.platforms.length > 0) {
    for (const p of o.platforms) {
      if (!entries.some((d) => d.platform && platformMatches(p, d.platform))) {
        throw new OcikitError(
          'E_NOT_FOUND',
          `no image in the index of ${c.label} matches --platform ${formatPlatform(p)}; it has: ${entries.map((d) => (d.platform ? formatPlatform(d.platform) : '?')).join(', ')}`,
        );
      }
    }
    return { chosen: entries.filter((d) => d.platform && o.platforms!.some((p) => platformMatches(p, d.platform!))) };
  }
  if ((o.multiArch ?? 'system') === 'system') {
    const want = hostPlatform(o.sourceCtx?.platform);
    return { system: chooseInstance(parsed, want), chosen: [] };
  }
  return { chosen: o.multiArch === 'index-only' ? [] : entries };
}

/** Copy an index: all instances, a --platform subset, index-only, or the one for this system. */
export async function copyIndex(c: ImageCopyContext, parsed: ParsedIndex): Promise<Written> {
  const o = c.opts;
  const sel = selectInstances(c, parsed);
  // The chosen instance becomes the top-level image: its own signatures (not the index's) go with it.
  if (sel.system) return copySingle(c, await getInstance(c, sel.system), undefined, true, sel.system.digest);
  const chosen = sel.chosen;

  // === 2. choose the target index type
  const dest = c.dest;
  if (!dest.properties.supportsIndex) {
    throw new OcikitError('E_UNSUPPORTED', `${dest.reference} cannot hold a multi-image index`, { hint: 'copy one image: drop --all and --platform (--override-arch chooses which)' });
  }
  const targetIndexType = chooseIndexType(parsed.mediaType, dest.properties.supportedManifestTypes, o.format, String(dest.reference), dest.properties.alsoHolds, o.preserveDigests);
  const targetFormat: ManifestFormat = targetIndexType === OCI_INDEX ? 'oci' : 'v2s2';

  // Every instance planned before any blob moves: when none changes on the way, the index to write
  // is known now, and a destination that already shows it (one HEAD) needs nothing else.
  const planned: Array<{ d: Descriptor; plan: PlannedImage }> = [];
  for (const d of chosen) planned.push({ d, plan: planImage(c, await getInstance(c, d), targetFormat) });
  const subset = o.platforms !== undefined && o.platforms.length > 0;
  const output = (replaced: Map<string, Descriptor>): { bytes: Uint8Array; mediaType: string } => {
    // A subset is a new index: encode it, so conversion below starts from the subset's own bytes.
    const filtered: ParsedIndex = subset ? subsetIndex(parsed, chosen) : parsed;
    const unchanged = !subset && targetIndexType === parsed.mediaType && [...replaced].every(([k, v]) => k === v.digest);
    return unchanged ? { bytes: Buffer.from(parsed.bytes), mediaType: parsed.mediaType } : convertIndex(filtered, targetFormat, replaced);
  };
  const entry = (d: Descriptor, bytes: Buffer, mediaType: string): Descriptor => ({ ...d, digest: digestBytes(bytes), size: bytes.length, mediaType });
  let there = false;
  if (planned.every((p) => p.plan.predicted)) {
    there = await alreadyAtDestination(c, Buffer.from(output(new Map(planned.map((p) => [p.d.digest, entry(p.d, p.plan.predicted!, p.plan.targetType)]))).bytes));
  }

  const replaced = new Map<string, Descriptor>();
  // Progress counts every instance's blobs from the start, not as each instance begins.
  for (const p of planned) announceImage(c, p.plan);
  for (const p of planned) {
    const w = await copyPlanned(c, p.plan, false, there, undefined, true);
    replaced.set(p.d.digest, entry(p.d, w.bytes, w.mediaType));
  }
  const out = output(replaced);
  const digest = digestBytes(out.bytes);
  if (o.preserveDigests && digest !== digestBytes(parsed.bytes)) {
    throw new OcikitError('E_CONFLICT', `--preserve-digests: copying ${c.label} would change its index digest (${shortDigest(digestBytes(parsed.bytes))} -> ${shortDigest(digest)})`);
  }
  await copySignatures(c, digest !== digestBytes(parsed.bytes), undefined, undefined, Buffer.from(out.bytes));
  await dest.putManifest({ bytes: Buffer.from(out.bytes), mediaType: out.mediaType });
  c.tracker.emit({ type: 'manifest', digest, mediaType: out.mediaType });
  const bytes = Buffer.from(out.bytes);
  keepManifest(c, bytes, `index written to ${dest.reference}`, digest);
  return { digest, mediaType: out.mediaType, bytes, alreadyThere: there };
}

/** An instance of the index, verified against its descriptor, and noted for the store to keep (keepManifest). */
async function getInstance(c: ImageCopyContext, d: Descriptor): Promise<ParsedImageManifest> {
  const m = await c.source.getManifest(d.digest);
  const what = `manifest ${shortDigest(d.digest)} from ${c.label}`;
  verifyBytes(m.bytes, { digest: d.digest, size: d.size, what });
  keepManifest(c, m.bytes, what, d.digest);
  const inst = parseManifest(m.bytes, d.mediaType || m.mediaType || undefined, `reading manifest ${shortDigest(d.digest)} of ${c.label}`);
  if (inst.kind !== 'oci-manifest' && inst.kind !== 'docker-v2s2') {
    throw new OcikitError('E_UNSUPPORTED', `${c.label}: nested index ${shortDigest(d.digest)} is not supported`);
  }
  return inst;
}

function subsetIndex(parsed: ParsedIndex, chosen: Descriptor[]): ParsedIndex {
  if (parsed.kind === 'oci-index') {
    const value = { ...parsed.value, manifests: chosen };
    return { ...parsed, value, bytes: encodeOciIndex(value) };
  }
  const value = { ...parsed.value, manifests: chosen as typeof parsed.value.manifests };
  return { ...parsed, value, bytes: encodeDockerList(value) };
}
