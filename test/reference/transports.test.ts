import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KNOWN_TRANSPORTS,
  absolutePath,
  formatImageName,
  formatOciReference,
  formatStorageReference,
  formatWithinTransport,
  parseDockerReference,
  parseImageNameSyntax,
  parseWithinTransport,
  splitImageName,
  type TransportName,
  type TransportReference,
} from '../../lib/reference/index.js';
import { isOcikitError, redact } from '../../lib/errors.js';

const HEX = 'b'.repeat(64);
const D = `sha256:${'7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa'}`;

/** A reference's data without its toString, for comparing with literals. */
const ref = (s: string): Record<string, unknown> => ({ ...parseDockerReference(s) });

/** Parsed value as plain data: DockerReference fields spread, so deepEqual compares data only. */
function plain(r: TransportReference): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...v } : v;
  return out;
}

test('splitImageName: transport is everything before the first colon', () => {
  const cases: Array<[string, string, string]> = [
    ['docker://busybox', 'docker', '//busybox'],
    ['oci:/tmp/x:latest', 'oci', '/tmp/x:latest'],
    ['oci-archive:x.tar', 'oci-archive', 'x.tar'],
    ['dir:', 'dir', ''],
    ['containers-storage:[overlay@/x]busybox', 'containers-storage', '[overlay@/x]busybox'],
    ['registry://busybox', 'docker', '//busybox'], // alias, containers-transports(5)
  ];
  for (const [input, transport, rest] of cases) assert.deepEqual(splitImageName(input), { transport, rest }, input);
  assert.deepEqual([...KNOWN_TRANSPORTS], ['dir', 'oci', 'oci-archive', 'docker-archive', 'docker', 'docker-daemon', 'containers-storage', 'store']);
});

test('splitImageName: missing or unknown transport is E_USAGE naming the input and the transports', () => {
  for (const input of ['busybox', '', ':x', 'foo:bar', 'DOCKER://x', 'docker-daemonx:busybox:1', '/tmp/x']) {
    assert.throws(
      () => splitImageName(input),
      (err: unknown) => {
        assert.ok(isOcikitError(err, 'E_USAGE'), String(err));
        assert.ok(err.message.includes(`invalid image name ${JSON.stringify(input)}`), err.message);
        assert.ok(err.message.includes('expected TRANSPORT:REFERENCE (transports: dir, oci, oci-archive'), err.message);
        return true;
      },
      input,
    );
  }
});

test('splitImageName: a transport named like a property every object has is unknown (E_USAGE), not an alias', () => {
  for (const input of ['constructor:x', 'toString:x', '__proto__:x', 'hasOwnProperty:x', 'valueOf://x']) {
    assert.throws(
      () => splitImageName(input),
      (err: unknown) => isOcikitError(err, 'E_USAGE') && /unknown transport/.test((err as Error).message),
      input,
    );
  }
});

