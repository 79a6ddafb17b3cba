/**
 * Who is asking, and may they: authentication (`--htpasswd`: Basic, or Bearer tokens from the
 * server's own token endpoint) and authorisation (`--access`: per repository pattern, who may pull,
 * push and delete; without it every user may do everything, as before).
 *
 * The answers clients act on:
 * - no or wrong credentials where some are needed: 401 UNAUTHORIZED with a challenge — `Bearer
 *   realm=".../token",service=...,scope=...` (the default, `--auth token`) or `Basic` (`--auth basic`);
 * - a token that lacks an action the user could get: 401 with `error="insufficient_scope"`, so the
 *   client asks for a new token with that scope;
 * - a user the policy does not allow: 403 DENIED.
 *
 * Token endpoint (`GET /token?service=&scope=…`): Basic credentials (checked once, bcrypt, cached
 * as auth.ts says) or none (anonymous); the token grants each requested action that the policy
 * allows that user, and nothing else (token.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRepositoryName } from '../transports/store/names.js';
import { ACTIONS, type AccessPolicy, type Action } from './access.js';
import type { Htpasswd } from './auth.js';
import { ApiError } from './errors.js';
import { TokenSigner, parseScopes, type TokenGrant } from './token.js';

/** The server's authentication settings. */
export interface GateOptions {
  htpasswd?: Htpasswd;
  policy?: AccessPolicy;
  /** How clients are asked for credentials (default token). */
  auth?: 'token' | 'basic';
  /** Token lifetime, seconds (default 300). */
  tokenTtlSeconds?: number;
  /** The token endpoint's URL as clients reach it (default: this server's /token, by the request's Host). */
  tokenRealm?: string;
  tls: boolean;
}

/** Who sent a request: a user (by password or token) or nobody; with a token, what it grants. */
export interface Identity {
  user: string | undefined;
  grant?: TokenGrant;
}

const SERVICE = 'ocikit';

export class Gate {
  readonly #o: GateOptions;
  readonly #signer: TokenSigner | undefined;

  constructor(o: GateOptions) {
    this.#o = o;
    this.#signer = this.enabled && (o.auth ?? 'token') === 'token' ? new TokenSigner(SERVICE, o.tokenTtlSeconds ?? 300) : undefined;
  }

  /** Whether anything is checked at all (--htpasswd or --access). */
  get enabled(): boolean {
    return this.#o.htpasswd !== undefined || this.#o.policy !== undefined;
  }

  /** Whether blobs are answered per repository (an access policy is set). */
  get perRepository(): boolean {
    return this.#o.policy !== undefined;
  }

  /** The identity of a request; 401 for credentials or a token that do not check out. */
  async identify(req: IncomingMessage): Promise<Identity> {
    const h = req.headers.authorization;
    if (!this.enabled || h === undefined || h === '') return { user: undefined };
    if (/^bearer /i.test(h) && this.#signer) {
      const grant = this.#signer.verify(h.slice(7).trim());
      if (!grant) throw this.#unauthorized(req, 'the token is invalid or has expired');
      return { user: grant.user, grant };
    }
    if (/^basic /i.test(h) && this.#o.htpasswd) {
      const user = await this.#o.htpasswd.check(h);
      if (user === undefined) throw this.#unauthorized(req, 'authentication required');
      return { user };
    }
    throw this.#unauthorized(req, 'authentication required');
  }

  /** What `id` may do in `repository` (a token grants no more than it names). */
  rights(id: Identity, repository: string): Set<Action> {
    if (!this.enabled) return new Set(ACTIONS);
    const byPolicy = this.#policyRights(id.user, repository);
    if (!id.grant) return byPolicy;
    const granted = id.grant.access.get(repository) ?? new Set<Action>();
    return new Set([...byPolicy].filter((a) => granted.has(a)));
  }

  #policyRights(user: string | undefined, repository: string): Set<Action> {
    if (this.#o.policy) return this.#o.policy.rights(user !== undefined ? { user } : {}, repository);
    return user !== undefined ? new Set(ACTIONS) : new Set();
  }

  /** Whether `id` may list `repository` in the catalog (pull by the policy, whatever the token's scope). */
  mayList(id: Identity, repository: string): boolean {
    return !this.enabled || this.#policyRights(id.user, repository).has('pull');
  }

