/**
 * The store: transport and the naming scheme it shares with `ocikit serve`: which refs give which
 * names (a table), what a lookup tries, and copies into and out of store: names.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BlobStore } from '../../lib/store/index.js';
import { repositoryCandidates, resolveStoreName, servedRepositories, servedTags, storeNameOfRef } from '../../lib/transports/store/names.js';
import { parseImageName } from '../../lib/transports/index.js';
import { ocikit } from '../helpers/cli.js';
import { fixture, tempDir } from '../helpers/paths.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('store: names', () => {
  it('which refs are served, and as what', () => {
    const table: Array<[string, string | undefined]> = [
      ['store:team/app:1', 'team/app:1'],
      [`store:team/app@${D}`, `team/app@${D}`],
      ['docker://busybox:latest', 'docker.io/library/busybox:latest'],
      ['docker://acme/tool:2', 'docker.io/acme/tool:2'],
      ['docker://quay.io/org/x:v1', 'quay.io/org/x:v1'],
      ['docker://localhost:5000/x:1', 'localhost_5000/x:1'],
      ['docker://127.0.0.1:5000/a/b:c', '127.0.0.1_5000/a/b:c'],
      [`docker://ghcr.io/o/p@${D}`, `ghcr.io/o/p@${D}`],
      ['docker://[::1]:5000/x:1', undefined],
      ['docker://Registry.Example.com/x:1', undefined],
      ['oci:/srv/layout:app-1', undefined],
      ['dir:/tmp/x', undefined],
      ['store:Bad/Name:1', undefined],
    ];
    for (const [ref, want] of table) {
      const n = storeNameOfRef(ref);
      const got = n === undefined ? undefined : n.digest !== undefined ? `${n.repository}@${n.digest}` : `${n.repository}:${n.tag}`;
      assert.equal(got, want, ref);
    }
  });

  it('a requested repository also stands for its Docker Hub name unless it starts with a registry host', () => {
    assert.deepEqual(repositoryCandidates('busybox'), ['busybox', 'docker.io/library/busybox']);
    assert.deepEqual(repositoryCandidates('library/busybox'), ['library/busybox', 'docker.io/library/busybox']);
    assert.deepEqual(repositoryCandidates('team/app'), ['team/app', 'docker.io/team/app']);
    assert.deepEqual(repositoryCandidates('quay.io/org/x'), ['quay.io/org/x']);
    assert.deepEqual(repositoryCandidates('localhost_5000/x'), ['localhost_5000/x']);
  });

  it('lookups prefer the store: name over what a copy recorded; tags and repositories come from both', () => {
    const store = BlobStore.open(join(tempDir('ocikit-store-names-'), 's'));
    try {
      const E = `sha256:${'e'.repeat(64)}`;
      store.setRef('docker://busybox:1', D);
      assert.deepEqual(resolveStoreName(store, 'library/busybox', { tag: '1' }), { digest: D, ref: 'docker://busybox:1' });
      assert.deepEqual(resolveStoreName(store, 'docker.io/library/busybox', { tag: '1' }), { digest: D, ref: 'docker://busybox:1' });
      store.setRef('store:docker.io/library/busybox:1', E);
      assert.equal(resolveStoreName(store, 'docker.io/library/busybox', { tag: '1' })?.digest, E);
      assert.equal(resolveStoreName(store, 'busybox', { tag: '2' }), undefined);
      store.setRef('store:team/app:b', D);
      store.setRef('store:team/app:a', D);
      store.setRef(`oci:/x:y`, D);
      assert.deepEqual(servedRepositories(store), ['docker.io/library/busybox', 'team/app']);
      assert.deepEqual(servedTags(store, 'team/app'), ['a', 'b']);
      assert.deepEqual(servedTags(store, 'busybox'), ['1']);
      assert.equal(servedTags(store, 'nothing/here'), undefined);
    } finally {
      store.close();
    }
  });

  it('store: names parse like repository names, and refuse what a registry would', () => {
    assert.equal(parseImageName('store:team/app').toString(), 'store:team/app:latest');
    assert.equal(parseImageName(`store:team/app@${D}`).toString(), `store:team/app@${D}`);
    assert.equal(parseImageName('store:docker.io/library/busybox:1').dockerReference, 'docker.io/library/busybox:1');
    assert.equal(parseImageName('store:team/app:1').dockerReference, undefined);
    for (const bad of ['store:Team/app:1', 'store:../x:1', 'store:a//b:1', 'store:localhost:5000/x:1', 'store:x:-bad']) {
      assert.throws(
        () => parseImageName(bad),
        (e: Error & { code?: string }) => e.code === 'E_USAGE',
        bad,
      );
    }
  });
});

describe('store: copies', () => {
  it('copy into store:NAME and out again keeps the digest; --format converts; list-tags and delete work on names', () => {
    const dir = tempDir('ocikit-store-copy-');
    const s = join(dir, 'store');
    const hello = `oci:${fixture('hello-oci')}:latest`;
    const a = ocikit(['--store', s, '--json', 'copy', '-q', hello, 'store:demo/hello:1']);
    assert.equal(a.code, 0, a.stderr);
    const digest = JSON.parse(a.stdout).manifestDigest as string;
    const b = ocikit(['--store', s, '--json', 'copy', '-q', 'store:demo/hello:1', `oci:${join(dir, 'out')}:x`]);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(JSON.parse(b.stdout).manifestDigest, digest);
    const c = ocikit(['--store', s, '--json', 'copy', '-q', '--format', 'v2s2', 'store:demo/hello:1', 'store:demo/hello:v2s2']);
    assert.equal(c.code, 0, c.stderr);
    assert.notEqual(JSON.parse(c.stdout).manifestDigest, digest);
    const raw = ocikit(['--store', s, 'inspect', '--raw', 'store:demo/hello:v2s2']);
    assert.equal(JSON.parse(raw.stdout).mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    const tags = ocikit(['--store', s, 'list-tags', 'store:demo/hello']);
    assert.equal(tags.code, 0, tags.stderr);
    assert.deepEqual(JSON.parse(tags.stdout).Tags, ['1', 'v2s2']);
    assert.equal(ocikit(['--store', s, 'delete', 'store:demo/hello:1']).code, 0);
    const gone = ocikit(['--store', s, 'inspect', 'store:demo/hello:1']);
    assert.equal(gone.code, 2, gone.stderr);
    assert.match(gone.stderr, /the store has no image of that name/);
  });
});