// image name -> parsed data -> canonical image name
const valid: Array<{ in: string; want: Record<string, unknown>; canonical: string }> = [
  // dir:
  { in: 'dir:/tmp/x', want: { transport: 'dir', path: '/tmp/x' }, canonical: 'dir:/tmp/x' },
  { in: 'dir:rel/x:with:colons', want: { transport: 'dir', path: 'rel/x:with:colons' }, canonical: 'dir:rel/x:with:colons' },
  // oci: first colon splits
  { in: 'oci:/tmp/x', want: { transport: 'oci', path: '/tmp/x' }, canonical: 'oci:/tmp/x' },
  { in: 'oci:/tmp/x:', want: { transport: 'oci', path: '/tmp/x' }, canonical: 'oci:/tmp/x' },
  { in: 'oci:/tmp/x:latest', want: { transport: 'oci', path: '/tmp/x', ref: 'latest' }, canonical: 'oci:/tmp/x:latest' },
  { in: 'oci:x:example.com/app:v1.0', want: { transport: 'oci', path: 'x', ref: 'example.com/app:v1.0' }, canonical: 'oci:x:example.com/app:v1.0' },
  { in: 'oci:x:a--b+c@d', want: { transport: 'oci', path: 'x', ref: 'a--b+c@d' }, canonical: 'oci:x:a--b+c@d' },
  { in: 'oci:/tmp/x:@0', want: { transport: 'oci', path: '/tmp/x', index: 0 }, canonical: 'oci:/tmp/x:@0' },
  { in: 'oci:/tmp/x:@012', want: { transport: 'oci', path: '/tmp/x', index: 12 }, canonical: 'oci:/tmp/x:@12' },
  // oci-archive:
  { in: 'oci-archive:img.tar:v1', want: { transport: 'oci-archive', path: 'img.tar', ref: 'v1' }, canonical: 'oci-archive:img.tar:v1' },
  { in: 'oci-archive:img.tar:@3', want: { transport: 'oci-archive', path: 'img.tar', index: 3 }, canonical: 'oci-archive:img.tar:@3' },
  // docker-archive:
  { in: 'docker-archive:/x.tar', want: { transport: 'docker-archive', path: '/x.tar' }, canonical: 'docker-archive:/x.tar' },
  { in: 'docker-archive:/x.tar:busybox', want: { transport: 'docker-archive', path: '/x.tar', name: ref('busybox:latest') }, canonical: 'docker-archive:/x.tar:docker.io/library/busybox:latest' },
  { in: 'docker-archive:/x.tar:localhost:5000/a:v2', want: { transport: 'docker-archive', path: '/x.tar', name: ref('localhost:5000/a:v2') }, canonical: 'docker-archive:/x.tar:localhost:5000/a:v2' },
  { in: 'docker-archive:/x.tar:@1', want: { transport: 'docker-archive', path: '/x.tar', index: 1 }, canonical: 'docker-archive:/x.tar:@1' },
  // docker://
  { in: 'docker://busybox', want: { transport: 'docker', ref: ref('docker.io/library/busybox:latest') }, canonical: 'docker://busybox:latest' },
  { in: 'docker://user/x:1', want: { transport: 'docker', ref: ref('docker.io/user/x:1') }, canonical: 'docker://user/x:1' },
  { in: 'docker://index.docker.io/library/busybox', want: { transport: 'docker', ref: ref('docker.io/library/busybox:latest') }, canonical: 'docker://busybox:latest' },
  { in: 'docker://localhost:5000/x', want: { transport: 'docker', ref: ref('localhost:5000/x:latest') }, canonical: 'docker://localhost:5000/x:latest' },
  { in: 'docker://[::1]:5000/x/y:t', want: { transport: 'docker', ref: ref('[::1]:5000/x/y:t') }, canonical: 'docker://[::1]:5000/x/y:t' },
  { in: `docker://quay.io/x@${D}`, want: { transport: 'docker', ref: ref(`quay.io/x@${D}`) }, canonical: `docker://quay.io/x@${D}` },
  { in: 'docker://docker.io/foo.com/bar', want: { transport: 'docker', ref: ref('docker.io/foo.com/bar:latest') }, canonical: 'docker://docker.io/foo.com/bar:latest' },
  { in: 'docker://Foo/bar:1', want: { transport: 'docker', ref: ref('Foo/bar:1') }, canonical: 'docker://Foo/bar:1' },
  { in: 'registry://busybox:1', want: { transport: 'docker', ref: ref('busybox:1') }, canonical: 'docker://busybox:1' },
  // docker-daemon:
  { in: 'docker-daemon:busybox:latest', want: { transport: 'docker-daemon', ref: ref('busybox:latest') }, canonical: 'docker-daemon:busybox:latest' },
  { in: 'docker-daemon:docker.io/library/busybox:1', want: { transport: 'docker-daemon', ref: ref('busybox:1') }, canonical: 'docker-daemon:busybox:1' },
  { in: `docker-daemon:quay.io/x@${D}`, want: { transport: 'docker-daemon', ref: ref(`quay.io/x@${D}`) }, canonical: `docker-daemon:quay.io/x@${D}` },
  { in: 'docker-daemon:docker.io/localhost/x:1', want: { transport: 'docker-daemon', ref: ref('docker.io/localhost/x:1') }, canonical: 'docker-daemon:docker.io/localhost/x:1' },
  { in: `docker-daemon:sha256:${HEX}`, want: { transport: 'docker-daemon', id: `sha256:${HEX}` }, canonical: `docker-daemon:sha256:${HEX}` },
  // containers-storage:
  { in: 'containers-storage:busybox', want: { transport: 'containers-storage', ref: ref('busybox:latest') }, canonical: 'containers-storage:docker.io/library/busybox:latest' },
  { in: `containers-storage:busybox:1@${D}`, want: { transport: 'containers-storage', ref: ref(`busybox:1@${D}`) }, canonical: `containers-storage:docker.io/library/busybox:1@${D}` },
  { in: `containers-storage:busybox@${HEX}`, want: { transport: 'containers-storage', ref: ref('busybox:latest'), id: HEX }, canonical: `containers-storage:docker.io/library/busybox:latest@${HEX}` },
  { in: `containers-storage:busybox@${D}@${HEX}`, want: { transport: 'containers-storage', ref: ref(`busybox@${D}`), id: HEX }, canonical: `containers-storage:docker.io/library/busybox@${D}@${HEX}` },
  { in: `containers-storage:${HEX}`, want: { transport: 'containers-storage', id: HEX }, canonical: `containers-storage:@${HEX}` },
  { in: 'containers-storage:@abc123', want: { transport: 'containers-storage', id: 'abc123' }, canonical: 'containers-storage:@abc123' },
  {
    in: 'containers-storage:[/var/lib/containers/storage]busybox:1',
    want: { transport: 'containers-storage', root: '/var/lib/containers/storage', ref: ref('busybox:1') },
    canonical: 'containers-storage:[/var/lib/containers/storage]docker.io/library/busybox:1',
  },
  {
    in: `containers-storage:[overlay@/var/lib/c+/run/c:mountopt=nodev,size=5G]quay.io/x:2@${HEX}`,
    want: { transport: 'containers-storage', driver: 'overlay', root: '/var/lib/c', runRoot: '/run/c', options: ['mountopt=nodev', 'size=5G'], ref: ref('quay.io/x:2'), id: HEX },
    canonical: `containers-storage:[overlay@/var/lib/c+/run/c:mountopt=nodev,size=5G]quay.io/x:2@${HEX}`,
  },
  {
    in: 'containers-storage:[vfs@/r]x',
    want: { transport: 'containers-storage', driver: 'vfs', root: '/r', ref: ref('x:latest') },
    canonical: 'containers-storage:[vfs@/r]docker.io/library/x:latest',
  },
  { in: 'containers-storage:[+/run/c]x', want: { transport: 'containers-storage', runRoot: '/run/c', ref: ref('x:latest') }, canonical: 'containers-storage:[+/run/c]docker.io/library/x:latest' },
  { in: 'containers-storage:[/r:]x', want: { transport: 'containers-storage', root: '/r', options: [''], ref: ref('x:latest') }, canonical: 'containers-storage:[/r:]docker.io/library/x:latest' },
  { in: 'store:team/app', want: { transport: 'store', repository: 'team/app', tag: 'latest' }, canonical: 'store:team/app:latest' },
  { in: 'store:localhost_5000/app:1.2', want: { transport: 'store', repository: 'localhost_5000/app', tag: '1.2' }, canonical: 'store:localhost_5000/app:1.2' },
  { in: `store:team/app@${D}`, want: { transport: 'store', repository: 'team/app', digest: D }, canonical: `store:team/app@${D}` },
];

