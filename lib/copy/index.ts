export { copyImage, writeDigestFile } from './copy.js';
export { DEFAULT_BLOB_JOBS } from './limit.js';
export type { CopyOptions, CopyPolicy, CopyResult, LayerDecryption, LayerEncryption, ManifestSigner, MultiArch, ReferrerOptions } from './options.js';
export type { ProgressEvent, BlobPhase } from './progress.js';
export { DEFAULT_LEVEL, planLayer, type LayerPlan, type LayerPlanInput } from './plan.js';
export { chooseIndexType, chooseManifestType } from './manifest-type.js';
