import { test } from 'node:test';
import assert from 'node:assert/strict';
import { familiarName, familiarString, isNameOnly, parseDockerReference, trimNamed, withDefaultTag, withDigest, withTag } from '../../lib/reference/index.js';
import { isOcikitError } from '../../lib/errors.js';

const D = `sha256:${'7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa'}`;
const D512 = `sha512:${'ab'.repeat(64)}`;

// input -> normalised parts; `str` is toString(), `familiar` is familiarString().
const valid: Array<{ in: string; domain: string; path: string; tag?: string; digest?: string; str: string; familiar: string }> = [
  // Docker Hub defaults
  { in: 'busybox', domain: 'docker.io', path: 'library/busybox', str: 'docker.io/library/busybox', familiar: 'busybox' },
  { in: 'busybox:latest', domain: 'docker.io', path: 'library/busybox', tag: 'latest', str: 'docker.io/library/busybox:latest', familiar: 'busybox:latest' },
  { in: 'library/busybox', domain: 'docker.io', path: 'library/busybox', str: 'docker.io/library/busybox', familiar: 'busybox' },
  { in: 'docker.io/busybox', domain: 'docker.io', path: 'library/busybox', str: 'docker.io/library/busybox', familiar: 'busybox' },
  { in: 'index.docker.io/busybox', domain: 'docker.io', path: 'library/busybox', str: 'docker.io/library/busybox', familiar: 'busybox' },
  { in: 'index.docker.io/user/x', domain: 'docker.io', path: 'user/x', str: 'docker.io/user/x', familiar: 'user/x' },
  { in: 'user/x:1', domain: 'docker.io', path: 'user/x', tag: '1', str: 'docker.io/user/x:1', familiar: 'user/x:1' },
  { in: 'library/foo/bar', domain: 'docker.io', path: 'library/foo/bar', str: 'docker.io/library/foo/bar', familiar: 'library/foo/bar' },
  { in: 'test_com/foo', domain: 'docker.io', path: 'test_com/foo', str: 'docker.io/test_com/foo', familiar: 'test_com/foo' },
  // a single component is always a Hub name, even one that looks like a host
  { in: 'localhost', domain: 'docker.io', path: 'library/localhost', str: 'docker.io/library/localhost', familiar: 'localhost' },
  { in: 'example.com', domain: 'docker.io', path: 'library/example.com', str: 'docker.io/library/example.com', familiar: 'example.com' },
  // domains, ports, localhost, IPv4, IPv6
  { in: 'localhost/x', domain: 'localhost', path: 'x', str: 'localhost/x', familiar: 'localhost/x' },
  { in: 'localhost:5000/a/b:v1', domain: 'localhost:5000', path: 'a/b', tag: 'v1', str: 'localhost:5000/a/b:v1', familiar: 'localhost:5000/a/b:v1' },
  { in: 'quay.io/org/app:1.2.3', domain: 'quay.io', path: 'org/app', tag: '1.2.3', str: 'quay.io/org/app:1.2.3', familiar: 'quay.io/org/app:1.2.3' },
  { in: 'test-com:8080/foo', domain: 'test-com:8080', path: 'foo', str: 'test-com:8080/foo', familiar: 'test-com:8080/foo' },
  { in: 'xn--n3h.com:18080/foo', domain: 'xn--n3h.com:18080', path: 'foo', str: 'xn--n3h.com:18080/foo', familiar: 'xn--n3h.com:18080/foo' },
  { in: '192.168.0.1:8/debian', domain: '192.168.0.1:8', path: 'debian', str: '192.168.0.1:8/debian', familiar: '192.168.0.1:8/debian' },
  { in: '[fc00::1]:5000/docker', domain: '[fc00::1]:5000', path: 'docker', str: '[fc00::1]:5000/docker', familiar: '[fc00::1]:5000/docker' },
  {
    in: '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
    domain: '[fc00:1:2:3:4:5:6:7]:5000',
    path: 'library/debian',
    str: '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
    familiar: '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
  },
  { in: '[::1]/x:t', domain: '[::1]', path: 'x', tag: 't', str: '[::1]/x:t', familiar: '[::1]/x:t' },
  // an uppercase first component can only be a host (distribution/reference)
  { in: 'Foo/bar', domain: 'Foo', path: 'bar', str: 'Foo/bar', familiar: 'Foo/bar' },
  // separators
  { in: 'docker---rules/dock__er.x-y_z', domain: 'docker.io', path: 'docker---rules/dock__er.x-y_z', str: 'docker.io/docker---rules/dock__er.x-y_z', familiar: 'docker---rules/dock__er.x-y_z' },
  // digests, tag + digest
  { in: `busybox@${D}`, domain: 'docker.io', path: 'library/busybox', digest: D, str: `docker.io/library/busybox@${D}`, familiar: `busybox@${D}` },
  { in: `busybox:latest@${D}`, domain: 'docker.io', path: 'library/busybox', tag: 'latest', digest: D, str: `docker.io/library/busybox:latest@${D}`, familiar: `busybox:latest@${D}` },
  { in: `localhost:5000/x:1@${D512}`, domain: 'localhost:5000', path: 'x', tag: '1', digest: D512, str: `localhost:5000/x:1@${D512}`, familiar: `localhost:5000/x:1@${D512}` },
  // a 64-hex component is fine once a domain says it is a name
  { in: `docker.io/${'1a3f'.repeat(16)}`, domain: 'docker.io', path: `library/${'1a3f'.repeat(16)}`, str: `docker.io/library/${'1a3f'.repeat(16)}`, familiar: `library/${'1a3f'.repeat(16)}` },
  // familiar forms keep the prefix needed to parse back to the same name
  { in: 'docker.io/foo.com/bar', domain: 'docker.io', path: 'foo.com/bar', str: 'docker.io/foo.com/bar', familiar: 'docker.io/foo.com/bar' },
  { in: 'docker.io/localhost/x:1', domain: 'docker.io', path: 'localhost/x', tag: '1', str: 'docker.io/localhost/x:1', familiar: 'docker.io/localhost/x:1' },
  { in: 'docker.io/library/foo.com', domain: 'docker.io', path: 'library/foo.com', str: 'docker.io/library/foo.com', familiar: 'foo.com' },
  // a first component with "." that is no valid host stays in the path, with an empty domain (as upstream)
  { in: 'a_b.com/x', domain: '', path: 'a_b.com/x', str: 'a_b.com/x', familiar: 'a_b.com/x' },
  // longest tag
  { in: `x:_${'a'.repeat(127)}`, domain: 'docker.io', path: 'library/x', tag: `_${'a'.repeat(127)}`, str: `docker.io/library/x:_${'a'.repeat(127)}`, familiar: `x:_${'a'.repeat(127)}` },
];

