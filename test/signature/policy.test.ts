/**
 * policy.json: strict parsing (bad files are refused with where and why), scope lookup as
 * containers/image does it (most specific first, wildcards, path prefixes), signedIdentity matching,
 * and the CLI's refusal to copy without a policy.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { isOcikitError } from '../../lib/errors.js';
import { PolicyContext, dockerReferenceNamespaces, identityMatches, loadPolicy, parsePolicy, policyScopes } from '../../lib/signature/index.js';
import { parseDockerReference } from '../../lib/reference/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import { ocikit } from '../helpers/cli.js';
import { fixture, tempDir } from '../helpers/paths.js';

const ACCEPT = [{ type: 'insecureAcceptAnything' }];
const REJECT = [{ type: 'reject' }];

function badPolicy(v: unknown, want: RegExp): void {
  assert.throws(
    () => parsePolicy(typeof v === 'string' ? v : JSON.stringify(v), 'p.json'),
    (err: unknown) => isOcikitError(err, 'E_BAD_INPUT') && want.test((err as Error).message),
  );
}

describe('policy.json parsing', () => {
  it('accepts the documented requirement and identity kinds', () => {
    const p = parsePolicy(
      JSON.stringify({
        default: REJECT,
        transports: {
          docker: {
            'example.com/a': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k.gpg' }],
            'example.com/b': [{ type: 'signedBy', keyType: 'GPGKeys', keyPaths: ['/1', '/2'], signedIdentity: { type: 'matchRepository' } }],
            'example.com/c': [{ type: 'signedBy', keyType: 'GPGKeys', keyData: Buffer.from('x').toString('base64'), signedIdentity: { type: 'exactReference', dockerReference: 'other.com/c:1' } }],
            'example.com/d': [{ type: 'sigstoreSigned', keyPath: '/k.pub', signedIdentity: { type: 'exactRepository', dockerRepository: 'other.com/d' } }],
            'example.com/e': [{ type: 'sigstoreSigned', keyDatas: ['eA=='], signedIdentity: { type: 'remapIdentity', prefix: 'example.com', signedPrefix: 'vendor.example.com/mirror' } }],
            '*.example.org': ACCEPT,
            '': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k', signedIdentity: { type: 'matchExact' } }],
          },
          dir: { '/srv/images': ACCEPT },
          'some-future-transport': { anything: ACCEPT },
        },
      }),
    );
    const a = p.transports.docker!['example.com/a']![0]!;
    assert.equal(a.type, 'signedBy');
    // A missing signedIdentity means matchRepoDigestOrExact.
    assert.deepEqual((a as { signedIdentity: unknown }).signedIdentity, { type: 'matchRepoDigestOrExact' });
    assert.deepEqual((p.transports.docker!['example.com/c']![0] as { keys: unknown }).keys, { kind: 'data', data: Buffer.from('x') });
  });

  it('refuses bad files with where and why', () => {
    badPolicy('{"default": [', /not valid JSON/);
    badPolicy('[]', /expected a JSON object/);
    badPolicy({ transports: {} }, /"default" policy is missing/);
    badPolicy({ default: [] }, /must not be empty/);
    badPolicy({ default: [{ type: 'acceptEverythingPlease' }] }, /default\[0\]: unknown policy requirement type "acceptEverythingPlease"/);
    badPolicy({ default: ACCEPT, extra: 1 }, /unknown field "extra"/);
    badPolicy({ default: [{ type: 'reject', why: 'x' }] }, /default\[0\]: unknown field "why"/);
    badPolicy({ default: [{ type: 'signedBy', keyType: 'GPGKeys' }] }, /exactly one of keyPath, keyPaths, keyData must be present, none is/);
    badPolicy({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/a', keyData: 'eA==' }] }, /got keyPath and keyData/);
    badPolicy({ default: [{ type: 'signedBy', keyType: 'PGP', keyPath: '/a' }] }, /unrecognised keyType "PGP"/);
    badPolicy({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyData: 'not base64!' }] }, /keyData: not valid base64/);
    badPolicy({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/a', signedIdentity: { type: 'matchSomehow' } }] }, /unknown signedIdentity type "matchSomehow"/);
    badPolicy({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/a', signedIdentity: { type: 'exactReference', dockerReference: 'example.com/repo' } }] }, /neither a tag nor a digest/);
    badPolicy(
      { default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/a', signedIdentity: { type: 'remapIdentity', prefix: 'example.com/x:tag', signedPrefix: 'b.com' } }] },
      /prefix .* is not valid/,
    );
    badPolicy({ default: ACCEPT, transports: { dir: { 'relative/path': ACCEPT } } }, /transports\.dir\["relative\/path"\]: invalid scope: must be an absolute path/);
    badPolicy({ default: ACCEPT, transports: { oci: { '/': ACCEPT } } }, /invalid scope/);
    badPolicy({ default: ACCEPT, transports: { dir: { '/a/../b': ACCEPT } } }, /canonical/);
    badPolicy({ default: ACCEPT, transports: { 'docker-archive': { '/x.tar': ACCEPT } } }, /only the default "" scope/);
  });

  it('without --policy reads the first default file that exists, and refuses when there is none', async () => {
    const dir = tempDir();
    const none = [join(dir, 'a.json'), join(dir, 'b.json')];
    await assert.rejects(loadPolicy(undefined, none), (err: unknown) => isOcikitError(err, 'E_POLICY') && /--insecure-policy/.test((err as { hint?: string }).hint ?? ''));
    writeFileSync(none[1]!, JSON.stringify({ default: REJECT }));
    const got = await loadPolicy(undefined, none);
    assert.equal(got.path, none[1]);
    assert.equal(got.policy.default[0]!.type, 'reject');
  });
});

describe('policy scopes', () => {
  it('docker: the reference, its repository, namespaces, host, then wildcard domains without the port', () => {
    const ref = parseImageName('docker://reg.example.com:5000/ns/sub/img:v1');
    assert.deepEqual(policyScopes(ref), {
      identity: 'reg.example.com:5000/ns/sub/img:v1',
      namespaces: ['reg.example.com:5000/ns/sub/img', 'reg.example.com:5000/ns/sub', 'reg.example.com:5000/ns', 'reg.example.com:5000', '*.example.com', '*.com'],
    });
    assert.deepEqual(dockerReferenceNamespaces(parseDockerReference('busybox')), ['docker.io/library/busybox', 'docker.io/library', 'docker.io', '*.io']);
  });

  it('dir: and oci: use the symlink-free absolute path and its parents', () => {
    const root = tempDir();
    mkdirSync(join(root, 'real', 'sub'), { recursive: true });
    symlinkSync(join(root, 'real'), join(root, 'link'));
    const real = policyScopes(parseImageName(`dir:${join(root, 'real', 'sub', 'img')}`));
    const viaLink = policyScopes(parseImageName(`dir:${join(root, 'link', 'sub', 'img')}`));
    assert.deepEqual(viaLink, real);
    assert.ok(real.identity.endsWith('/real/sub/img'));
    assert.equal(real.namespaces[0], real.identity.slice(0, -'/img'.length));
    // oci: namespaces start with the layout itself; the :REF is not part of the scope.
    const oci = policyScopes(parseImageName(`oci:${join(root, 'link', 'layout')}:v1`));
    assert.ok(oci.identity.endsWith('/real/layout'));
    assert.equal(oci.namespaces[0], oci.identity);
    assert.deepEqual(policyScopes(parseImageName('docker-archive:/x.tar:a/b:c')), { identity: '', namespaces: [] });
  });

  it('the most specific scope wins, then the transport default, then the global default', () => {
    const ctx = new PolicyContext(
      parsePolicy(
        JSON.stringify({
          default: REJECT,
          transports: {
            docker: { 'reg.example.com/ns': ACCEPT, 'reg.example.com/ns/img:pinned': REJECT, '*.example.com': [{ type: 'reject' }, { type: 'insecureAcceptAnything' }] },
            dir: { '': ACCEPT },
          },
        }),
      ),
    );
    const scope = (name: string): string => ctx.requirementsFor(parseImageName(name)).scope;
    assert.equal(scope('docker://reg.example.com/ns/img:v1'), 'docker:"reg.example.com/ns"');
    assert.equal(scope('docker://reg.example.com/ns/img:pinned'), 'docker:"reg.example.com/ns/img:pinned"');
    assert.equal(scope('docker://other.example.com/x:1'), 'docker:"*.example.com"');
    assert.equal(scope('docker://quay.io/x:1'), 'default');
    assert.equal(scope('dir:/tmp/x'), 'dir:""');
    assert.equal(scope('oci:/tmp/x:1'), 'default');
  });
});

describe('signedIdentity', () => {
  const m = identityMatches;
  it('matchRepoDigestOrExact: a tag must match exactly; a digest reference accepts any tag of the repository', () => {
    const d = 'sha256:' + 'a'.repeat(64);
    assert.equal(m({ type: 'matchRepoDigestOrExact' }, 'example.com/r:1', 'example.com/r:1'), true);
    assert.equal(m({ type: 'matchRepoDigestOrExact' }, 'example.com/r:1', 'example.com/r:2'), false);
    assert.equal(m({ type: 'matchRepoDigestOrExact' }, `example.com/r@${d}`, 'example.com/r:2'), true);
    assert.equal(m({ type: 'matchRepoDigestOrExact' }, `example.com/r@${d}`, 'example.com/other:2'), false);
    assert.equal(m({ type: 'matchExact' }, `example.com/r@${d}`, 'example.com/r:2'), false);
    // The claim is normalised as docker does: "busybox:1" is docker.io/library/busybox:1.
    assert.equal(m({ type: 'matchExact' }, 'docker.io/library/busybox:1', 'busybox:1'), true);
  });
  it('matchRepository, exactReference, exactRepository', () => {
    assert.equal(m({ type: 'matchRepository' }, 'example.com/r:1', 'example.com/r:9'), true);
    assert.equal(m({ type: 'matchRepository' }, 'example.com/r:1', 'example.com/s:1'), false);
    assert.equal(m({ type: 'exactReference', dockerReference: 'vendor.com/p:1' }, undefined, 'vendor.com/p:1'), true);
    assert.equal(m({ type: 'exactReference', dockerReference: 'vendor.com/p:1' }, undefined, 'vendor.com/p:2'), false);
    assert.equal(m({ type: 'exactRepository', dockerRepository: 'vendor.com/p' }, undefined, 'vendor.com/p:2'), true);
    // Without a docker identity (dir:, oci:) the image-relative kinds never match.
    assert.equal(m({ type: 'matchRepository' }, undefined, 'example.com/r:1'), false);
  });
  it('remapIdentity rewrites the prefix, then matches as matchRepoDigestOrExact', () => {
    const remap = { type: 'remapIdentity' as const, prefix: 'mirror.local:5000/vendor', signedPrefix: 'vendor.example.com' };
    assert.equal(m(remap, 'mirror.local:5000/vendor/app:1', 'vendor.example.com/app:1'), true);
    assert.equal(m(remap, 'mirror.local:5000/vendor/app:1', 'mirror.local:5000/vendor/app:1'), false);
    // Prefixes match whole path components only.
    assert.equal(m(remap, 'mirror.local:5000/vendorx/app:1', 'vendor.example.comx/app:1'), false);
    assert.equal(m(remap, 'other.local/app:1', 'other.local/app:1'), true);
  });
});

describe('ocikit copy and the trust policy (CLI)', () => {
  const src = `oci:${fixture('hello-oci')}:latest`;
  it('a rejecting policy: one line naming the scope, exit 1, destination untouched', () => {
    const dir = tempDir();
    const p = join(dir, 'policy.json');
    writeFileSync(p, JSON.stringify({ default: ACCEPT, transports: { oci: { [fixture('hello-oci')]: REJECT } } }));
    const r = ocikit(['--store', join(dir, 'store'), 'copy', '--policy', p, src, `dir:${join(dir, 'out')}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ocikit: source image oci:.*hello-oci:latest rejected by trust policy .*policy\.json, scope oci:".*hello-oci", requirement reject: .*\n$/);
    assert.equal(existsSync(join(dir, 'out')), false);
  });

  it('--insecure-policy skips the policy; $HOME/.config/containers/policy.json is read before the system file', () => {
    const dir = tempDir();
    const home = join(dir, 'home');
    mkdirSync(join(home, '.config', 'containers'), { recursive: true });
    writeFileSync(join(home, '.config', 'containers', 'policy.json'), JSON.stringify({ default: REJECT }));
    const env = { HOME: home };
    let r = ocikit(['--store', join(dir, 'store'), 'copy', '-q', src, `dir:${join(dir, 'a')}`], { env, policy: false });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /rejected by trust policy .*home\/\.config\/containers\/policy\.json, scope default/);
    r = ocikit(['--store', join(dir, 'store'), '--insecure-policy', 'copy', '-q', src, `dir:${join(dir, 'a')}`], { env, policy: false });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(dir, 'a', 'manifest.json')));
  });

  it('a policy that is not JSON, or names an unknown requirement: clear error, nothing written', () => {
    const dir = tempDir();
    for (const [name, text, want] of [
      ['notjson.json', 'default: reject', /reading trust policy .*notjson\.json: not valid JSON/],
      ['unknown.json', JSON.stringify({ default: [{ type: 'trustMe' }] }), /unknown policy requirement type "trustMe"/],
    ] as const) {
      const p = join(dir, name);
      writeFileSync(p, text);
      const r = ocikit(['--store', join(dir, 'store'), '--policy', p, 'copy', '-q', src, `dir:${join(dir, 'out')}`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, want);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.equal(existsSync(join(dir, 'out')), false);
    }
  });
});
