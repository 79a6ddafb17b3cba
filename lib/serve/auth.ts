/**
 * `--htpasswd FILE`: HTTP Basic authentication against bcrypt entries, as `htpasswd -B` writes them
 * and as distribution's htpasswd auth accepts them (bcrypt only). Hashes are checked with bcryptjs.
 *
 * bcrypt is slow on purpose (tens of milliseconds at cost 10), and clients send the same
 * Authorization header with every request, so a header that verified once is remembered for a few
 * minutes — as a keyed hash, never the header itself. Failures are never remembered. An unknown user
 * costs a bcrypt comparison too, so response times do not tell which user names exist.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { OcikitError, wrapError } from '../errors.js';
import { bcrypt as loadBcrypt } from '../lazy.js';

const BCRYPT_RE = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;
/** How long a verified Authorization header is trusted without another bcrypt comparison. */
const REMEMBER_MS = 5 * 60_000;
const REMEMBER_MAX = 1024;

/** Users and their bcrypt hashes, read once from an htpasswd file. */
export class Htpasswd {
  readonly #users: Map<string, string>;
  readonly #key = randomBytes(32);
  readonly #remembered = new Map<string, number>();

  private constructor(users: Map<string, string>) {
    this.#users = users;
  }

  /** Read `path`. E_BAD_INPUT for a malformed line or a hash that is not bcrypt (naming the line, never the hash). */
  static load(path: string): Htpasswd {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw wrapError(err, `reading --htpasswd ${path}`);
    }
    const users = new Map<string, string>();
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new OcikitError('E_BAD_INPUT', `reading --htpasswd ${path}: line ${i + 1} is not USER:HASH`);
      const hash = line.slice(colon + 1);
      if (!BCRYPT_RE.test(hash)) {
        throw new OcikitError('E_BAD_INPUT', `reading --htpasswd ${path}: line ${i + 1} is not a bcrypt hash`, { hint: 'make entries with htpasswd -B (bcrypt), as docker-registry requires' });
      }
      users.set(line.slice(0, colon), hash);
    });
    if (users.size === 0) throw new OcikitError('E_BAD_INPUT', `reading --htpasswd ${path}: no users`);
    return new Htpasswd(users);
  }

  /** The user names of the file. */
  get users(): ReadonlySet<string> {
    return new Set(this.#users.keys());
  }

  /** The user an `Authorization: Basic …` header authenticates, or undefined (absent, malformed, unknown user, wrong password). */
  async check(authorization: string | undefined): Promise<string | undefined> {
    if (!authorization || !/^basic /i.test(authorization)) return undefined;
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return undefined;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const key = createHmac('sha256', this.#key).update(authorization).digest('base64');
    const until = this.#remembered.get(key);
    if (until !== undefined && until > Date.now()) return user;
    const hash = this.#users.get(user);
    // An unknown user is compared against a real entry (and refused whatever the result), so the
    // answer takes as long as for a known one.
    const ok = await loadBcrypt().compare(password, hash ?? this.#users.values().next().value!);
    if (!ok || hash === undefined) return undefined;
    if (this.#remembered.size >= REMEMBER_MAX) this.#remembered.clear();
    this.#remembered.set(key, Date.now() + REMEMBER_MS);
    return user;
  }
}
