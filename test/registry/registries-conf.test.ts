/**
 * registries.conf (containers-registries.conf(5), version 2): the rules as containers/image applies
 * them (longest prefix, wildcards, location rewriting, mirror order and pull-from-mirror, drop-ins),
 * errors that name the file and line, and against the real peers that read the same file: a copy
 * through a mirror gives the digest skopeo --registries-conf and podman (CONTAINERS_REGISTRIES_CONF)
 * read through it; `insecure` reaches a plain-http registry with no flag; `blocked` refuses in one
 * line; a short name goes to docker.io as skopeo sends it, with a note where the file's alias
 * would send podman elsewhere.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { closeDispatchers, findRegistry, loadRegistriesConf, parseRegistriesConf, prefixMatch, pullSources, type RegistriesConf } from '../../lib/registry/index.js';
import { parseDockerReference } from '../../lib/reference/index.js';
import { isOcikitError } from '../../lib/errors.js';
import { ocikit, run } from '../helpers/cli.js';
import { ociImage, randomLayer } from '../helpers/layer-images.js';
import { tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { podmanStore } from '../../support/podman.js';
import { startRegistry, freePort, type RegistryHandle } from '../../support/registry.js';
import { sha } from '../../support/digest.js';

const home = tempDir('ocikit-regconf-home-');
const env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_RUNTIME_DIR: join(home, 'run'), OCIKIT_STORE: join(home, 'store'), REGISTRY_AUTH_FILE: '' };
const noSystem = tempDir('ocikit-regconf-etc-');

/** A configuration from text, as one file gives it (no drop-ins). */
async function confOf(text: string): Promise<RegistriesConf> {
  const dir = tempDir('ocikit-regconf-');
  const file = join(dir, 'registries.conf');
  writeFileSync(file, text);
  return loadRegistriesConf({ path: file, env: { HOME: dir }, systemDir: noSystem });
}

function badConf(text: string): string {
  try {
    parseRegistriesConf(text, '/x/registries.conf');
  } catch (err) {
    assert.ok(isOcikitError(err, 'E_BAD_INPUT'), String(err));
    return (err as Error).message;
  }
  assert.fail('parsed without error');
}