test('parseImageNameSyntax: valid names parse to their normalised values', () => {
  for (const c of valid) {
    const got = parseImageNameSyntax(c.in);
    assert.deepEqual(plain(got), c.want, c.in);
  }
});

test('formatImageName: gives the canonical name, and parse -> format -> parse round-trips', () => {
  for (const c of valid) {
    const parsed = parseImageNameSyntax(c.in);
    const got = formatImageName(parsed);
    assert.equal(got, c.canonical, c.in);
    const again = parseImageNameSyntax(got);
    assert.deepEqual(plain(again), plain(parsed), `${c.in} round trip`);
    assert.equal(formatImageName(again), got, `${c.in} format is a fixed point`);
    // withinTransport is the same thing without the prefix
    const { transport, rest } = splitImageName(got);
    assert.equal(formatWithinTransport(parseWithinTransport(transport, rest)), rest, c.in);
  }
});

// Each invalid name must fail with E_USAGE and a message quoting the whole image name; `why` is a substring.
const invalid: Array<{ in: string; why: string }> = [
  { in: 'dir:', why: 'the path is empty' },
  { in: 'oci:', why: 'the path is empty' },
  { in: 'oci::latest', why: 'the path is empty' },
  { in: 'oci:/x:-bad', why: 'not a valid OCI reference name' },
  { in: 'oci:/x:a//b', why: 'not a valid OCI reference name' },
  { in: 'oci:/x:a b', why: 'not a valid OCI reference name' },
  { in: 'oci:/x:@', why: 'not a non-negative integer' },
  { in: 'oci:/x:@-1', why: 'must not be negative' },
  { in: 'oci:/x:@1.5', why: 'not a non-negative integer' },
  { in: 'oci:/x:@+1', why: 'not a non-negative integer' },
  { in: 'oci:/x:@99999999999999999999', why: 'not a non-negative integer' },
  { in: 'oci-archive::v1', why: 'the path is empty' },
  { in: 'oci-archive:/x.tar:@x', why: 'not a non-negative integer' },
  { in: 'docker-archive:', why: 'the path is empty' },
  { in: 'docker-archive::busybox', why: 'the path is empty' },
  { in: 'docker-archive:/x.tar:', why: 'at least one component' },
  { in: 'docker-archive:/x.tar:Busybox', why: 'repository name must be lowercase' },
  { in: `docker-archive:/x.tar:busybox@${D}`, why: 'does not support digest references' },
  { in: `docker-archive:/x.tar:busybox:1@${D}`, why: 'does not support digest references' },
  { in: 'docker-archive:/x.tar:@-2', why: 'must not be negative' },
  { in: 'docker:busybox', why: 'must start with //' },
  { in: 'docker:/busybox', why: 'must start with //' },
  { in: 'docker://', why: 'at least one component' },
  { in: 'docker://Busybox', why: 'repository name must be lowercase' },
  { in: 'docker://busybox:', why: 'invalid reference format' },
  { in: `docker://busybox:1@${D}`, why: 'both a tag and a digest' },
  { in: `docker://${HEX}`, why: 'image ID, not a repository name' },
  { in: 'docker-daemon:', why: 'at least one component' },
  { in: 'docker-daemon:busybox', why: 'has neither a tag nor a digest' },
  { in: 'docker-daemon:quay.io/x', why: 'has neither a tag nor a digest' },
  { in: `docker-daemon:busybox:1@${D}`, why: 'both a tag and a digest' },
  { in: `docker-daemon:${HEX}`, why: 'image ID, not a repository name' },
  { in: 'docker-daemon:sha256:abc', why: 'reserved for image IDs' },
  { in: `docker-daemon:sha512:${'a'.repeat(128)}`, why: 'only sha256 image IDs' },
  { in: 'containers-storage:', why: 'no image name or ID' },
  { in: 'containers-storage:[/r]', why: 'no image name or ID' },
  { in: 'containers-storage:[/r', why: 'does not end with "]"' },
  { in: 'containers-storage:[]x', why: 'is empty' },
  { in: 'containers-storage:[overlay@]x', why: 'nothing after "DRIVER@"' },
  { in: 'containers-storage:[@/r]x', why: 'empty driver' },
  { in: 'containers-storage:[rel/path]x', why: 'not an absolute path' },
  { in: 'containers-storage:[/r+rel]x', why: 'not an absolute path' },
  { in: 'store:Team/app', why: 'invalid repository name' },
  { in: 'store:team/app:-x', why: 'invalid tag' },
  { in: 'containers-storage:x@', why: 'empty digest or image ID' },
  { in: 'containers-storage:x@zz', why: 'does not look like an image ID' },
  { in: 'containers-storage:x@ab', why: 'does not look like an image ID' },
  { in: 'containers-storage:@sha256:abc', why: 'invalid reference format' },
  { in: 'containers-storage:Busybox', why: 'repository name must be lowercase' },
];

