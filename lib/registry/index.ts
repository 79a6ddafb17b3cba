/** The distribution API client: see README.md. */
export { RegistryClient, NotReplayableError, registryHost, header, type RegistryOptions, type RegistryRequest, type RegistryResponse, type HttpMethod } from './client.js';
export { Repository, MANIFEST_ACCEPT, nextLink, type FetchedManifest, type ManifestHead, type PushedManifest, type ReferrersAnswer, type UploadSession } from './repository.js';
export { uploadBlob, DEFAULT_CHUNK_SIZE, type UploadInput, type UploadOptions } from './upload.js';
export { RegistryError, isRetryable } from './errors.js';
export { DEFAULT_RETRY_TIMES, MAX_RETRY_AFTER_MS, parseRetryAfter, withRetries, type RetryPolicy } from './retry.js';
export { closeDispatchers, loadCertDir } from './http.js';
export { checkLogin } from './login.js';
export { Semaphore, hostSemaphore, DEFAULT_PER_HOST, type TransferDirection } from './limiter.js';
export {
  loadRegistriesConf,
  registryEntryFor,
  parseRegistriesConf,
  registriesConfSources,
  findRegistry,
  pullSources,
  prefixMatch,
  type RegistriesConf,
  type RegistriesConfOptions,
  type RegistryEntry,
  type MirrorEntry,
  type PullSource,
} from './registries-conf.js';
