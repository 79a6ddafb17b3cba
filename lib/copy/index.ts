export { copyImage, writeDigestFile, platformString } from './copy.js';
export type { CopyOptions, CopyPolicy, CopyResult, ManifestSigner, MultiArch, ProgressEvent } from './copy.js';
export { DEFAULT_LEVEL, compressLayer, decompressLayer } from './transform.js';
export type { CompressFormat } from './transform.js';
