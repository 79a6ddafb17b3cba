/**
 * The referrers of an image (inspect --referrers): the OCI 1.1 referrers list of the manifest a
 * reference names, as its source reports it (a registry's referrers API or fallback tag, an OCI
 * layout's index.json), filtered by artifact type here too because a source MAY not filter.
 */
import { OcikitError } from '../errors.js';
import { digestBytes } from '../digest/index.js';
import type { Descriptor } from '../manifest/index.js';
import type { ImageReference, SystemContext } from '../transports/types.js';

/** One referrer as inspect --referrers prints it. */
export interface ReferrerEntry {
  digest: string;
  artifactType?: string;
  mediaType: string;
  size: number;
  annotations: Record<string, string>;
}

/**
 * The referrers of the manifest `ref` names (the top-level one: an index, not an instance of it).
 * E_UNSUPPORTED for a transport that cannot hold referrers. The list is what the source says: its
 * entries are not fetched or verified here (copy --referrers verifies each one it copies).
 */
export async function referrersOf(ref: ImageReference, ctx: SystemContext, artifactTypes: string[] = []): Promise<ReferrerEntry[]> {
  const src = await ref.newSource(ctx);
  try {
    if (!src.listReferrers) {
      throw new OcikitError('E_UNSUPPORTED', `listing referrers of ${ref}: this transport cannot hold OCI referrers`, {
        hint: 'referrers live in registries (docker://) and OCI layouts (oci:, oci-archive:)',
      });
    }
    const top = await src.getManifest();
    const list = await src.listReferrers(digestBytes(top.bytes), artifactTypes.length > 0 ? artifactTypes : undefined);
    return list.filter((d) => artifactTypes.length === 0 || (d.artifactType !== undefined && artifactTypes.includes(d.artifactType))).map(entry);
  } finally {
    await src.close();
  }
}

function entry(d: Descriptor): ReferrerEntry {
  return { digest: d.digest, ...(d.artifactType !== undefined ? { artifactType: d.artifactType } : {}), mediaType: d.mediaType, size: d.size, annotations: { ...(d.annotations ?? {}) } };
}