test('parseDockerReference: valid inputs normalise as distribution/reference does', () => {
  for (const c of valid) {
    const got = parseDockerReference(c.in);
    const want: Record<string, string> = { domain: c.domain, path: c.path, name: c.domain === '' ? c.path : `${c.domain}/${c.path}` };
    if (c.tag !== undefined) want.tag = c.tag;
    if (c.digest !== undefined) want.digest = c.digest;
    assert.deepEqual({ ...got }, want, c.in);
    assert.equal(got.toString(), c.str, c.in);
    assert.equal(String(got), c.str, c.in);
    assert.equal(familiarString(got), c.familiar, c.in);
  }
});

test('parseDockerReference: toString and familiarString both parse back to the same reference', () => {
  for (const c of valid) {
    const want = parseDockerReference(c.in);
    assert.deepEqual(parseDockerReference(want.toString()), want, `${c.in} via toString`);
    assert.deepEqual(parseDockerReference(familiarString(want)), want, `${c.in} via familiarString`);
  }
});

test('parseDockerReference: the value is frozen plain data, JSON shows no methods', () => {
  const got = parseDockerReference('busybox:1');
  assert.ok(Object.isFrozen(got));
  assert.deepEqual(JSON.parse(JSON.stringify(got)), { domain: 'docker.io', path: 'library/busybox', name: 'docker.io/library/busybox', tag: '1' });
});

