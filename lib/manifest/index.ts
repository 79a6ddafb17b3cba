/**
 * lib/manifest: media types; OCI and Docker v2s2 manifests, indexes, lists and configs; parsing
 * untrusted bytes; pure v2s2 <-> OCI conversion; platform matching. It never touches layer bytes
 * and imports nothing above lib/digest and lib/errors.ts.
 */
export * from './media-types.js';
export * from './types.js';
export * from './parse.js';
export * from './encode.js';
export * from './convert.js';
export * from './platform.js';
export * from './referrers.js';
export * from './layer-annotations.js';
