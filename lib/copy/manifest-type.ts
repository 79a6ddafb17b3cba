/**
 * Which manifest and index types the destination gets: the source's where the destination takes
 * it, else what --format forces, else the destination's best alternative. Pure functions of the
 * destination's declared `supportedManifestTypes` and `alsoHolds` (types it holds only when asked
 * for by --format, or kept as they are by --preserve-digests: what skopeo writes into a layout).
 */
import { OcikitError } from '../errors.js';
import { DOCKER_LIST, DOCKER_V2S2_MANIFEST, OCI_INDEX, OCI_MANIFEST, type ManifestFormat } from '../manifest/index.js';

/** The single-image manifest type to write, given the source's and the destination's supported types. */
export function chooseManifestType(srcType: string, supported: readonly string[], format: ManifestFormat | undefined, dest: string, alsoHolds: readonly string[] = [], preserve = false): string {
  const want = format === 'oci' ? OCI_MANIFEST : format === 'v2s2' ? DOCKER_V2S2_MANIFEST : srcType;
  if (supported.includes(want)) return want;
  if ((format !== undefined || preserve) && alsoHolds.includes(want)) return want;
  if (format) throw new OcikitError('E_UNSUPPORTED', `${dest} does not accept ${want === OCI_MANIFEST ? 'OCI' : 'Docker v2s2'} manifests (--format ${format})`);
  const alt = supported.find((t) => t === OCI_MANIFEST || t === DOCKER_V2S2_MANIFEST);
  if (!alt) throw new OcikitError('E_UNSUPPORTED', `${dest} accepts no single-image manifest type`);
  return alt;
}

/** The index type to write for a multi-image copy. */
export function chooseIndexType(srcType: string, supported: readonly string[], format: ManifestFormat | undefined, dest: string, alsoHolds: readonly string[] = [], preserve = false): string {
  const want = format === 'oci' ? OCI_INDEX : format === 'v2s2' ? DOCKER_LIST : srcType;
  if (supported.includes(want)) return want;
  if ((format !== undefined || preserve) && alsoHolds.includes(want)) return want;
  const hint = 'copy one image: drop --all and --platform (--override-arch chooses which)';
  if (format) throw new OcikitError('E_UNSUPPORTED', `${dest} does not accept ${want} (--format ${format})`, { hint });
  const alt = supported.find((t) => t === OCI_INDEX || t === DOCKER_LIST);
  if (!alt) throw new OcikitError('E_UNSUPPORTED', `${dest} cannot hold a multi-image index`, { hint });
  return alt;
}
