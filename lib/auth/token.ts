/**
 * Bearer tokens from a registry's token service (distribution's "Token Authentication
 * Specification", docs/spec/auth/token.md):
 *   GET {realm}?service={service}&scope={scope}&scope=…[&account={user}]   (Basic auth when we have a password)
 *   POST {realm} grant_type=refresh_token&refresh_token=…                     (docker's identity tokens, OAuth2)
 * answered by {"token"|"access_token", "expires_in" (default 60 s), "issued_at"}.
 *
 * The HTTP call is injected, so this module knows nothing of TLS, proxies or retries (lib/registry
 * owns those) and lib/auth imports nothing above it.
 *
 * WARNING: tokens and passwords never reach an error message. The token service's body is read
 * only as JSON and never quoted.
 */
import { OcikitError } from '../errors.js';
import type { Challenge } from './challenge.js';
import type { Credentials } from './auth-file.js';

/** A minimal HTTP call, supplied by the registry client (same TLS and proxy settings). */
export type TokenHttp = (req: { method: 'GET' | 'POST'; url: URL; headers: Record<string, string>; body?: string }) => Promise<{ status: number; text: string }>;

/** A token and when it stops being usable. */
export interface BearerToken {
  token: string;
  /** ms since the epoch after which the token MUST NOT be used. */
  expiresAt: number;
}

/** Tokens live this long when the service does not say (token.md). */
export const DEFAULT_TOKEN_LIFETIME_S = 60;
const MAX_TOKEN_RESPONSE = 1024 * 1024;
const CLIENT_ID = 'ocikit';

/** A token is used only while this much of its life is left, so it does not expire in flight. */
function safetyMarginMs(lifetimeMs: number): number {
  return Math.min(10_000, Math.max(1_000, lifetimeMs / 10));
}

/** Whether `t` may still be used at `now`. */
export function tokenUsable(t: BearerToken, now = Date.now()): boolean {
  return now < t.expiresAt;
}

/**
 * Ask the token service named by a Bearer `challenge` for a token covering `scopes`.
 * E_AUTH when the service refuses (401/403) or answers without a token; E_NETWORK when it fails.
 * `what` names the operation for messages ("pulling from docker://x").
 */
/**
 * The hint of a refused login: the flag that gives credentials in the command at hand
 * (`credsFlag`: "--src-creds" for a copy's source, "" where there is none, as for login itself).
 */
export function credentialsHint(hadCredentials: boolean, credsFlag = '--creds'): string {
  return hadCredentials
    ? `check the user name and password${credsFlag ? ` (${credsFlag} USER:PASSWORD, or ocikit login REGISTRY)` : ''}`
    : `log in with ocikit login REGISTRY${credsFlag ? ` or pass ${credsFlag} USER:PASSWORD` : ''}`;
}

export async function requestBearerToken(http: TokenHttp, challenge: Challenge, scopes: string[], creds: Credentials | undefined, what: string, credsFlag?: string): Promise<BearerToken> {
  const realm = challenge.params.realm;
  if (!realm) throw new OcikitError('E_AUTH', `${what}: the registry asked for a bearer token without naming a realm`);
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new OcikitError('E_AUTH', `${what}: the registry's token realm is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OcikitError('E_AUTH', `${what}: the registry's token realm is not an http(s) URL`);
  const service = challenge.params.service;
  const started = Date.now();
  let res: { status: number; text: string };
  if (creds?.kind === 'identity-token') {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.token, client_id: CLIENT_ID });
    if (service) form.set('service', service);
    if (scopes.length) form.set('scope', scopes.join(' '));
    res = await http({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
  } else {
    if (service) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (creds?.kind === 'basic') {
      if (creds.username) url.searchParams.set('account', creds.username);
      headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')}`;
    }
    res = await http({ method: 'GET', url, headers });
  }
  const where = `${url.protocol}//${url.host}${url.pathname}`;
  if (res.status === 401 || res.status === 403) {
    throw new OcikitError('E_AUTH', `${what}: the token service ${where} refused ${creds ? 'the credentials' : 'anonymous access'} (${res.status})`, {
      hint: credentialsHint(creds !== undefined, credsFlag),
    });
  }
  if (res.status < 200 || res.status > 299) throw new OcikitError('E_NETWORK', `${what}: the token service ${where} answered ${res.status}`);
  if (res.text.length > MAX_TOKEN_RESPONSE) throw new OcikitError('E_AUTH', `${what}: the token service's answer is too large`);
  let body: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
  try {
    body = JSON.parse(res.text) as typeof body;
  } catch {
    throw new OcikitError('E_AUTH', `${what}: the token service ${where} answered with something that is not JSON`);
  }
  const token = typeof body.token === 'string' && body.token !== '' ? body.token : typeof body.access_token === 'string' ? body.access_token : '';
  // The token goes into a header: refuse anything that could split or smuggle one.
  if (token === '' || !/^[\x21-\x7e]+$/.test(token)) throw new OcikitError('E_AUTH', `${what}: the token service ${where} answered without a usable token`);
  let lifetimeS = typeof body.expires_in === 'number' && Number.isFinite(body.expires_in) && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_LIFETIME_S;
  lifetimeS = Math.min(lifetimeS, 24 * 3600);
  let issued = started;
  if (typeof body.issued_at === 'string') {
    const t = Date.parse(body.issued_at);
    // A clock far off from ours would make the token look fresh forever or dead at birth: trust only a sane value.
    if (Number.isFinite(t) && t <= Date.now() + 60_000 && t > started - 24 * 3600_000) issued = Math.min(t, Date.now());
  }
  const lifetimeMs = lifetimeS * 1000;
  return { token, expiresAt: issued + lifetimeMs - safetyMarginMs(lifetimeMs) };
}

/** The canonical cache key of a set of scopes (order-insensitive). */
export function scopeKey(scopes: string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}
