/**
 * The flags copy and sync share, as skopeo's sharedCopyFlags and imageDestFlags: how the
 * destination compresses layers and how the copy is signed. One parser for both commands, so
 * `sync --dest-compress-format zstd` means what it means to copy.
 */
import { OcikitError } from '../lib/errors.js';
import type { CompressionFormat } from '../lib/manifest/index.js';
import type { SystemContext } from '../lib/transports/types.js';
import { boolFlag, intFlag, type FlagSpec, type ParsedArgs } from './command.js';

/** The flag spec of the shared flags. */
export const SHARED_COPY_FLAGS: Required<Pick<FlagSpec, 'string' | 'boolean'>> = {
  string: ['dest-compress-format', 'dest-compress-level', 'sign-by', 'sign-by-sigstore-private-key', 'sign-passphrase-file'],
  boolean: ['dest-compress', 'dest-decompress'],
};

/** Help lines for SHARED_COPY_FLAGS (copy adds --sign-identity to them). */
export const SHARED_COPY_HELP = `      --sign-by FINGERPRINT      sign the copy with this GPG key (simple signing)
      --sign-by-sigstore-private-key PATH
                                 sign the copy with this sigstore private key
      --sign-passphrase-file PATH
                                 the passphrase of the signing key (first line of PATH)
      --dest-compress            compress layers at a dir:, oci: or oci-archive: destination
      --dest-decompress          decompress layers at a dir:, oci: or oci-archive: destination
      --dest-compress-format gzip|zstd
                                 compression for layers the destination compresses (oci:, oci-archive:,
                                 docker://, dir: with --dest-compress), and a recompression of
                                 layers compressed otherwise (default gzip)
      --dest-compress-level N    compression level (default gzip 4, zstd 3)`;

/** What the shared compression flags ask: set on the destination's context and the copy's options. */
export interface CompressionChoice {
  compressFormat?: CompressionFormat;
  compressLevel?: number;
}

/**
 * Read --dest-compress / --dest-decompress (into `destCtx.destCompression`) and
 * --dest-compress-format / --dest-compress-level (returned, for CopyOptions). E_USAGE for a bad value
 * or a contradiction.
 */
export function compressionFlags(args: ParsedArgs, destCtx: SystemContext): CompressionChoice {
  const cf = args['dest-compress-format'] ? String(args['dest-compress-format']) : undefined;
  if (cf !== undefined && cf !== 'gzip' && cf !== 'zstd') throw new OcikitError('E_USAGE', `--dest-compress-format: expected gzip or zstd, got ${JSON.stringify(cf)}`);
  const level = intFlag(args, 'dest-compress-level', cf === 'zstd' ? -7 : 0, cf === 'zstd' ? 22 : 9);
  const forceCompress = boolFlag(args, 'dest-compress', false);
  const forceDecompress = boolFlag(args, 'dest-decompress', false);
  if (forceCompress && forceDecompress) throw new OcikitError('E_USAGE', 'choose one of --dest-compress and --dest-decompress');
  if (forceCompress) destCtx.destCompression = 'compress';
  if (forceDecompress) destCtx.destCompression = 'decompress';
  return { ...(cf ? { compressFormat: cf } : {}), ...(level !== undefined ? { compressLevel: level } : {}) };
}
