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

/** The compression a layer has after its plan. */
export function compressionAfter(from: LayerCompression, plan: LayerPlan): LayerCompression {
  return plan.action === 'keep' ? from : plan.action === 'decompress' ? 'none' : plan.format;
}
