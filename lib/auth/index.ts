/** Registry credentials and authentication: see README.md. */
export { parseWwwAuthenticate, findChallenge, type Challenge } from './challenge.js';
export {
  authFileLocations,
  candidateKeys,
  defaultAuthFile,
  lookupCredentials,
  normalizeAuthKey,
  readAuthFile,
  removeAllCredentials,
  removeCredentials,
  storeCredentials,
  dockerCompatKey,
  writeAuthFile,
  type AuthEntry,
  type AuthFileContent,
  type Credentials,
  type FoundCredentials,
} from './auth-file.js';
export { helperErase, helperGet, helperStore, helperProgram, type HelperCredentials } from './cred-helper.js';
export { requestBearerToken, scopeKey, tokenUsable, DEFAULT_TOKEN_LIFETIME_S, type BearerToken, type TokenHttp } from './token.js';
