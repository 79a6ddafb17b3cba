/**
 * What happens to a layer on its way to the destination: kept as it is, decompressed, or
 * (re)compressed with a format and level. A pure function of the layer, the destination's declared
 * wish and the user's flags, so the whole decision is one table (test/copy/plan.test.ts).
 */
import { OcikitError } from '../errors.js';
import type { CompressionFormat, LayerCompression, ManifestFamily } from '../manifest/index.js';
import type { DesiredCompression } from '../transports/types.js';

/**
 * Default levels when --dest-compress-level is not given: gzip 4, zstd 3 (zstd's default).
 *
 * WHY gzip 4 and not zlib's 6: skopeo compresses with pgzip at its default level, whose output on
 * real layers (the bench image: files from /usr and node's tree) is larger than zlib -4's; zlib -4
 * takes two thirds of -6's CPU time, so level 4 gives output no larger than skopeo's for much
 * less work (bench/README.md has the sizes). Pass --dest-compress-level 6 (or 9) for the smallest.
 */
export const DEFAULT_LEVEL: Record<CompressionFormat, number> = { gzip: 4, zstd: 3 };

/** The plan for one layer. `compress` from a compressed layer means decompress, then compress. */
export type LayerPlan = { action: 'keep' } | { action: 'decompress' } | { action: 'compress'; format: CompressionFormat; level: number };

/** What planLayer decides from. */
export interface LayerPlanInput {
  /** How the source layer is stored. */
  from: LayerCompression;
  /** The manifest family the destination gets: Docker v2s2 has no zstd layer type. */
  family: ManifestFamily;
  /** What the destination declares (dir: with --dest-compress / --dest-decompress says so too). */
  desired: DesiredCompression;
  /** --dest-compress-format. */
  format?: CompressionFormat;
  /** --dest-compress-level. */
  level?: number;
}

/**
 * Decide one layer's plan, as skopeo does, plus one thing skopeo does not:
 * - a destination that wants layers decompressed gets plain tars;
 * - one that wants them compressed gets uncompressed layers compressed (gzip unless
 *   --dest-compress-format says otherwise) and compressed ones recompressed only when
 *   --dest-compress-format names another format (a level alone recompresses nothing, as skopeo);
 * - Docker v2s2 cannot name zstd: a zstd layer bound for a v2s2 manifest becomes gzip (or a plain
 *   tar, where that is what the destination wants), and asking for zstd there is E_UNSUPPORTED;
 * - beyond skopeo: a destination that keeps layers as they come (dir: without flags) still
 *   recompresses a compressed layer when --dest-compress-format names another format, because
 *   that is what the user asked for (skopeo silently ignores the flag there).
 */
export function planLayer(p: LayerPlanInput): LayerPlan {
  const level = (f: CompressionFormat): number => p.level ?? DEFAULT_LEVEL[f];
  if (p.family === 'docker' && p.format === 'zstd' && p.desired !== 'decompress') {
    throw new OcikitError('E_UNSUPPORTED', 'Docker v2s2 manifests cannot describe zstd layers', { hint: 'use --format oci, or --dest-compress-format gzip' });
  }
  if (p.desired === 'decompress') return p.from === 'none' ? { action: 'keep' } : { action: 'decompress' };
  if (p.from === 'zstd' && p.family === 'docker') return { action: 'compress', format: 'gzip', level: level('gzip') };
  if (p.desired === 'compress') {
    if (p.from === 'none') {
      const f = p.format ?? 'gzip';
      return { action: 'compress', format: f, level: level(f) };
    }
    if (p.format !== undefined && p.format !== p.from) return { action: 'compress', format: p.format, level: level(p.format) };
    return { action: 'keep' };
  }
  // preserve
  if (p.from !== 'none' && p.format !== undefined && p.format !== p.from) return { action: 'compress', format: p.format, level: level(p.format) };
  return { action: 'keep' };
}

/**
 * The destination's declared wish as this copy applies it: with --preserve-digests, a destination
 * that merely prefers compressed layers (oci:) keeps them as they come, as skopeo does (it may not
 * modify the manifest), unless the user asked to compress (--dest-compress, a format).
 */
export function effectiveDesire(wish: DesiredCompression, f: { preserveDigests?: boolean; destCompression?: 'compress' | 'decompress'; compressFormat?: CompressionFormat }): DesiredCompression {
  return f.preserveDigests && wish === 'compress' && f.destCompression === undefined && !f.compressFormat ? 'preserve' : wish;
}

/**
 * What this copy will make of an uncompressed layer, known as soon as the destination is open:
 * the plan of a plain layer bound for an OCI manifest. The source's context gets it
 * (SystemContext.write.compressLayers) when it is a compression, so a source that reads its layers in one
 * pass at open can do that work as they arrive.
 */
export function plainLayerPlan(desired: DesiredCompression, f: { format?: CompressionFormat; level?: number }): LayerPlan {
  return planLayer({ from: 'none', family: 'oci', desired, ...(f.format ? { format: f.format } : {}), ...(f.level !== undefined ? { level: f.level } : {}) });
}

/** The compression a layer has after its plan. */
export function compressionAfter(from: LayerCompression, plan: LayerPlan): LayerCompression {
  return plan.action === 'keep' ? from : plan.action === 'decompress' ? 'none' : plan.format;
}
