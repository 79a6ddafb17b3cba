/**
 * signedIdentity: how the docker reference a signature claims is compared with the image
 * (containers-policy.json(5); containers/image signature/policy_reference_match.go).
 */
import { OcikitError, isOcikitError } from '../errors.js';
import { isNameOnly, parseDockerReference, type DockerReference } from '../reference/index.js';

/** One signedIdentity value of a policy requirement. */
export type IdentityMatch =
  | { type: 'matchExact' }
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

function parseOrUndefined(s: string): DockerReference | undefined {
  try {
    return parseDockerReference(s);
  } catch (err) {
    if (isOcikitError(err)) return undefined;
    throw err;
  }
}

function full(r: DockerReference): string {
  return r.toString();
}

/** Tagged image: the signature names exactly it; digested image: the same repository, any tag. */
function repoDigestOrExact(intended: DockerReference, signed: DockerReference): boolean {
  if (isNameOnly(signed)) return false;
  if (intended.tag !== undefined) return full(signed) === full(intended);
  if (intended.digest !== undefined) return signed.name === intended.name;
  return false;
}

function matchesPrefix(name: string, prefix: string): boolean {
  if (name.length < prefix.length) return false;
  if (name.length === prefix.length) return name === prefix;
  return name.startsWith(prefix) && name[prefix.length] === '/';
}

/**
 * Whether a signature claiming `signedRef` is accepted for an image known as `imageRef` (its
 * transport's docker reference, if any). A claim that does not parse never matches.
 */
export function identityMatches(m: IdentityMatch, imageRef: string | undefined, signedRef: string): boolean {
  const signed = parseOrUndefined(signedRef);
  if (!signed) return false;
  switch (m.type) {
    case 'exactReference': {
      const want = parseOrUndefined(m.dockerReference);
      return !!want && !isNameOnly(want) && !isNameOnly(signed) && full(signed) === full(want);
    }
    case 'exactRepository': {
      const want = parseOrUndefined(m.dockerRepository);
      return !!want && signed.name === want.name;
    }
    default:
      break;
  }
  // The remaining kinds compare with the image's own identity, which dir:, oci: and the archives lack.
  const intended = imageRef === undefined ? undefined : parseOrUndefined(imageRef);
  if (!intended) return false;
  switch (m.type) {
    case 'matchExact':
      return !isNameOnly(intended) && !isNameOnly(signed) && full(signed) === full(intended);
    case 'matchRepoDigestOrExact':
      return repoDigestOrExact(intended, signed);
    case 'matchRepository':
      return signed.name === intended.name;
    case 'remapIdentity': {
      let target = intended;
      if (matchesPrefix(intended.name, m.prefix)) {
        const rewritten = full(intended).replace(m.prefix, m.signedPrefix);
        const r = parseOrUndefined(rewritten);
        // containers/image re-parses without normalisation: the result must already be canonical.
        if (!r || full(r) !== rewritten) return false;
        target = r;
      }
      return repoDigestOrExact(target, signed);
    }
  }
}

/** A remapIdentity prefix: a host[:port], or host[:port]/path without tag or digest. */
export function validateRemapPrefix(s: string, field: string): void {
  const bad = (why: string): never => {
    throw new OcikitError('E_BAD_INPUT', `remapIdentity ${field} ${JSON.stringify(s)} is not valid: ${why}`);
  };
  if (!s) bad('empty');
  const slash = s.indexOf('/');
  const host = slash < 0 ? s : s.slice(0, slash);
  if (!/^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$/.test(host)) bad('not a host name');
  if (slash >= 0) {
    const r = parseOrUndefined(s);
    if (!r || r.tag !== undefined || r.digest !== undefined || r.name !== s) bad('not a repository or namespace in its full form');
  }
}
