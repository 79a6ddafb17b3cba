/**
 * The trust policy (containers-policy.json(5)): parsed as strictly as containers/image parses it,
 * looked up by transport and scope (the most specific scope wins, see scopes.ts), and evaluated on
 * an image before any of its bytes move.
 *
 * Requirements: insecureAcceptAnything, reject, signedBy (GPGKeys: keyPath | keyPaths | keyData)
 * and sigstoreSigned (keyPath | keyPaths | keyData | keyDatas). Every requirement of the chosen
 * scope must accept the image; a signing requirement accepts it when at least one of the image's
 * signatures of its kind verifies with its keys AND claims this manifest digest AND an identity its
 * signedIdentity accepts.
 *
 * Deliberate differences from containers/image, each said where it is made: fulcio, pki and rekor
 * keys of sigstoreSigned parse but reject at evaluation (ocikit cannot check them). A key given
 * twice in one object is refused with its line, as skopeo refuses it (JSON.parse would keep the last).
 */
import { existsSync, promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { duplicateJsonKey } from '../config-keys.js';
import { OcikitError, isOcikitError, quoteUntrusted, wrapError } from '../errors.js';
import { parseDockerReference, isNameOnly } from '../reference/index.js';
import type { Digest } from '../digest/index.js';
import { parseSignatureBlob } from './blob.js';
import { identityMatches, validateRemapPrefix, type IdentityMatch } from './identity.js';
import { invalidScope, policyScopes, type PolicyImageRef } from './scopes.js';
import { GpgVerifier, verifySimpleSignature } from './simple-signing.js';
import { loadSigstorePublicKey, verifySigstoreSignature } from './sigstore.js';
import { SIGSTORE_SIGNATURE_MEDIA_TYPE } from './blob.js';
import type { SignedClaim } from './payload.js';

/** Where keys of a requirement come from: exactly one of these, as policy.json allows. */
export type KeySource = { kind: 'path'; path: string } | { kind: 'paths'; paths: string[] } | { kind: 'data'; data: Buffer } | { kind: 'datas'; datas: Buffer[] };

/** One parsed policy requirement. */
export type Requirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | { type: 'signedBy'; keyType: string; keys: KeySource; signedIdentity: IdentityMatch }
  | { type: 'signedBaseLayer' }
  | { type: 'sigstoreSigned'; keys?: KeySource; unsupported?: string; signedIdentity: IdentityMatch };

/** A parsed policy.json. */
export interface Policy {
  default: Requirement[];
  /** transport name -> scope -> requirements */
  transports: Record<string, Record<string, Requirement[]>>;
}

/** The default policy files, in the order they are tried ($HOME first, as containers/image). */
export function defaultPolicyPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  return [join(env.HOME || homedir(), '.config', 'containers', 'policy.json'), '/etc/containers/policy.json'];
}

// === parsing

class PolicyFormatError extends Error {}

function fail(at: string, msg: string): never {
  throw new PolicyFormatError(at ? `${at}: ${msg}` : msg);
}

function object(v: unknown, at: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(at, 'expected a JSON object');
  return v as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], at: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(at, `unknown field ${JSON.stringify(k)}`);
}

function str(v: unknown, at: string): string {
  if (typeof v !== 'string') fail(at, 'expected a string');
  return v;
}

function base64Bytes(v: unknown, at: string): Buffer {
  const s = str(v, at);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) fail(at, 'not valid base64');
  return Buffer.from(s, 'base64');
}

function strArray(v: unknown, at: string): string[] {
  if (!Array.isArray(v)) fail(at, 'expected an array of strings');
  return v.map((x, i) => str(x, `${at}[${i}]`));
}