test('the examples cover every transport in the table, and every transport parses and formats through it', () => {
  // A transport added to lib/reference's table gets examples here, or this fails.
  assert.deepEqual([...new Set(valid.map((c) => parseImageNameSyntax(c.in).transport))].sort(), [...KNOWN_TRANSPORTS].sort());
  for (const c of valid) {
    const { transport, rest } = splitImageName(c.in);
    assert.ok(KNOWN_TRANSPORTS.includes(transport), c.in);
    assert.equal(parseWithinTransport(transport, rest).transport, transport, c.in);
  }
});

test('parseWithinTransport / formatWithinTransport: a name outside the table is a bug (E_INTERNAL), even one every object has', () => {
  for (const name of ['tarball', 'constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    assert.throws(
      () => parseWithinTransport(name as TransportName, 'x'),
      (err: unknown) => isOcikitError(err, 'E_INTERNAL') && /parseWithinTransport: unknown transport/.test((err as Error).message),
      name,
    );
    assert.throws(
      () => formatWithinTransport({ transport: name, path: 'x' } as unknown as TransportReference),
      (err: unknown) => isOcikitError(err, 'E_INTERNAL') && /formatWithinTransport: unknown transport/.test((err as Error).message),
      name,
    );
  }
});

test('parseImageNameSyntax: invalid names throw E_USAGE quoting the image name', () => {
  for (const c of invalid) {
    assert.throws(
      () => parseImageNameSyntax(c.in),
      (err: unknown) => {
        assert.ok(isOcikitError(err, 'E_USAGE'), `${c.in}: ${String(err)}`);
        // OcikitError redacts anything shaped like scheme://user:pass@, which "docker://x:tag@digest" is.
        assert.ok(err.message.includes(redact(`invalid image name ${JSON.stringify(c.in)}`)), `${c.in}: message ${err.message} does not quote it`);
        assert.ok(err.message.includes(c.why), `${c.in}: message ${err.message} lacks ${c.why}`);
        return true;
      },
      c.in,
    );
  }
});

