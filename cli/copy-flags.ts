/**
 * The flags copy and sync share, as skopeo's sharedCopyFlags and imageDestFlags: how the
 * destination compresses layers and how the copy is signed. One parser for both commands, so
 * `sync --dest-compress-format zstd` means what it means to copy.
 */
import { OcikitError } from '../lib/errors.js';
import { baseFormat, isCompressionAlgorithm, type CompressionAlgorithm } from '../lib/manifest/index.js';
import type { TransportOptions } from '../lib/transports/types.js';
import { boolFlag, intFlag, type FlagSpec, type ParsedArgs } from './command.js';

/** The flag spec of the shared flags. */
export const SHARED_COPY_FLAGS: Required<Pick<FlagSpec, 'string' | 'boolean'>> = {
  string: ['dest-compress-format', 'dest-compress-level', 'sign-by', 'sign-by-sigstore-private-key', 'sign-passphrase-file', 'src-shared-blob-dir', 'dest-shared-blob-dir'],
  boolean: ['dest-compress', 'dest-decompress', 'dest-oci-accept-uncompressed-layers', 'dest-force-compress-format', 'dest-precompute-digests'],
};

/** Help lines for SHARED_COPY_FLAGS (copy adds --sign-identity to them). */
export const SHARED_COPY_HELP = `      --sign-by FINGERPRINT      sign the copy with this GPG key (simple signing)
      --sign-by-sigstore-private-key PATH
                                 sign the copy with this sigstore private key
      --sign-passphrase-file PATH
                                 the passphrase of the signing key (first line of PATH)
      --dest-compress            compress layers at a dir:, oci: or oci-archive: destination
      --dest-decompress          decompress layers at a dir:, oci: or oci-archive: destination
      --dest-compress-format gzip|zstd|zstd:chunked
                                 compression for layers the destination compresses (oci:, oci-archive:,
                                 docker://, dir: with --dest-compress), and a recompression of
                                 layers compressed otherwise (default gzip); zstd:chunked is zstd that
                                 podman can pull in parts (only the files it lacks)
      --dest-compress-level N    compression level (default gzip 4, zstd and zstd:chunked 3)
      --dest-force-compress-format
                                 use --dest-compress-format's format alone (ocikit always does when it is given:
                                 layers compressed otherwise are recompressed; this flag then only checks it is given)
      --dest-oci-accept-uncompressed-layers
                                 keep uncompressed layers uncompressed at an oci: destination
      --dest-precompute-digests  know a layer's digest before it is pushed, so a layer the registry has is
                                 not uploaded (what ocikit always does: accepted for skopeo's command lines)
      --src-shared-blob-dir DIR, --dest-shared-blob-dir DIR
                                 oci:: blobs are read from / written to DIR (as DIR/sha256/HEX) instead of the
                                 layout's blobs/ directory`;

/** What the shared compression flags ask: set on the destination's context and the copy's options. */
export interface CompressionChoice {
  compressFormat?: CompressionAlgorithm;
  compressLevel?: number;
}

/**
 * Read the shared destination flags: --dest-compress / --dest-decompress (into the destination's
 * write section), --dest-oci-accept-uncompressed-layers and the shared blob directories (into each
 * side's oci section), and --dest-compress-format / --dest-compress-level (returned, for
 * CopyOptions). --dest-precompute-digests is accepted and changes nothing: ocikit compresses a
 * layer into the store, and so knows its digest, before it asks the registry for it. E_USAGE for a
 * bad value or a contradiction.
 */
export function compressionFlags(args: ParsedArgs, destCtx: TransportOptions, srcCtx?: TransportOptions): CompressionChoice {
  const cf = args['dest-compress-format'] ? String(args['dest-compress-format']) : undefined;
  if (cf !== undefined && !isCompressionAlgorithm(cf)) throw new OcikitError('E_USAGE', `--dest-compress-format: expected gzip, zstd or zstd:chunked, got ${JSON.stringify(cf)}`);
  const zstdLevels = cf !== undefined && baseFormat(cf) === 'zstd';
  const level = intFlag(args, 'dest-compress-level', zstdLevels ? -7 : 0, zstdLevels ? 22 : 9);
  const forceCompress = boolFlag(args, 'dest-compress', false);
  const forceDecompress = boolFlag(args, 'dest-decompress', false);
  if (forceCompress && forceDecompress) throw new OcikitError('E_USAGE', 'choose one of --dest-compress and --dest-decompress');
  if (forceCompress || forceDecompress) destCtx.write = { ...destCtx.write, destCompression: forceCompress ? 'compress' : 'decompress' };
  if (boolFlag(args, 'dest-force-compress-format', false) && cf === undefined) {
    throw new OcikitError('E_USAGE', '--dest-force-compress-format needs --dest-compress-format', { hint: 'name the format: --dest-compress-format gzip|zstd|zstd:chunked' });
  }
  if (boolFlag(args, 'dest-oci-accept-uncompressed-layers', false)) destCtx.oci = { ...destCtx.oci, acceptUncompressedLayers: true };
  const shared = (flag: string): string | undefined => (typeof args[flag] === 'string' && args[flag] !== '' ? args[flag] : undefined);
  const destShared = shared('dest-shared-blob-dir');
  if (destShared !== undefined) destCtx.oci = { ...destCtx.oci, sharedBlobDir: destShared };
  const srcShared = shared('src-shared-blob-dir');
  if (srcShared !== undefined && srcCtx) srcCtx.oci = { ...srcCtx.oci, sharedBlobDir: srcShared };
  return { ...(cf ? { compressFormat: cf } : {}), ...(level !== undefined ? { compressLevel: level } : {}) };
}
