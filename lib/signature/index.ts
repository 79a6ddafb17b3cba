/**
 * lib/signature: the trust policy (policy.json), simple signing through gpg, sigstore keys and
 * signatures, and where docker:// signatures live (registries.d). See README.md.
 */
export { SIGSTORE_SIGNATURE_ANNOTATION, SIGSTORE_SIGNATURE_MEDIA_TYPE, parseSignatureBlob, signatureBlobBytes, type SignatureBlob } from './blob.js';
export { CREATOR, SIGSTORE_PAYLOAD_TYPE, SIMPLE_SIGNING_TYPE, encodePayload, parsePayload, type SignedClaim } from './payload.js';
export { GpgVerifier, MAX_SIGNATURE_SIZE, signManifestGpg, verifySimpleSignature, type SimpleSignOptions, type VerifiedMessage, type VerifiedSimpleSignature } from './simple-signing.js';
export { generateSigstoreKeyPair, loadSigstorePrivateKey, loadSigstorePublicKey, signManifestSigstore, verifySigstoreSignature, type SigstoreKeyPair } from './sigstore.js';
export { identityMatches, type IdentityMatch } from './identity.js';
export { dockerReferenceIdentity, dockerReferenceNamespaces, explicitPath, policyScopes, type PolicyImageRef, type PolicyScopes } from './scopes.js';
export { PolicyContext, defaultPolicyPaths, loadPolicy, parsePolicy, type ImageToCheck, type KeySource, type Policy, type Requirement, type SignatureSource } from './policy.js';
export { builtinLookaside, loadRegistriesConfig, lookasideBase, lookasideSignatureURL, registriesDir, sigstoreAttachmentTag, useSigstoreAttachments, type RegistriesConfig } from './registries-d.js';