test('docker-daemon: a bare 64-hex ID gets a hint to write sha256:', () => {
  assert.throws(
    () => parseImageNameSyntax(`docker-daemon:${HEX}`),
    (err: unknown) => isOcikitError(err, 'E_USAGE') && (err as { hint?: string }).hint === `write an image ID as sha256:${HEX}`,
  );
});

test('format*: values no image name can express are refused with E_USAGE', () => {
  const cases: Array<[string, () => string]> = [
    ['oci path with a colon', () => formatOciReference({ path: '/a:b', ref: 'x' })],
    ['oci ref and index', () => formatOciReference({ path: '/a', ref: 'x', index: 1 })],
    ['oci bad ref', () => formatOciReference({ path: '/a', ref: '-x' })],
    ['oci negative index', () => formatOciReference({ path: '/a', index: -1 })],
    ['storage root with "+"', () => formatStorageReference({ root: '/a+b', ref: parseDockerReference('x:1') })],
    ['storage root with "@" and no driver', () => formatStorageReference({ root: '/a@b', ref: parseDockerReference('x:1') })],
    ['storage relative root', () => formatStorageReference({ root: 'rel', ref: parseDockerReference('x:1') })],
    ['storage empty root only', () => formatStorageReference({ root: '', ref: parseDockerReference('x:1') })],
    ['storage option with "]"', () => formatStorageReference({ root: '/r', options: ['a]'], ref: parseDockerReference('x:1') })],
    ['storage nothing to name', () => formatStorageReference({ root: '/r' })],
    ['storage bad id', () => formatStorageReference({ id: 'xyz' })],
    ['dir empty', () => formatWithinTransport({ transport: 'dir', path: '' })],
    ['daemon name only', () => formatWithinTransport({ transport: 'docker-daemon', ref: parseDockerReference('busybox') })],
    ['daemon id and ref', () => formatWithinTransport({ transport: 'docker-daemon', id: `sha256:${HEX}`, ref: parseDockerReference('busybox:1') })],
    ['docker tag and digest', () => formatWithinTransport({ transport: 'docker', ref: parseDockerReference(`busybox:1@${D}`) })],
    ['docker-archive digest', () => formatWithinTransport({ transport: 'docker-archive', path: '/x', name: parseDockerReference(`busybox@${D}`) })],
  ];
  for (const [what, f] of cases) {
    assert.throws(f, (err: unknown) => isOcikitError(err, 'E_USAGE'), what);
  }
  // a root containing "@" is fine once a driver takes the first "@"
  const r = { driver: 'vfs', root: '/a@b', ref: parseDockerReference('x:1') };
  assert.equal(formatStorageReference(r), '[vfs@/a@b]docker.io/library/x:1');
  assert.deepEqual(plain(parseImageNameSyntax(`containers-storage:${formatStorageReference(r)}`)), { transport: 'containers-storage', driver: 'vfs', root: '/a@b', ref: ref('x:1') });
});

test('absolutePath: resolves against an absolute cwd and refuses a relative one', () => {
  assert.equal(absolutePath('x/../y', '/work'), '/work/y');
  assert.equal(absolutePath('/abs/p', '/work'), '/abs/p');
  assert.equal(absolutePath('.', '/work/a/'), '/work/a');
  assert.throws(
    () => absolutePath('x', 'rel'),
    (err: unknown) => isOcikitError(err, 'E_INTERNAL'),
  );
});