function keySource(o: Record<string, unknown>, names: { path: string; paths: string; data: string; datas?: string }, at: string, allowNone = false): KeySource | undefined {
  const present = Object.values(names).filter((n) => n !== undefined && o[n] !== undefined);
  if (present.length === 0) {
    if (allowNone) return undefined;
    fail(at, `exactly one of ${Object.values(names).join(', ')} must be present, none is`);
  }
  if (present.length > 1) fail(at, `exactly one of ${Object.values(names).join(', ')} must be present, got ${present.join(' and ')}`);
  const n = present[0]!;
  if (n === names.path) {
    const p = str(o[n], `${at}.${n}`);
    if (p === '') fail(`${at}.${n}`, 'empty path');
    return { kind: 'path', path: p };
  }
  if (n === names.paths) return { kind: 'paths', paths: strArray(o[n], `${at}.${n}`) };
  if (n === names.data) return { kind: 'data', data: base64Bytes(o[n], `${at}.${n}`) };
  if (!Array.isArray(o[n])) fail(`${at}.${n}`, 'expected an array of base64 strings');
  return { kind: 'datas', datas: (o[n] as unknown[]).map((x, i) => base64Bytes(x, `${at}.${n}[${i}]`)) };
}

function parseIdentity(v: unknown, at: string): IdentityMatch {
  if (v === undefined) return { type: 'matchRepoDigestOrExact' };
  const o = object(v, at);
  const t = o.type;
  switch (t) {
    case 'matchExact':
    case 'matchRepoDigestOrExact':
    case 'matchRepository':
      onlyKeys(o, ['type'], at);
      return { type: t };
    case 'exactReference': {
      onlyKeys(o, ['type', 'dockerReference'], at);
      const r = str(o.dockerReference, `${at}.dockerReference`);
      let parsed;
      try {
        parsed = parseDockerReference(r);
      } catch (err) {
        fail(`${at}.dockerReference`, (err as Error).message);
      }
      if (isNameOnly(parsed)) fail(`${at}.dockerReference`, `${JSON.stringify(r)} has neither a tag nor a digest`);
      return { type: t, dockerReference: r };
    }
    case 'exactRepository': {
      onlyKeys(o, ['type', 'dockerRepository'], at);
      const r = str(o.dockerRepository, `${at}.dockerRepository`);
      try {
        parseDockerReference(r);
      } catch (err) {
        fail(`${at}.dockerRepository`, (err as Error).message);
      }
      return { type: t, dockerRepository: r };
    }
    case 'remapIdentity': {
      onlyKeys(o, ['type', 'prefix', 'signedPrefix'], at);
      const prefix = str(o.prefix, `${at}.prefix`);
      const signedPrefix = str(o.signedPrefix, `${at}.signedPrefix`);
      try {
        validateRemapPrefix(prefix, 'prefix');
        validateRemapPrefix(signedPrefix, 'signedPrefix');
      } catch (err) {
        fail(at, (err as Error).message);
      }
      return { type: t, prefix, signedPrefix };
    }
    default:
      fail(at, `unknown signedIdentity type ${JSON.stringify(t)}`);
  }
}

const KEY_TYPES = ['GPGKeys', 'signedByGPGKeys', 'X509Certificates', 'signedByX509CAs'];

function parseRequirement(v: unknown, at: string): Requirement {
  const o = object(v, at);
  const t = o.type;
  switch (t) {
    case 'insecureAcceptAnything':
    case 'reject':
      onlyKeys(o, ['type'], at);
      return { type: t };
    case 'signedBy': {
      onlyKeys(o, ['type', 'keyType', 'keyPath', 'keyPaths', 'keyData', 'signedIdentity'], at);
      const keyType = str(o.keyType, `${at}.keyType`);
      if (!KEY_TYPES.includes(keyType)) fail(`${at}.keyType`, `unrecognised keyType ${JSON.stringify(keyType)}`);
      const keys = keySource(o, { path: 'keyPath', paths: 'keyPaths', data: 'keyData' }, at)!;
      return { type: t, keyType, keys, signedIdentity: parseIdentity(o.signedIdentity, `${at}.signedIdentity`) };
    }
    case 'signedBaseLayer':
      onlyKeys(o, ['type', 'baseLayerIdentity'], at);
      parseIdentity(o.baseLayerIdentity ?? {}, `${at}.baseLayerIdentity`);
      return { type: t };
    case 'sigstoreSigned': {
      const cert = ['fulcio', 'pki', 'rekorPublicKeyPath', 'rekorPublicKeyPaths', 'rekorPublicKeyData', 'rekorPublicKeyDatas'];
      onlyKeys(o, ['type', 'keyPath', 'keyPaths', 'keyData', 'keyDatas', 'signedIdentity', ...cert], at);
      const signedIdentity = parseIdentity(o.signedIdentity, `${at}.signedIdentity`);
      const certs = cert.filter((k) => o[k] !== undefined);
      const keys = keySource(o, { path: 'keyPath', paths: 'keyPaths', data: 'keyData', datas: 'keyDatas' }, at, certs.length > 0);
      if (keys && (o.fulcio !== undefined || o.pki !== undefined)) fail(at, 'exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio and pki must be present');
      // Deliberate difference: ocikit cannot check Fulcio certificates, PKI chains or Rekor SETs. Such a
      // requirement parses (so the rest of the policy works) and rejects every image it applies to.
      if (certs.length > 0) return { type: t, signedIdentity, unsupported: `${certs.join(', ')} (certificate and transparency-log verification is not supported by ocikit)` };
      return { type: t, keys: keys!, signedIdentity };
    }
    default:
      fail(at, `unknown policy requirement type ${JSON.stringify(t)}`);
  }
}

