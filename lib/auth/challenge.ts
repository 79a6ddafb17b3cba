/**
 * WWW-Authenticate challenges (RFC 7235 section 4.1), as registries send them:
 *   Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"
 *   Basic realm="basic-realm"
 * A header may carry several challenges ("Basic realm=x, Bearer realm=y") and a response may carry
 * several headers. Pure string work; the input is untrusted and length-capped.
 */

/** One challenge: the scheme, lower-cased, and its parameters (names lower-cased, values unquoted). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

// A hostile header must not cost more than a bounded amount of work.
const MAX_HEADER_LENGTH = 16 * 1024;

/**
 * Parse every challenge in one or more WWW-Authenticate header values. Malformed parts are skipped,
 * never thrown: a registry that sends garbage simply offers no usable challenge.
 */
export function parseWwwAuthenticate(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const v of values) out.push(...parseOne(v.slice(0, MAX_HEADER_LENGTH)));
  return out;
}

function parseOne(s: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = s.length;
  const skipWs = (): void => {
    while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const t = token();
    if (t === '') {
      // Not a token: skip one character so the loop always advances.
      i++;
      continue;
    }
    skipWs();
    if (s[i] === '=' && current) {
      // An auth-param of the current challenge (a token68 ends in '=' too, but registries never send one).
      i++;
      skipWs();
      let value: string;
      if (s[i] === '"') {
        i++;
        let v = '';
        while (i < n && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < n) i++;
          v += s[i];
          i++;
        }
        i++; // closing quote
        value = v;
      } else {
        const vs = i;
        while (i < n && s[i] !== ',' && s[i] !== ' ' && s[i] !== '\t') i++;
        value = s.slice(vs, i);
      }
      current.params[t.toLowerCase()] = value;
      continue;
    }
    if (s[i] === '=' && !current) {
      // A parameter with no scheme before it: malformed; skip its '=' and go on.
      i++;
      continue;
    }
    // A new scheme.
    current = { scheme: t.toLowerCase(), params: {} };
    out.push(current);
  }
  return out;
}

/** The first challenge of `scheme` ("bearer" or "basic"), if any. */
export function findChallenge(challenges: Challenge[], scheme: string): Challenge | undefined {
  return challenges.find((c) => c.scheme === scheme);
}
