/** WWW-Authenticate parsing: the shapes registries send, several challenges, and garbage. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findChallenge, parseWwwAuthenticate } from '../../lib/auth/index.js';

describe('parseWwwAuthenticate', () => {
  it('reads a distribution Bearer challenge', () => {
    const got = parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"');
    assert.deepEqual(got, [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:samalba/my-app:pull,push' } }]);
  });

  it('reads Basic, several challenges in one header, and several headers', () => {
    const got = parseWwwAuthenticate(['Basic realm="basic-realm"', 'Basic realm=x, Bearer realm="https://a/t", error="insufficient_scope"']);
    const want = [
      { scheme: 'basic', params: { realm: 'basic-realm' } },
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'https://a/t', error: 'insufficient_scope' } },
    ];
    assert.deepEqual(got, want);
    assert.equal(findChallenge(got, 'bearer')?.params.realm, 'https://a/t');
  });

  it('unquotes escaped characters and lower-cases scheme and parameter names', () => {
    const got = parseWwwAuthenticate('BEARER Realm="a\\"b", Scope="s"');
    assert.deepEqual(got, [{ scheme: 'bearer', params: { realm: 'a"b', scope: 's' } }]);
  });

  it('skips garbage without throwing', () => {
    assert.deepEqual(parseWwwAuthenticate(undefined), []);
    assert.deepEqual(parseWwwAuthenticate(''), []);
    assert.deepEqual(parseWwwAuthenticate('=,=,"'), []);
    const long = parseWwwAuthenticate('Bearer realm="' + 'x'.repeat(100_000));
    assert.equal(long.length, 1);
    assert.ok(long[0]!.params.realm!.length < 20_000, 'the header is capped');
  });
});