describe('registries.conf: the rules', () => {
  it('prefix matching: a whole component, ":" "/" "@" after it; wildcards match subdomains only', () => {
    const table: Array<[string, string, number]> = [
      ['example.com/foo/bar', 'example.com', 11],
      ['example.com/foo/bar', 'example.com/foo', 15],
      ['example.com/foobar', 'example.com/foo', -1],
      ['example.com:5000/x', 'example.com', 11], // containers/image's documented quirk, kept
      ['example.com', 'example.com', 11],
      ['a.example.com/x', '*.example.com', 13],
      ['a.b.example.com/x:1', '*.example.com', 15],
      ['example.com/x', '*.example.com', -1],
      ['evil.com/a.example.com/x', '*.example.com', -1],
    ];
    for (const [name, prefix, want] of table) assert.equal(prefixMatch(name, prefix), want, `${name} ~ ${prefix}`);
  });

  it('the longest prefix wins; the location rewrites the name; mirrors come first, by pull-from-mirror', async () => {
    const conf = await confOf(`
unqualified-search-registries = ["quay.io"]
[[registry]]
location = "example.com"
insecure = true

[[registry]]
prefix = "example.com/foo"
location = "internal.example.net/bar"

[[registry.mirror]]
location = "mirror-0.local/m"

[[registry.mirror]]
location = "mirror-1.local/m"
insecure = true
pull-from-mirror = "digest-only"

[[registry.mirror]]
location = "mirror-2.local/m"
pull-from-mirror = "tag-only"

[[registry]]
prefix = "*.wild.test"
blocked = true
`);
    assert.equal(findRegistry(conf, 'example.com/foo/img')?.prefix, 'example.com/foo');
    assert.equal(findRegistry(conf, 'example.com/other')?.prefix, 'example.com');
    assert.equal(findRegistry(conf, 'x.wild.test/y')?.blocked, true);
    assert.equal(findRegistry(conf, 'quay.io/y'), undefined);
    const entry = findRegistry(conf, 'example.com/foo/img')!;
    const byTag = pullSources(entry, parseDockerReference('example.com/foo/img:1'));
    assert.deepEqual(
      byTag.map((p) => [p.ref.toString(), p.insecure, p.mirror]),
      [
        ['mirror-0.local/m/img:1', false, true],
        ['mirror-2.local/m/img:1', false, true],
        ['internal.example.net/bar/img:1', false, false],
      ],
    );
    const d = 'sha256:' + 'a'.repeat(64);
    const byDigest = pullSources(entry, parseDockerReference(`example.com/foo/img@${d}`));
    assert.deepEqual(
      byDigest.map((p) => p.ref.toString()),
      [`mirror-0.local/m/img@${d}`, `mirror-1.local/m/img@${d}`, `internal.example.net/bar/img@${d}`],
    );
    assert.equal(byDigest[1]!.insecure, true);
    assert.equal(byDigest[0]!.where, `${conf.files[0]}:11`);
    assert.deepEqual(conf.unqualifiedSearchRegistries, ['quay.io']);
  });

  it('drop-ins in name order replace entries of the same prefix, the search list, and aliases; an empty alias erases one', async () => {
    const dir = tempDir('ocikit-regconf-');
    const etc = join(dir, 'etc');
    mkdirSync(join(etc, 'registries.conf.d'), { recursive: true });
    writeFileSync(join(etc, 'registries.conf'), 'unqualified-search-registries = ["a.test"]\n[[registry]]\nlocation = "r.test"\n[aliases]\n"x" = "a.test/x"\n"y" = "a.test/y"\n');
    writeFileSync(join(etc, 'registries.conf.d', '20-b.conf'), '[[registry]]\nlocation = "r.test"\ninsecure = true\n[aliases]\n"x" = ""\n');
    writeFileSync(join(etc, 'registries.conf.d', '10-a.conf'), 'unqualified-search-registries = ["b.test", "c.test:5000"]\n[[registry]]\nlocation = "r.test"\nblocked = true\n');
    writeFileSync(join(etc, 'registries.conf.d', 'ignored.txt'), 'not toml at all [[[');
    const conf = await loadRegistriesConf({ env: { HOME: join(dir, 'nohome') }, systemDir: etc });
    assert.deepEqual(conf.files, [join(etc, 'registries.conf'), join(etc, 'registries.conf.d', '10-a.conf'), join(etc, 'registries.conf.d', '20-b.conf')]);
    assert.deepEqual(conf.unqualifiedSearchRegistries, ['b.test', 'c.test:5000']);
    const r = findRegistry(conf, 'r.test/z')!;
    assert.equal(r.insecure, true);
    assert.equal(r.blocked, false, 'the last file replaced the whole entry');
    assert.equal(conf.aliases.get('x')?.value, '');
    assert.equal(conf.aliases.get('y')?.value, 'a.test/y');

    // The user's own registries.conf replaces the system's, and only the user's drop-ins apply.
    const userHome = join(dir, 'home');
    mkdirSync(join(userHome, '.config', 'containers'), { recursive: true });
    writeFileSync(join(userHome, '.config', 'containers', 'registries.conf'), 'unqualified-search-registries = ["user.test"]\n');
    const user = await loadRegistriesConf({ env: { HOME: userHome }, systemDir: etc });
    assert.deepEqual(user.files, [join(userHome, '.config', 'containers', 'registries.conf')]);
    assert.deepEqual(user.unqualifiedSearchRegistries, ['user.test']);

    // CONTAINERS_REGISTRIES_CONF names the main file; a named file that is missing is an error.
    await assert.rejects(loadRegistriesConf({ env: { HOME: userHome, CONTAINERS_REGISTRIES_CONF: join(dir, 'missing.conf') }, systemDir: etc }), /missing\.conf: no such file/);
  });

  it('every mistake is one line naming the file and line', () => {
    const table: Array<[string, RegExp]> = [
      ['[[registry]]\nlocation = "a.test"\ninsecure = "yes"\n', /^\/x\/registries\.conf:3: insecure: expected true or false$/],
      ['a = [\n1,\n', /^\/x\/registries\.conf:3: /],
      ['\n\n[[registry]]\nprefix = "x.test"\n', /:4: registry: location is not set, and the prefix is not a wildcard/],
      ['[[registry]]\nlocation = "https://a.test"\n', /:2: location: "https:\/\/a\.test": write it without http:\/\/ or https:\/\//],
      ['[[registry]]\nprefix = "*.a.test/x"\n', /:2: prefix: a wildcard prefix is a bare domain/],
      ['[[registry]]\nlocation = "a.test"\n[[registry.mirror]]\ninsecure = true\n', /:3: mirror: location is not set/],
      ['[[registry]]\nlocation = "a.test"\n[[registry.mirror]]\nlocation = "m.test"\npull-from-mirror = "sometimes"\n', /:5: pull-from-mirror: expected all, digest-only or tag-only/],
      ['[[registry]]\nlocation = "a.test"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m.test"\npull-from-mirror = "tag-only"\n', /:6: pull-from-mirror: not allowed where/],
      ['[[registry]]\nlocation = "a.test"\npull-from-mirror = "all"\n', /:3: pull-from-mirror belongs in a \[\[registry\.mirror\]\]/],
      [
        '[[registry]]\nlocation = "a.test"\n\n[[registry]]\nprefix = "a.test/x"\nlocation = "a.test"\ninsecure = true\n',
        /:4: registry "a\.test" is also defined at line 1 with another "insecure" setting/,
      ],
      ['unqualified-search-registries = ["not a host"]\n', /:1: unqualified-search-registries: "not a host" is not a registry host/],
      ['short-name-mode = "sloppy"\n', /:1: short-name-mode: expected enforcing, permissive or disabled/],
      ['[aliases]\n"ok" = "quay.io/ok"\n"quay.io/x" = "quay.io/x"\n', /:3: aliases: "quay\.io\/x": an alias name is a short name/],
      ['[aliases]\n"x" = "x/y"\n', /:2: aliases: "x\/y": an alias must name its registry/],
      ['[aliases]\n"x" = "quay.io/x:1"\n', /:2: aliases: "quay\.io\/x:1": an alias must not contain a tag/],
      ['[registries.search]\nregistries = ["a.test"]\n', /:1: this is the version 1 format/],
    ];
    for (const [text, want] of table) assert.match(badConf(text), want, JSON.stringify(text));
  });

  it('keys ocikit does not use are listed for --debug, not refused (the file is shared with podman)', () => {
    const f = parseRegistriesConf('credential-helpers = ["pass"]\nfuture-key = 1\n[[registry]]\nlocation = "a.test"\nnew-thing = true\n', '/x/r.conf');
    assert.deepEqual(f.ignored, ['/x/r.conf:2: future-key', '/x/r.conf:5: registry.new-thing']);
  });
});

describe('registries.conf: against real registries, skopeo and podman', () => {
  let primary: RegistryHandle;
  let mirror: RegistryHandle;
  let image: ReturnType<typeof ociImage>;
  let confFile: string;
  const skopeo = requirePeer('skopeo');

  before(async () => {
    [primary, mirror] = await Promise.all([startRegistry(), startRegistry()]);
    image = ociImage(join(tempDir('ocikit-regconf-img-'), 'layout'), [randomLayer(40_000)]);
    // The image is only on the mirror; the primary location has nothing.
    const r = ocikit(['copy', '--dest-tls-verify=false', image.ref, `docker://${mirror.host}/mirror/app:1`], { env });
    assert.equal(r.code, 0, r.stderr);
    confFile = join(home, 'registries.conf');
    writeFileSync(
      confFile,
      [
        '[[registry]]',
        'prefix = "example.test/app"',
        `location = "${primary.host}/app"`,
        'insecure = true',
        '',
        '[[registry.mirror]]',
        `location = "${mirror.host}/mirror/app"`,
        'insecure = true',
        '',
        '[[registry]]',
        `location = "${primary.host}/blocked"`,
        'insecure = true',
        'blocked = true',
        '',
        '[aliases]',
        `"regconf-app" = "example.test/app"`,
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    await closeDispatchers();
    await Promise.all([primary.stop(), mirror.stop()]);
  });

  it('a pull goes through the mirror, with no --tls-verify (insecure = true), and reads what skopeo and podman read through it', () => {
    const r = ocikit(['--registries-conf', confFile, 'copy', 'docker://example.test/app:1', `oci:${join(home, 'pulled')}:x`], { env });
    assert.equal(r.code, 0, r.stderr);
    const got = sha(Buffer.from(ocikit(['inspect', '--raw', `oci:${join(home, 'pulled')}:x`], { env }).stdout));
    assert.equal(got, image.manifestDigest);
    // skopeo --registries-conf reads the same file the same way.
    const s = run(skopeo, ['--registries-conf', confFile, 'inspect', '--raw', 'docker://example.test/app:1'], { env });
    assert.equal(sha(Buffer.from(s.stdout)), image.manifestDigest);
    // The same through CONTAINERS_REGISTRIES_CONF, which podman reads too.
    // (--no-tags: the tags of example.test/app would be listed at example.test itself, as skopeo
    // lists them: mirrors serve pulls only, and this test reaches no name server.)
    const e = ocikit(['inspect', '--no-tags', '--format', '{{.Digest}}', 'docker://example.test/app:1'], { env: { ...env, CONTAINERS_REGISTRIES_CONF: confFile } });
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout.trim(), image.manifestDigest);
    const pm = podmanStore({ env: { CONTAINERS_REGISTRIES_CONF: confFile } });
    pm.podman(['pull', '-q', 'example.test/app:1']);
    assert.match(pm.podman(['images', '--digests', '--format', '{{.Digest}}']).stdout, new RegExp(image.manifestDigest));
  });

  it('--debug says which files were read, which entry matched and which place served the image; one line per request', () => {
    const r = ocikit(['--debug', '--registries-conf', confFile, 'inspect', '--raw', 'docker://example.test/app:1'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`registries\\.conf: read ${confFile.replace(/[.]/g, '\\.')}`));
    assert.match(r.stderr, /falls under .*registries\.conf:1 \(prefix example\.test\/app, insecure\)/);
    assert.match(r.stderr, new RegExp(`reading example\\.test/app:1 from ${mirror.host}/mirror/app:1`));
    // A HEAD when the store has the manifest from an earlier pull (then taken from the store), else a GET.
    assert.match(r.stderr, new RegExp(`(HEAD|GET) http://${mirror.host}/v2/mirror/app/manifests/1 200 \\d+ ms`));
  });

  it("when every place fails, the error is the primary location's, naming the mirrors' too (exit 2: not found)", () => {
    const r = ocikit(['--registries-conf', confFile, 'inspect', '--raw', 'docker://example.test/app:nope'], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`docker://${primary.host}/app: .*manifest unknown.*mirrors also failed: \\[${mirror.host}/mirror/app:nope: `));
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('pull-from-mirror = "digest-only" keeps a pull by tag away from the mirror, and lets one by digest through', () => {
    const file = join(home, 'digest-only.conf');
    writeFileSync(
      file,
      `[[registry]]\nprefix = "example.test/app"\nlocation = "${primary.host}/app"\ninsecure = true\n[[registry.mirror]]\nlocation = "${mirror.host}/mirror/app"\ninsecure = true\npull-from-mirror = "digest-only"\n`,
    );
    const byTag = ocikit(['--registries-conf', file, 'inspect', '--raw', 'docker://example.test/app:1'], { env });
    assert.equal(byTag.code, 2, 'the primary location does not have it');
    const byDigest = ocikit(['--registries-conf', file, 'inspect', '--raw', `docker://example.test/app@${image.manifestDigest}`], { env });
    assert.equal(byDigest.code, 0, byDigest.stderr);
    assert.equal(sha(Buffer.from(byDigest.stdout)), image.manifestDigest);
  });

  it('pushes go to the name itself (mirrors are for pulls), insecure there too', () => {
    const file = join(home, 'push.conf');
    writeFileSync(file, `[[registry]]\nlocation = "${primary.host}"\ninsecure = true\n[[registry.mirror]]\nlocation = "${mirror.host}"\ninsecure = true\n`);
    const r = ocikit(['--registries-conf', file, 'copy', image.ref, `docker://${primary.host}/pushed/app:1`], { env });
    assert.equal(r.code, 0, r.stderr);
    const s = run(skopeo, ['inspect', '--raw', '--tls-verify=false', `docker://${primary.host}/pushed/app:1`]);
    assert.equal(sha(Buffer.from(s.stdout)), image.manifestDigest);
    // Without such an entry, the plain-http registry needs the flag.
    writeFileSync(join(home, 'empty.conf'), '');
    const plain = ocikit(['--registries-conf', join(home, 'empty.conf'), 'inspect', `docker://${primary.host}/pushed/app:1`], { env });
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, /tls-verify=false/);
  });

  it('a blocked registry is refused in one line naming the file and line, for pulls and pushes, and nothing is written', () => {
    const dest = join(home, 'never');
    const pull = ocikit(['--registries-conf', confFile, 'copy', `docker://${primary.host}/blocked/x:1`, `oci:${dest}:x`], { env });
    assert.equal(pull.code, 1);
    assert.equal(pull.stderr.trim().split('\n').length, 1, pull.stderr);
    assert.match(pull.stderr, new RegExp(`the registry ${primary.host}/blocked is blocked by ${confFile.replace(/[.]/g, '\\.')}:10 \\(registries\\.conf\\)`));
    assert.equal(existsSync(dest), false);
    const push = ocikit(['--registries-conf', confFile, 'copy', image.ref, `docker://${primary.host}/blocked/x:1`], { env });
    assert.equal(push.code, 1);
    assert.match(push.stderr, /is blocked by/);
    assert.equal(ocikit(['inspect', '--tls-verify=false', `docker://${primary.host}/blocked/x:1`], { env }).code, 2, 'nothing was pushed');
    // skopeo refuses it too.
    const s = run(skopeo, ['--registries-conf', confFile, 'inspect', `docker://${primary.host}/blocked/x:1`], { allowFail: true });
    assert.match(s.stderr, /blocked/);
  });

  it('a bad file fails the command with one line naming the file and line', () => {
    const file = join(home, 'bad.conf');
    writeFileSync(file, `[[registry]]\nlocation = "${primary.host}"\n\ninsecure = "very"\n`);
    const r = ocikit(['--registries-conf', file, 'inspect', `docker://${primary.host}/x:1`], { env });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `ocikit: ${file}:4: insecure: expected true or false`);
  });

  it('a short name is docker.io, as skopeo reads it; a note says where the alias would send podman', async () => {
    // A proxy that refuses every connection: both tools give up at once, naming where they went, and no request leaves the machine.
    const proxy = `http://127.0.0.1:${await freePort()}`;
    const penv = { ...env, HTTPS_PROXY: proxy, https_proxy: proxy, HTTP_PROXY: proxy, http_proxy: proxy, NO_PROXY: '', no_proxy: '' };
    const r = ocikit(['--registries-conf', confFile, 'inspect', '--retry-times', '0', 'docker://regconf-app:1'], { env: penv });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /note: docker:\/\/regconf-app is docker\.io\/library\/regconf-app, as for skopeo; the alias at .*registries\.conf:16 \(used by podman\) names example\.test\/app/);
    assert.match(r.stderr, /docker:\/\/docker\.io\/library\/regconf-app/);
    const s = run(skopeo, ['--registries-conf', confFile, '--command-timeout', '20s', 'inspect', '--retry-times', '0', 'docker://regconf-app:1'], { env: penv, allowFail: true });
    assert.notEqual(s.code, 0);
    assert.match(s.stderr, /registry-1\.docker\.io/, 'skopeo also went to docker.io');
    // A name with its registry gets no note.
    const q = ocikit(['--registries-conf', confFile, 'inspect', '--raw', 'docker://example.test/app:1'], { env });
    assert.doesNotMatch(q.stderr, /note:/);
  });
});
