export { copyImage, writeDigestFile } from './copy.js';
export type { CopyOptions, CopyPolicy, CopyResult, ManifestSigner, MultiArch } from './copy.js';
export type { ProgressEvent, BlobPhase } from './progress.js';
export { DEFAULT_LEVEL, planLayer, type LayerPlan, type LayerPlanInput } from './plan.js';
export { chooseIndexType, chooseManifestType } from './manifest-type.js';
export type { ReferrerOptions } from './referrers.js';