function parseRequirements(v: unknown, at: string): Requirement[] {
  if (!Array.isArray(v)) fail(at, 'expected an array of requirements');
  if (v.length === 0) fail(at, 'the list of requirements must not be empty');
  return v.map((r, i) => parseRequirement(r, `${at}[${i}]`));
}

/** Parse policy.json bytes. E_BAD_INPUT naming `source` and where in the file what is wrong. */
export function parsePolicy(bytes: Buffer | string, source = 'policy'): Policy {
  const what = `reading trust policy ${source}`;
  const text = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new OcikitError('E_BAD_INPUT', `${what}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const dup = duplicateJsonKey(text);
  if (dup) throw new OcikitError('E_BAD_INPUT', `${what}: line ${dup.line}: duplicate key ${quoteUntrusted(dup.key)}`);
  try {
    const top = object(v, '');
    onlyKeys(top, ['default', 'transports'], '');
    if (top.default === undefined) fail('', 'the "default" policy is missing');
    const policy: Policy = { default: parseRequirements(top.default, 'default'), transports: {} };
    if (top.transports !== undefined && top.transports !== null) {
      for (const [t, scopes] of Object.entries(object(top.transports, 'transports'))) {
        const at = `transports.${t}`;
        const out: Record<string, Requirement[]> = {};
        for (const [scope, reqs] of Object.entries(object(scopes, at))) {
          const bad = scope === '' ? undefined : invalidScope(t, scope);
          if (bad) fail(`${at}[${JSON.stringify(scope)}]`, `invalid scope: ${bad}`);
          out[scope] = parseRequirements(reqs, `${at}[${JSON.stringify(scope)}]`);
        }
        policy.transports[t] = out;
      }
    }
    return policy;
  } catch (err) {
    if (err instanceof PolicyFormatError) throw new OcikitError('E_BAD_INPUT', `${what}: ${err.message}`);
    throw err;
  }
}

/**
 * Read the policy: `path` when given (--policy), else the first default file that exists. Without
 * any, E_POLICY with skopeo's advice: a policy file, or --insecure-policy.
 */
export async function loadPolicy(path?: string, candidates: string[] = defaultPolicyPaths()): Promise<{ policy: Policy; path: string }> {
  let p = path;
  if (p === undefined) {
    p = candidates.find((c) => existsSync(c));
    if (p === undefined) {
      throw new OcikitError('E_POLICY', `no trust policy: none of ${candidates.join(', ')} exists`, {
        hint: 'write a policy.json (containers-policy.json(5)), name one with --policy, or use --insecure-policy to copy without checking',
      });
    }
  }
  const bytes = await fsp.readFile(p).catch((err) => {
    throw wrapError(err, `reading trust policy ${p}`);
  });
  return { policy: parsePolicy(bytes, p), path: p };
}

// === evaluation

/** What the policy check is given of the source: its reference and, when it has any, its signatures. */
export interface SignatureSource {
  readonly reference: PolicyImageRef;
  getSignatures?(instance?: Digest): Promise<Buffer[]>;
}

/** One image the copy will take: its manifest digest and, for an index instance, that digest again as `instance`. */
export interface ImageToCheck {
  digest: Digest;
  instance?: Digest;
}

class Rejection extends Error {}

/**
 * Evaluates a policy. Keys are loaded once per requirement and reused for every image; close()
 * removes the throwaway GnuPG homes. Implements the copy pipeline's policy hook (`check`).
 */
export class PolicyContext {
  readonly #gpg = new Map<Requirement, Promise<GpgVerifier>>();
  readonly #sigstoreKeys = new Map<Requirement, Promise<KeyObject[]>>();

  constructor(
    readonly policy: Policy,
    /** Where the policy came from, for messages. */
    readonly source = 'policy.json',
    /** --debug: gpg's own output while it checks signatures (never shown otherwise). */
    private readonly debug?: (line: string) => void,
  ) {}

  /** The requirements that apply to `ref` and a label of the scope they came from. */
  requirementsFor(ref: PolicyImageRef): { scope: string; requirements: Requirement[] } {
    const t = ref.transport.name;
    const scopes = this.policy.transports[t];
    if (scopes) {
      const { identity, namespaces } = policyScopes(ref);
      for (const s of identity === '' ? namespaces : [identity, ...namespaces]) {
        const r = scopes[s];
        if (r) return { scope: `${t}:${JSON.stringify(s)}`, requirements: r };
      }
      if (scopes['']) return { scope: `${t}:""`, requirements: scopes[''] };
    }
    return { scope: 'default', requirements: this.policy.default };
  }

  /**
   * The copy hook: throw E_POLICY unless every image in `images` is allowed. Called before any blob
   * moves. Signatures are read only when a requirement needs them.
   */
  async check(source: SignatureSource, images: ImageToCheck[]): Promise<void> {
    const ref = source.reference;
    const { scope, requirements } = this.requirementsFor(ref);
    for (const img of images) {
      let sigs: Promise<Buffer[]> | undefined;
      const signatures = (): Promise<Buffer[]> => (sigs ??= source.getSignatures ? source.getSignatures(img.instance) : Promise.resolve([]));
      for (const req of requirements) {
        try {
          await this.requirementAllows(req, ref, img.digest, signatures);
        } catch (err) {
          if (!(err instanceof Rejection)) throw err;
          const which = img.instance ? ` (image ${img.instance.slice(0, 19)}…)` : '';
          throw new OcikitError('E_POLICY', `source image ${ref}${which} rejected by trust policy ${this.source}, scope ${scope}, requirement ${req.type}: ${err.message}`);
        }
      }
    }
  }

  private async requirementAllows(req: Requirement, ref: PolicyImageRef, digest: Digest, signatures: () => Promise<Buffer[]>): Promise<void> {
    switch (req.type) {
      case 'insecureAcceptAnything':
        return;
      case 'reject':
        throw new Rejection('the policy rejects every image here');
      case 'signedBaseLayer':
        throw new Rejection('signedBaseLayer is not implemented');
      case 'signedBy':
      case 'sigstoreSigned': {
        if (req.type === 'signedBy' && req.keyType !== 'GPGKeys') throw new Rejection(`keyType ${req.keyType} is not implemented`);
        if (req.type === 'sigstoreSigned' && req.unsupported) throw new Rejection(`uses ${req.unsupported}`);
        const all = await signatures();
        const wanted = req.type === 'signedBy' ? 'simple-signing' : 'sigstore';
        const reasons: string[] = [];
        let others = 0;
        for (const [i, blob] of all.entries()) {
          const what = `signature ${i + 1}`;
          let parsed;
          try {
            parsed = parseSignatureBlob(blob, what);
          } catch (err) {
            if (!isOcikitError(err)) throw err;
            reasons.push(err.message);
            continue;
          }
          if (parsed.format !== wanted || (parsed.format === 'sigstore' && parsed.mediaType !== SIGSTORE_SIGNATURE_MEDIA_TYPE)) {
            others++;
            continue;
          }
          try {
            let claim: SignedClaim;
            if (parsed.format === 'simple-signing') {
              const v = await this.gpgFor(req);
              claim = (await verifySimpleSignature(v, parsed.message, v.fingerprints, what)).claim;
            } else {
              claim = verifySigstoreSignature(parsed, await this.sigstoreKeysFor(req), what);
            }
            if (claim.manifestDigest !== digest) throw new OcikitError('E_SIGNATURE', `${what} is for manifest ${claim.manifestDigest}, not ${digest}`);
            if (!identityMatches((req as { signedIdentity: IdentityMatch }).signedIdentity, ref.dockerReference, claim.dockerReference)) {
              throw new OcikitError(
                'E_SIGNATURE',
                `${what} claims identity ${JSON.stringify(claim.dockerReference)}, which signedIdentity ${(req as { signedIdentity: IdentityMatch }).signedIdentity.type} does not accept for ${ref.dockerReference ?? ref.toString()}`,
              );
            }
            return;
          } catch (err) {
            // A bad signature, and equally an unreadable key file or a missing gpg, rejects the image
            // with its reason (as containers/image); only cancellation and bugs propagate as they are.
            if (!isOcikitError(err) || err.code === 'E_ABORTED' || err.code === 'E_INTERNAL') throw err;
            reasons.push(err.message);
          }
        }
        if (reasons.length === 0) {
          const kind = wanted === 'simple-signing' ? 'a GPG (simple signing) signature' : 'a sigstore signature';
          throw new Rejection(`${kind} is required, but the image has none${others ? ` (it has ${others} of another kind)` : ''}`);
        }
        throw new Rejection(reasons.length === 1 ? reasons[0]! : `none of the ${reasons.length} signatures is accepted: ${reasons.join('; ')}`);
      }
    }
  }

  private async keyBlobs(keys: KeySource): Promise<Array<{ data: Buffer; source: string }>> {
    const read = async (p: string): Promise<{ data: Buffer; source: string }> => ({
      data: await fsp.readFile(p).catch((err) => {
        throw wrapError(err, `reading key file ${p} named by trust policy ${this.source}`);
      }),
      source: p,
    });
    switch (keys.kind) {
      case 'path':
        return [await read(keys.path)];
      case 'paths':
        return Promise.all(keys.paths.map(read));
      case 'data':
        return [{ data: keys.data, source: 'keyData' }];
      case 'datas':
        return keys.datas.map((data, i) => ({ data, source: `keyDatas[${i}]` }));
    }
  }

  private gpgFor(req: Extract<Requirement, { type: 'signedBy' }> | Extract<Requirement, { type: 'sigstoreSigned' }>): Promise<GpgVerifier> {
    let v = this.#gpg.get(req);
    if (!v) {
      v = this.keyBlobs(req.keys!).then((blobs) => GpgVerifier.withKeys(blobs, this.debug));
      // A failed key import is the policy's problem on every image: keep the rejection, not a retry.
      this.#gpg.set(req, v);
    }
    return v;
  }

  private sigstoreKeysFor(req: Extract<Requirement, { type: 'signedBy' }> | Extract<Requirement, { type: 'sigstoreSigned' }>): Promise<KeyObject[]> {
    let v = this.#sigstoreKeys.get(req);
    if (!v) {
      v = this.keyBlobs(req.keys!).then((blobs) =>
        blobs.map((b) => {
          try {
            return loadSigstorePublicKey(b.data, `public key ${b.source}`);
          } catch (err) {
            throw new OcikitError('E_SIGNATURE', (err as Error).message, { cause: err });
          }
        }),
      );
      this.#sigstoreKeys.set(req, v);
    }
    return v;
  }

  /** Remove the throwaway keyrings made for signedBy requirements. */
  async close(): Promise<void> {
    const all = [...this.#gpg.values()];
    this.#gpg.clear();
    await Promise.all(
      all.map((p) =>
        p.then(
          (v) => v.close(),
          () => undefined,
        ),
      ),
    );
  }
}