// Each input must fail with E_BAD_INPUT and a message quoting it; `why` is a substring of the reason.
const invalid: Array<{ in: string; why: string }> = [
  { in: '', why: 'at least one component' },
  { in: 'Busybox', why: 'repository name must be lowercase' },
  { in: 'docker/Docker', why: 'repository name must be lowercase' },
  { in: 'docker.io/docker/Docker', why: 'repository name must be lowercase' },
  { in: 'quay.io/Org/app', why: 'repository name must be lowercase' },
  { in: 'https://github.com/docker/docker', why: 'invalid reference format' },
  { in: '-docker', why: 'invalid reference format' },
  { in: '-docker/docker', why: 'invalid reference format' },
  { in: 'docker-/docker', why: 'invalid reference format' },
  { in: '-docker.io/docker/docker', why: 'invalid reference format' },
  { in: 'docker///docker', why: 'invalid reference format' },
  { in: 'docker/', why: 'invalid reference format' },
  { in: '____/____', why: 'invalid reference format' },
  { in: '_docker/_docker', why: 'invalid reference format' },
  { in: 'dock..er/docker', why: 'invalid reference format' },
  { in: 'dock_.er/docker', why: 'invalid reference format' },
  { in: 'dock___er/docker', why: 'invalid reference format' },
  { in: '[fc00::1]', why: 'invalid reference format' },
  { in: '[fc00::1]:5000', why: 'invalid reference format' },
  { in: 'fc00::1:5000/debian', why: 'invalid reference format' },
  { in: '[fe80::1%eth0]:5000/debian', why: 'invalid reference format' },
  { in: '[2001:db8:3:4::192.0.2.33]:5000/debian', why: 'invalid reference format' },
  { in: 'busybox:', why: 'invalid reference format' },
  { in: 'busybox:.tag', why: 'invalid reference format' },
  { in: 'busybox:-tag', why: 'invalid reference format' },
  { in: `busybox:a${'b'.repeat(128)}`, why: 'invalid reference format' },
  { in: 'busybox@', why: 'invalid reference format' },
  { in: 'busybox@sha256:abc', why: 'invalid reference format' },
  { in: `busybox@${D}:tag`, why: 'invalid reference format' },
  { in: `busybox@sha256:${'a'.repeat(63)}0a`, why: 'must have 64 hex characters' },
  { in: `busybox@sha256:${'A'.repeat(64)}`, why: 'malformed digest' },
  { in: `busybox@sha384:${'a'.repeat(96)}`, why: 'unsupported digest algorithm' },
  { in: '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a', why: 'image ID, not a repository name' },
  { in: `${'a/'.repeat(126)}abcd`, why: 'not be more than 255 characters' },
  { in: `registry.example.com/${'x'.repeat(240)}`, why: 'not be more than 255 characters' },
  { in: `x:${'y'.repeat(2000)}`, why: 'longer than 1024 characters' },
];

test('parseDockerReference: invalid inputs throw E_BAD_INPUT quoting the input', () => {
  for (const c of invalid) {
    assert.throws(
      () => parseDockerReference(c.in),
      (err: unknown) => {
        assert.ok(isOcikitError(err, 'E_BAD_INPUT'), `${c.in}: ${String(err)}`);
        const quoted = JSON.stringify(c.in.length > 300 ? `${c.in.slice(0, 300)}…` : c.in);
        assert.ok(err.message.includes(quoted), `${c.in}: message ${err.message} does not quote the input`);
        assert.ok(err.message.includes(c.why), `${c.in}: message ${err.message} lacks ${c.why}`);
        return true;
      },
      c.in,
    );
  }
});

test('parseDockerReference: the 255 limit counts the whole name, domain included', () => {
  const path = 'a'.repeat(255 - 'docker.io/library/'.length);
  assert.equal(parseDockerReference(path).name.length, 255);
  assert.throws(() => parseDockerReference(`${path}b`), /not be more than 255/);
});

test('withDefaultTag: adds latest only when there is neither tag nor digest', () => {
  const cases: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1', 'docker.io/library/busybox:1'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`busybox:1@${D}`, `docker.io/library/busybox:1@${D}`],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
  ];
  for (const [input, want] of cases) {
    const got = withDefaultTag(parseDockerReference(input));
    assert.equal(got.toString(), want, input);
  }
  assert.equal(isNameOnly(parseDockerReference('busybox')), true);
  assert.equal(isNameOnly(parseDockerReference('busybox:1')), false);
  assert.equal(isNameOnly(parseDockerReference(`busybox@${D}`)), false);
});

test('withTag, withDigest, trimNamed: build references and validate their parts', () => {
  const base = parseDockerReference('quay.io/org/app');
  assert.equal(withTag(base, 'v2').toString(), 'quay.io/org/app:v2');
  assert.equal(withDigest(withTag(base, 'v2'), D).toString(), `quay.io/org/app:v2@${D}`);
  assert.equal(trimNamed(parseDockerReference(`quay.io/org/app:v2@${D}`)).toString(), 'quay.io/org/app');
  assert.throws(
    () => withTag(base, '-bad'),
    (err: unknown) => isOcikitError(err, 'E_BAD_INPUT') && /"-bad"/.test(err.message),
  );
  assert.throws(
    () => withTag(base, 'x'.repeat(129)),
    (err: unknown) => isOcikitError(err, 'E_BAD_INPUT'),
  );
  assert.throws(
    () => withDigest(base, 'sha256:abc'),
    (err: unknown) => isOcikitError(err, 'E_BAD_INPUT'),
  );
});

test('familiarName: drops docker.io and a sole library/ only', () => {
  const cases: Array<[string, string]> = [
    ['busybox:1', 'busybox'],
    ['docker.io/user/x', 'user/x'],
    ['docker.io/library/a/b', 'library/a/b'],
    ['docker.io/other/library', 'other/library'],
    ['quay.io/library/x', 'quay.io/library/x'],
    ['127.0.0.1:8000/privatebase', '127.0.0.1:8000/privatebase'],
  ];
  for (const [input, want] of cases) assert.equal(familiarName(parseDockerReference(input)), want, input);
});
