/** The layer compression flags copy and sync share, read one way for both. */
import { OcikitError } from '../lib/errors.js';
import { baseFormat, isCompressionAlgorithm, type CompressionAlgorithm } from '../lib/manifest/index.js';
import { boolFlag, intFlag, type FlagSpec, type ParsedArgs } from './command.js';

export const COMPRESSION_FLAGS: Required<Pick<FlagSpec, 'string' | 'boolean'>> = {
  string: ['dest-compress-format', 'dest-compress-level'],
  boolean: ['dest-compress', 'dest-decompress'],
};

export const COMPRESSION_HELP = `      --dest-compress            compress layers at a dir:, oci: or oci-archive: destination
      --dest-decompress          decompress layers at a dir:, oci: or oci-archive: destination
      --dest-compress-format gzip|zstd|zstd:chunked
                                 compression for layers the destination compresses (oci:, oci-archive:,
                                 docker://, dir: with --dest-compress), and a recompression of
                                 layers compressed otherwise (default gzip); zstd:chunked is zstd that
                                 podman can pull in parts (only the files it lacks)
      --dest-compress-level N    compression level (default gzip 4, zstd and zstd:chunked 3)`;

export interface CompressionChoice {
  format?: CompressionAlgorithm;
  level?: number;
  destCompression?: 'compress' | 'decompress';
}

/** --dest-compress-format, --dest-compress-level (range by format), --dest-compress / --dest-decompress. */
export function compressionFlags(args: ParsedArgs): CompressionChoice {
  const out: CompressionChoice = {};
  const cf = args['dest-compress-format'] ? String(args['dest-compress-format']) : undefined;
  if (cf !== undefined && !isCompressionAlgorithm(cf)) throw new OcikitError('E_USAGE', `--dest-compress-format: expected gzip, zstd or zstd:chunked, got ${JSON.stringify(cf)}`);
  if (cf !== undefined) out.format = cf;
  const zstdLevels = cf !== undefined && baseFormat(cf) === 'zstd';
  const level = intFlag(args, 'dest-compress-level', zstdLevels ? -7 : 0, zstdLevels ? 22 : 9);
  if (level !== undefined) out.level = level;
  const compress = boolFlag(args, 'dest-compress', false);
  const decompress = boolFlag(args, 'dest-decompress', false);
  if (compress && decompress) throw new OcikitError('E_USAGE', 'choose one of --dest-compress and --dest-decompress');
  if (compress) out.destCompression = 'compress';
  if (decompress) out.destCompression = 'decompress';
  return out;
}
