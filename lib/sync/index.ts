/** sync: sources (docker repository, dir tree, YAML), destination naming, parallel image copies. See README.md. */
export { listSource, type SourceImage, type SourceListing, type SyncSourceKind, type ListFailure } from './sources.js';
export { runSync, destinationFor, type ImageResult, type ImageStatus, type SyncDestKind, type SyncOptions, type SyncReport } from './sync.js';
export { parseSyncConfig, readSyncConfig, semverRange, tagMatchesRange, tagVersion, type RegistryConfig, type RepoSelection } from './config.js';
