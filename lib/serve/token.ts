/**
 * Bearer tokens as docker, podman and skopeo use them (distribution's token authentication): a
 * client that gets 401 with `WWW-Authenticate: Bearer realm=".../token",service=...,scope=...` asks
 * the realm once, with its password, for a token covering the scopes it needs, and then sends
 * `Authorization: Bearer TOKEN` with every request. So a 30-layer pull verifies the password once.
 *
 * Tokens are JWTs (header.claims.signature, base64url) signed with HMAC-SHA256 (node:crypto) under a
 * random key made when the server starts: only this server issues and checks them, so no key is
 * shared or stored, and a restart invalidates every token (clients ask again on the next 401).
 * The claims are distribution's: `sub` (the user, "" for anonymous), `aud` (the service), `exp`,
 * `nbf`, `iat`, `jti`, and `access` [{type: "repository", name, actions}] — already cut down to
 * what the access policy grants at issue time.
 *
 * WARNING: a token is a credential: it never reaches a log line or an error message.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Action } from './access.js';

/** What a valid token grants. */
export interface TokenGrant {
  /** The user it was issued to; undefined for an anonymous token. */
  user: string | undefined;
  /** Repository -> the actions granted there. */
  access: Map<string, Set<Action>>;
}

/** One requested scope: `repository:NAME:ACTIONS` (other types are kept for the catalog). */
export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** Parse `scope` parameters ("repository:team/app:pull,push"; several per parameter, space-separated). */
export function parseScopes(values: string[]): Scope[] {
  const out: Scope[] = [];
  for (const v of values) {
    for (const s of v.split(' ')) {
      // The name may hold a colon only in a registry host with a port, which repository names here never do.
      const first = s.indexOf(':');
      const last = s.lastIndexOf(':');
      if (first <= 0 || last === first) continue;
      out.push({
        type: s.slice(0, first),
        name: s.slice(first + 1, last),
        actions: s
          .slice(last + 1)
          .split(',')
          .filter(Boolean),
      });
    }
  }
  return out;
}

/** Issues and checks the server's tokens. */
export class TokenSigner {
  readonly #key = randomBytes(32);

  constructor(
    readonly service: string,
    readonly ttlSeconds: number,
  ) {}

  /** A signed token for `user` granting `access`. */
  issue(user: string | undefined, access: Array<{ name: string; actions: Action[] }>): { token: string; expiresIn: number; issuedAt: string } {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: 'ocikit',
      sub: user ?? '',
      aud: this.service,
      iat: now,
      nbf: now - 5,
      exp: now + this.ttlSeconds,
      jti: randomUUID(),
      access: access.map((a) => ({ type: 'repository', name: a.name, actions: a.actions })),
    };
    const body = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
    return { token: `${body}.${this.#sign(body)}`, expiresIn: this.ttlSeconds, issuedAt: new Date(now * 1000).toISOString() };
  }

  /** What `token` grants, or undefined when it is malformed, forged, for another service or expired. */
  verify(token: string): TokenGrant | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const want = Buffer.from(this.#sign(`${parts[0]}.${parts[1]}`));
    const got = Buffer.from(parts[2]!);
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    let c: { sub?: unknown; aud?: unknown; exp?: unknown; nbf?: unknown; access?: unknown };
    try {
      c = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as typeof c;
    } catch {
      return undefined;
    }
    const now = Date.now() / 1000;
    if (c.aud !== this.service || typeof c.exp !== 'number' || c.exp <= now || typeof c.nbf !== 'number' || c.nbf > now) return undefined;
    const access = new Map<string, Set<Action>>();
    for (const a of Array.isArray(c.access) ? (c.access as Array<{ type?: unknown; name?: unknown; actions?: unknown }>) : []) {
      if (a.type !== 'repository' || typeof a.name !== 'string' || !Array.isArray(a.actions)) continue;
      access.set(a.name, new Set(a.actions.filter((x): x is Action => x === 'pull' || x === 'push' || x === 'delete')));
    }
    return { user: typeof c.sub === 'string' && c.sub !== '' ? c.sub : undefined, access };
  }

  #sign(body: string): string {
    return createHmac('sha256', this.#key).update(body).digest('base64url');
  }
}