  /** Allow `action` on `repository` or throw the answer that tells the client what to do. */
  require(req: IncomingMessage, id: Identity, repository: string, action: Action): void {
    if (this.rights(id, repository).has(action)) return;
    const scope = `repository:${repository}:${action === 'pull' ? 'pull' : `pull,${action}`}`;
    if (id.user === undefined && !id.grant) throw this.#unauthorized(req, 'authentication required', scope);
    // A token without the action, which the policy would grant: ask for a new token.
    if (id.grant && this.#policyRights(id.user, repository).has(action)) throw this.#unauthorized(req, 'insufficient scope', scope, true);
    if (id.user === undefined) throw this.#unauthorized(req, 'authentication required', scope);
    throw new ApiError('DENIED', `requested access to the resource is denied`, { repository, action });
  }

  /** GET /v2/ and the catalog: any valid credentials or token; anonymous only where the policy lets anyone do something (basic mode). */
  requireLogin(req: IncomingMessage, id: Identity): void {
    if (!this.enabled || id.user !== undefined || id.grant) return;
    if (!this.#signer && this.#o.policy?.anonymousAllowed) return;
    throw this.#unauthorized(req, 'authentication required');
  }

  /**
   * The browse page: a browser logs in with Basic credentials (it cannot follow a Bearer
   * challenge). Anonymous visitors see what anonymous clients may pull, when anything; `/ui/login`
   * (`force`) always asks.
   */
  requireBrowserLogin(id: Identity, force: boolean): void {
    if (!this.enabled || id.user !== undefined) return;
    if (!force && this.#o.policy?.anonymousAllowed) return;
    throw new ApiError('UNAUTHORIZED', 'authentication required', null, { headers: { 'WWW-Authenticate': 'Basic realm="ocikit", charset="UTF-8"' } });
  }

  /** /metrics: any user (admins only with an access policy); nobody needs to log in when there are no users. */
  requireAdmin(req: IncomingMessage, id: Identity): void {
    if (!this.enabled) return;
    if (id.user === undefined) throw this.#unauthorized(req, 'authentication required');
    if (this.#o.policy && !this.#o.policy.admins.has(id.user)) throw new ApiError('DENIED', 'only admins may read the metrics');
  }

  /** GET /token: a token for the requested scopes, cut down to what the policy allows. */
  async token(req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    if (!this.#signer) throw new ApiError('UNSUPPORTED', 'no such endpoint', null, { status: 404 });
    let user: string | undefined;
    const h = req.headers.authorization;
    if (h !== undefined && h !== '') {
      user = /^basic /i.test(h) ? await this.#o.htpasswd?.check(h) : undefined;
      if (user === undefined) throw new ApiError('UNAUTHORIZED', 'authentication required', null, { headers: { 'WWW-Authenticate': 'Basic realm="ocikit"' } });
    }
    const access: Array<{ name: string; actions: Action[] }> = [];
    for (const s of parseScopes(q.getAll('scope'))) {
      if (s.type !== 'repository' || !isRepositoryName(s.name)) continue;
      const allowed = this.#policyRights(user, s.name);
      const wanted = s.actions.includes('*') ? [...ACTIONS] : s.actions;
      const actions = ACTIONS.filter((a) => wanted.includes(a) && allowed.has(a));
      if (actions.length > 0) access.push({ name: s.name, actions });
    }
    const t = this.#signer.issue(user, access);
    const body = JSON.stringify({ token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), 'Cache-Control': 'no-store' });
    res.end(body);
  }

  #unauthorized(req: IncomingMessage, message: string, scope?: string, insufficient = false): ApiError {
    let challenge: string;
    if (this.#signer) {
      const realm = this.#o.tokenRealm ?? `${this.#o.tls ? 'https' : 'http'}://${hostOf(req)}/token`;
      challenge = `Bearer realm="${realm}",service="${SERVICE}"${scope ? `,scope="${scope}"` : ''}${insufficient ? ',error="insufficient_scope"' : ''}`;
    } else {
      challenge = 'Basic realm="ocikit"';
    }
    return new ApiError('UNAUTHORIZED', message, null, { headers: { 'WWW-Authenticate': challenge } });
  }
}

/** The Host a client used (a safe subset of characters; else the loopback name). */
function hostOf(req: IncomingMessage): string {
  const h = req.headers.host ?? '';
  return /^[A-Za-z0-9.:[\]-]{1,300}$/.test(h) ? h : 'localhost';
}
