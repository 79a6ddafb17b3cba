/**
 * lib/reference: docker references and every transport's image-name syntax, as pure string parsers.
 * See README.md for why it is shaped so.
 */
export {
  DEFAULT_DOMAIN,
  DEFAULT_TAG,
  NAME_TOTAL_LENGTH_MAX,
  OFFICIAL_REPO_PREFIX,
  familiarName,
  familiarString,
  isImageId,
  isRegistryDomain,
  isNameOnly,
  namesRegistry,
  parseDockerReference,
  trimNamed,
  withDefaultTag,
  withDigest,
  withTag,
  type DockerReference,
} from './docker.js';
export {
  KNOWN_TRANSPORTS,
  TRANSPORT_ALIASES,
  absolutePath,
  formatImageName,
  formatWithinTransport,
  isKnownTransport,
  parseImageNameSyntax,
  parseWithinTransport,
  splitImageName,
  type SplitImageName,
  type TransportName,
  type TransportReference,
} from './transports.js';
export { formatDirReference, parseDirReference, type DirReference } from './syntax/dir.js';
export { formatOciReference, isValidOciRefName, parseOciReference, type OciReference } from './syntax/oci.js';
export { formatOciArchiveReference, parseOciArchiveReference, type OciArchiveReference } from './syntax/oci-archive.js';
export { formatDockerArchiveReference, parseDockerArchiveReference, type DockerArchiveReference } from './syntax/docker-archive.js';
export { formatDockerTransportReference, parseDockerTransportReference, type DockerTransportReference } from './syntax/docker.js';
export { formatDockerDaemonReference, parseDockerDaemonReference, type DockerDaemonReference } from './syntax/docker-daemon.js';
export { formatStorageReference, parseStorageReference, type StorageReference } from './syntax/containers-storage.js';
export { MAX_REPOSITORY_LENGTH, formatStoreName, isRepositoryName, isTagName, parseStoreName, type StoreName } from './syntax/store.js';
