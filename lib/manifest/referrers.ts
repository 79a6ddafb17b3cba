/**
 * Referrers and artifacts (OCI image-spec 1.1, distribution-spec 1.1), as pure functions: which
 * manifests are artifacts rather than container images, what a manifest's `subject` is, the
 * descriptor a referrers list gives a manifest, and the fallback tag of the referrers tag schema.
 *
 * Facts this encodes (distribution-spec "Listing Referrers" and "Pushing Manifests with Subject"):
 * a referrers-list entry carries the manifest's `artifactType`; an image manifest without one gets
 * its config's media type instead, an index without one gets none; every annotation of the
 * manifest is copied onto the entry.
 */
import type { Digest } from '../digest/index.js';
import { isImageConfigMediaType } from './media-types.js';
import type { Descriptor, ParsedImageManifest, ParsedManifest } from './types.js';

/** The media type of the empty descriptor's blob, `{}` (image-spec "Guidance for an Empty Descriptor"). */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

/**
 * The tag of the referrers tag schema for `digest`: the algorithm cut to 32 characters, `-`, the
 * encoded part cut to 64, every character a tag may not hold replaced by `-`
 * (`sha256:ab…` -> `sha256-ab…`). A registry without the referrers API keeps there an OCI index
 * listing the referrers of `digest`.
 */
export function referrersTag(digest: Digest | string): string {
  const i = digest.indexOf(':');
  const alg = digest.slice(0, i).slice(0, 32);
  const enc = digest.slice(i + 1).slice(0, 64);
  return `${alg}-${enc}`.replace(/[^a-zA-Z0-9._-]/g, '-');
}

/** Whether `tag` is a sha256 digest's referrers tag (what referrersTag gives): `sha256-<64 hex>`. */
export function isReferrersTag(tag: string): boolean {
  return /^sha256-[0-9a-f]{64}$/.test(tag);
}

/** The `subject` of an OCI manifest or index: the manifest it refers to. Docker types have none. */
export function subjectOf(parsed: ParsedManifest): Descriptor | undefined {
  return parsed.kind === 'oci-manifest' || parsed.kind === 'oci-index' ? parsed.value.subject : undefined;
}

/**
 * The artifact type a referrers list gives this manifest: its `artifactType`; else, for an image
 * manifest, its config's media type; else (an index) none.
 */
export function artifactTypeOf(parsed: ParsedManifest): string | undefined {
  if (parsed.kind === 'oci-manifest' || parsed.kind === 'oci-index') {
    const t = parsed.value.artifactType;
    if (t !== undefined && t !== '') return t;
  }
  if (parsed.kind === 'oci-manifest' || parsed.kind === 'docker-v2s2') return parsed.value.config.mediaType;
  return undefined;
}

/**
 * The entry for a manifest in a referrers list (the referrers API's answer, the fallback tag's
 * index, an OCI layout's index.json): media type, digest, size, artifact type, annotations.
 */
export function referrerDescriptor(parsed: ParsedManifest, digest: Digest, size: number): Descriptor {
  const d: Descriptor = { mediaType: parsed.mediaType, digest, size };
  const t = artifactTypeOf(parsed);
  if (t !== undefined) d.artifactType = t;
  const ann = parsed.kind === 'oci-manifest' || parsed.kind === 'oci-index' ? parsed.value.annotations : undefined;
  if (ann && Object.keys(ann).length > 0) d.annotations = { ...ann };
  return d;
}

/**
 * True when an image manifest describes an artifact, not a container image: it names an
 * `artifactType`, or its config is not an image config (the empty descriptor, a Helm chart's
 * config, ...). An artifact's blobs are opaque: they are copied as they are, never decompressed,
 * recompressed or converted. A manifest with an image config and no artifactType is an image (its
 * layers must then have known layer types, as before).
 */
export function isArtifactManifest(parsed: ParsedImageManifest): boolean {
  if (parsed.kind === 'oci-manifest' && parsed.value.artifactType !== undefined && parsed.value.artifactType !== '') return true;
  return !isImageConfigMediaType(parsed.value.config.mediaType);
}
