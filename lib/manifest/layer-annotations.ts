/**
 * Annotations that describe a layer's bytes rather than its content: the zstd:chunked table of
 * contents (containers/storage), the estargz one (stargz-snapshotter) and ocicrypt's encryption
 * keys. They are true only of the exact blob they came with: when a copy changes a layer's bytes
 * (recompresses, decompresses, decrypts) they MUST go, and the new blob's own come instead.
 */

/** zstd:chunked: the digest of the compressed table of contents (containers/storage's "manifest"). */
export const ZSTD_CHUNKED_TOC_DIGEST = 'io.github.containers.zstd-chunked.manifest-checksum';
/** zstd:chunked: OFFSET:LENGTH:UNCOMPRESSED-LENGTH:TYPE of the table of contents in the blob. */
export const ZSTD_CHUNKED_TOC_POSITION = 'io.github.containers.zstd-chunked.manifest-position';
/** zstd:chunked: OFFSET:LENGTH:UNCOMPRESSED-LENGTH of the tar-split data in the blob. */
export const ZSTD_CHUNKED_TARSPLIT_POSITION = 'io.github.containers.zstd-chunked.tarsplit-position';

/**
 * The same two facts under the names containers/storage read before its 1.44 rename (podman 4.3,
 * skopeo 1.9). ocikit writes them too, with the same values: such a podman then pulls the layer in
 * parts as well (its TOC format is the same; it ignores the tar-split), and newer readers ignore them.
 */
export const ZSTD_CHUNKED_LEGACY_TOC_DIGEST = 'io.containers.zstd-chunked.manifest-checksum';
export const ZSTD_CHUNKED_LEGACY_TOC_POSITION = 'io.containers.zstd-chunked.manifest-position';

/** Keys of byte-describing annotations other than ours: a short-lived containers/storage one, and estargz's. */
const OTHER_FORMAT_KEYS = [
  ZSTD_CHUNKED_LEGACY_TOC_DIGEST,
  ZSTD_CHUNKED_LEGACY_TOC_POSITION,
  'io.github.containers.zstd-chunked.tarsplit-checksum',
  'containerd.io/snapshot/stargz/toc.digest',
  'io.containers.estargz.uncompressed-size',
];
const CHUNKED_KEYS = [ZSTD_CHUNKED_TOC_DIGEST, ZSTD_CHUNKED_TOC_POSITION, ZSTD_CHUNKED_TARSPLIT_POSITION];

/** ocicrypt's annotations all start so (keys.jwe, keys.pkcs7, keys.pgp, pubopts). */
export const ENCRYPTION_ANNOTATION_PREFIX = 'org.opencontainers.image.enc.';

/**
 * True when a layer's annotations name a zstd:chunked table of contents (the keys containers/storage
 * reads today; a layer with only the pre-1.44 keys is plain zstd to it).
 */
export function isZstdChunked(annotations: Readonly<Record<string, string>> | undefined): boolean {
  return annotations !== undefined && typeof annotations[ZSTD_CHUNKED_TOC_DIGEST] === 'string' && typeof annotations[ZSTD_CHUNKED_TOC_POSITION] === 'string';
}

/**
 * A changed layer's annotations: the old blob's byte-describing ones removed (and its encryption
 * ones too when `decrypted`), `added` (the new blob's own) put in. Undefined when none remain.
 */
export function replaceFormatAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
  added: Readonly<Record<string, string>> | undefined,
  decrypted = false,
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations ?? {})) {
    if (CHUNKED_KEYS.includes(k) || OTHER_FORMAT_KEYS.includes(k)) continue;
    if (decrypted && k.startsWith(ENCRYPTION_ANNOTATION_PREFIX)) continue;
    out[k] = v;
  }
  Object.assign(out, added ?? {});
  return Object.keys(out).length > 0 ? out : undefined;
}
