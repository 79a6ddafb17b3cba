/**
 * OCI 1.1 referrers in an OCI image layout. The image-spec says nothing of referrers in a layout
 * beyond "index.json is the entry point ... to discover auxiliary descriptors", so this reads the
 * two conventions tools use, and writes the first:
 *
 * 1. an index.json entry (untagged, as ocikit and oras write them) whose manifest has a `subject`;
 *    ocikit gives it the referrers-list fields (artifactType, annotations) too;
 * 2. an index.json entry named by the referrers tag schema (`sha256-<hex>` as its
 *    org.opencontainers.image.ref.name) holding an OCI index that lists the referrers.
 *
 * Blobs that no index.json entry reaches are not searched: a layout MAY hold unreferenced blobs
 * (garbage), and a referrer nobody listed is not one this layout publishes.
 */
import { isOcikitError } from '../../errors.js';
import type { Digest } from '../../digest/index.js';
import { OCI_INDEX, OCI_MANIFEST, parseManifest, referrerDescriptor, referrersTag, subjectOf, type Descriptor, type OciIndex } from '../../manifest/index.js';
import { REF_NAME_ANNOTATION } from './layout.js';

/** Reads a manifest of the layout by digest, verified; E_NOT_FOUND when its blob is absent. */
export type ReadManifest = (digest: Digest, size: number) => Promise<Buffer>;

/**
 * Every referrer the layout lists, by subject digest. Reads each manifest that index.json names
 * (once); an entry whose blob is absent is skipped (a layout MAY lack blobs), any other failure
 * (a digest mismatch, malformed JSON) is an error.
 */
export async function layoutReferrers(index: OciIndex, read: ReadManifest): Promise<Map<Digest, Descriptor[]>> {
  const out = new Map<Digest, Descriptor[]>();
  const add = (subject: Digest, d: Descriptor): void => {
    const list = out.get(subject) ?? [];
    if (!list.some((x) => x.digest === d.digest)) list.push(d);
    out.set(subject, list);
  };
  const tryRead = async (d: Descriptor): Promise<Buffer | undefined> => {
    try {
      return await read(d.digest, d.size);
    } catch (err) {
      if (isOcikitError(err, 'E_NOT_FOUND')) return undefined;
      throw err;
    }
  };
  for (const entry of index.manifests) {
    if (entry.mediaType !== OCI_MANIFEST && entry.mediaType !== OCI_INDEX) continue;
    const bytes = await tryRead(entry);
    if (!bytes) continue;
    const parsed = parseManifest(bytes, entry.mediaType);
    const subject = subjectOf(parsed);
    if (subject) add(subject.digest, referrerDescriptor(parsed, entry.digest, bytes.length));
    // Convention 2: the entry is the fallback-tag index of the subject its name encodes.
    const name = entry.annotations?.[REF_NAME_ANNOTATION];
    if (parsed.kind === 'oci-index' && name !== undefined && /^[a-z0-9]+-[0-9a-f]{64}$/.test(name)) {
      const subjectDigest = `${name.slice(0, name.indexOf('-'))}:${name.slice(name.indexOf('-') + 1)}` as Digest;
      if (referrersTag(subjectDigest) === name) for (const d of parsed.value.manifests) add(subjectDigest, d);
    }
  }
  return out;
}
