/** `ocikit serve`: the store served over the OCI distribution API. See README.md. */
export { RegistryServer, type ServeOptions } from './server.js';
export { Htpasswd } from './auth.js';
export { API_ERRORS, ApiError, type ApiErrorCode } from './errors.js';
export { AccessPolicy, type Action, type Principal } from './access.js';
export { parseMirrorSpec, type MirrorSpec } from './mirror.js';
