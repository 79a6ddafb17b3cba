/**
 * What the pipeline checks before anything reaches a destination or the store's memory: the
 * config (valid JSON, one diff ID per layer), uncompressed layers against their diff IDs, foreign
 * layers a destination cannot hold (up front, not at commit); that the blob-info cache learns a
 * registry location only from a verified blob; and that an I/O error while re-hashing a stored
 * blob is reported, never taken for corruption (which would delete a good blob).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BlobStore } from '../../lib/store/index.js';
import { copyImage } from '../../lib/copy/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import { isOcikitError } from '../../lib/errors.js';
import { ocikit } from '../helpers/cli.js';
import { cliPath, tempDir } from '../helpers/paths.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { sha } from '../helpers/digest.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface LayerSpec {
  bytes: Buffer;
  mediaType: string;
  urls?: string[];
  /** leave the blob out of the layout (a foreign layer fetched from its urls) */
  absent?: boolean;
}

/** An OCI layout (ref latest) with the given layers and a config given as raw bytes. */
function layout(root: string, layers: LayerSpec[], config: Buffer): void {
  mkdirSync(join(root, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const blob = (b: Buffer, absent = false): { digest: string; size: number } => {
    if (!absent) writeFileSync(join(root, 'blobs', 'sha256', sha(b).slice(7)), b);
    return { digest: sha(b), size: b.length };
  };
  const descs = layers.map((l) => ({ mediaType: l.mediaType, ...blob(l.bytes, l.absent), ...(l.urls ? { urls: l.urls } : {}) }));
  const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...blob(config) }, layers: descs }));
  const md = blob(m);
  writeFileSync(join(root, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, ...md, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
}

const cfg = (diffIDs: string[]): Buffer => Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIDs } }));
const plain = (s: string): Buffer => Buffer.from(`${s}\n`.repeat(2000));

describe('verification before anything lands', () => {
  let dir: string;
  before(() => {
    dir = tempDir('ocikit-verify-');
  });

  /** Copy with the CLI into a fresh dest; expect one line, exit 1, no destination, and `pattern`. */
  function refused(name: string, src: string, dest: string, pattern: RegExp): void {
    const r = ocikit(['--store', join(dir, `store-${name}`), 'copy', '-q', src, dest]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    const path = dest.slice(dest.indexOf(':') + 1).split(':')[0]!;
    assert.equal(existsSync(path), false, 'no destination');
  }

  it('a config that is not JSON is refused, naming the image and the config', () => {
    const root = join(dir, 'cfg-not-json');
    layout(root, [{ bytes: plain('a'), mediaType: 'application/vnd.oci.image.layer.v1.tar' }], Buffer.from('{"architecture": "amd64", oops'));
    refused('cfg-json', `oci:${root}:latest`, `oci:${join(dir, 'out-cfg-json')}:x`, /config sha256:[0-9a-f]{12} of oci:.*cfg-not-json.*(JSON|json)/);
  });

  it('a config with more or fewer diff IDs than the manifest has layers is refused', () => {
    const root = join(dir, 'cfg-count');
    const a = plain('a');
    layout(root, [{ bytes: a, mediaType: 'application/vnd.oci.image.layer.v1.tar' }], cfg([sha(a), sha(plain('b'))]));
    refused('cfg-count', `oci:${root}:latest`, `dir:${join(dir, 'out-cfg-count')}`, /2 diff IDs .* for 1 layers/);
  });

  it('an uncompressed layer whose digest is not its diff ID is refused (free to check: they must be equal)', () => {
    const root = join(dir, 'plain-diffid');
    layout(root, [{ bytes: plain('a'), mediaType: 'application/vnd.oci.image.layer.v1.tar' }], cfg([sha(plain('other'))]));
    refused('plain-diffid', `oci:${root}:latest`, `oci:${join(dir, 'out-plain')}:x`, /layer 0 .*diff ID/);
  });

  it('a foreign layer the source lacks fails a docker-archive copy before any other blob is read', async () => {
    const root = join(dir, 'foreign');
    const big = gzipSync(Buffer.alloc(4 << 20, 7));
    const foreign = gzipSync(plain('windows base'));
    layout(
      root,
      [
        { bytes: foreign, mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', urls: ['https://example.invalid/base.tar.gz'], absent: true },
        { bytes: big, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
      ],
      cfg([sha(plain('windows base')), sha(Buffer.alloc(4 << 20, 7))]),
    );
    const store = BlobStore.open(join(dir, 'store-foreign'));
    try {
      await assert.rejects(copyImage(parseImageName(`oci:${root}:latest`), parseImageName(`docker-archive:${join(dir, 'foreign.tar')}:f/f:1`), { store }), (err: unknown) => {
        assert.ok(isOcikitError(err, 'E_UNSUPPORTED'), String(err));
        assert.match((err as Error).message, /layer 0 is a foreign layer .* cannot refer to foreign layers/);
        return true;
      });
      assert.equal(store.has(sha(big)), false, 'the large layer was never fetched');
      assert.equal(existsSync(join(dir, 'foreign.tar')), false);
      // A destination that can refer to foreign layers keeps pointing at their URLs.
      await copyImage(parseImageName(`oci:${root}:latest`), parseImageName(`oci:${join(dir, 'foreign-oci')}:x`), { store });
    } finally {
      store.close();
    }
  });

  it('an I/O error while re-hashing a stored blob is reported and the blob kept; only different content removes one', () => {
    // Root reads any file through CAP_DAC_OVERRIDE; the copy runs as root without it (and without
    // CAP_DAC_READ_SEARCH), so a blob of mode 000 is EACCES: not corruption. Same uid, so the rest
    // of the store, the sources and the CLI (wherever CI unpacked it, however private) stay readable.
    const storeDir = join(dir, 'store-eacces');
    const src = join(dir, 'eacces-src');
    const a = gzipSync(plain('kept'));
    layout(src, [{ bytes: a, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }], cfg([sha(plain('kept'))]));
    assert.equal(ocikit(['--store', storeDir, 'copy', '-q', `oci:${src}:latest`, `oci:${join(dir, 'eacces-first')}:x`]).code, 0);
    const blob = join(storeDir, 'blobs', 'sha256', sha(a).slice(7));
    chmodSync(blob, 0o000);
    utimesSync(blob, new Date(), new Date()); // a changed mtime sends stat to its re-hash
    const noDac = ['--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search'];
    const r = spawnSync('setpriv', [...noDac, cliPath, '--store', storeDir, 'copy', '-q', `oci:${src}:latest`, `oci:${join(dir, 'eacces-out')}:x`], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /permission denied|EACCES/i);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.ok(existsSync(blob), 'the blob that could not be read is still there');
    chmodSync(blob, 0o444);
    // Readable again: verified by re-hashing and kept.
    const v = ocikit(['--store', storeDir, 'store', 'verify', '--json']);
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual(JSON.parse(v.stdout).corrupt, []);
  });

  describe('a registry location is learned only from a verified blob', () => {
    let reg: RegistryHandle;
    let proxy: FaultProxy;
    before(async () => {
      reg = await startRegistry();
      proxy = await startFaultProxy(reg.host);
    });
    after(async () => {
      await proxy.close();
      await reg.stop();
    });

    it('a corrupted download fails the copy, and the cache never records that the repository has the blob', async () => {
      const root = join(dir, 'loc-src');
      const layer = gzipSync(Buffer.from('a layer for the registry\n'.repeat(40_000)));
      layout(root, [{ bytes: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }], cfg([sha(Buffer.from('a layer for the registry\n'.repeat(40_000)))]));
      const push = ocikit(['--store', join(dir, 'store-push'), 'copy', '-q', '--dest-tls-verify=false', `oci:${root}:latest`, `docker://${reg.host}/verify/loc:1`]);
      assert.equal(push.code, 0, push.stderr);
      const layerPath = `/blobs/${sha(layer)}`;
      proxy.rule = (r) => (r.method === 'GET' && r.path.includes(layerPath) ? { kind: 'corrupt' } : { kind: 'pass' });
      const store = BlobStore.open(join(dir, 'store-loc'));
      try {
        await assert.rejects(
          copyImage(parseImageName(`docker://${proxy.host}/verify/loc:1`), parseImageName(`oci:${join(dir, 'loc-out')}:x`), { store, sourceCtx: { registry: { tlsVerify: false } } }),
          (err: unknown) => isOcikitError(err, 'E_DIGEST_MISMATCH'),
        );
        assert.deepEqual(store.cache.locations('docker', sha(layer)), [], 'nothing learned from bytes that failed their check');
        assert.deepEqual(readdirSync(join(store.root, 'tmp')), []);
        // The same pull, not corrupted: verified, so now it is learned.
        proxy.rule = () => ({ kind: 'pass' });
        await copyImage(parseImageName(`docker://${proxy.host}/verify/loc:1`), parseImageName(`oci:${join(dir, 'loc-out')}:x`), { store, sourceCtx: { registry: { tlsVerify: false } } });
        assert.deepEqual(store.cache.locations('docker', sha(layer)), [`${proxy.host}/verify/loc`]);
      } finally {
        store.close();
      }
    });

    it('registry to registry: a download is relayed to the upload as it arrives and kept in the store; a corrupted one leaves no tag and nothing stored', async () => {
      const layerBytes = Buffer.from('relayed layer\n'.repeat(300_000));
      const layer = gzipSync(layerBytes);
      const root = join(dir, 'relay-src');
      layout(root, [{ bytes: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }], cfg([sha(layerBytes)]));
      assert.equal(ocikit(['--store', join(dir, 'store-relay-seed'), 'copy', '-q', '--dest-tls-verify=false', `oci:${root}:latest`, `docker://${reg.host}/verify/relay:1`]).code, 0);
      const layerPath = `/blobs/${sha(layer)}`;
      proxy.rule = (r) => (r.method === 'GET' && r.path.includes(layerPath) ? { kind: 'corrupt' } : { kind: 'pass' });
      const store = BlobStore.open(join(dir, 'store-relay'));
      try {
        const to = (tag: string): string => `docker://${reg.host}/verify/relayed:${tag}`;
        await assert.rejects(
          copyImage(parseImageName(`docker://${proxy.host}/verify/relay:1`), parseImageName(to('bad')), {
            store,
            sourceCtx: { registry: { tlsVerify: false } },
            destCtx: { registry: { tlsVerify: false } },
          }),
          (err: unknown) => isOcikitError(err, 'E_DIGEST_MISMATCH'),
        );
        assert.equal(store.has(sha(layer)), false, 'nothing stored from a corrupted download');
        const head = await fetch(`http://${reg.host}/v2/verify/relayed/manifests/bad`, { method: 'HEAD' });
        assert.equal(head.status, 404, 'no tag at the destination');
        proxy.rule = () => ({ kind: 'pass' });
        const res = await copyImage(parseImageName(`docker://${proxy.host}/verify/relay:1`), parseImageName(to('good')), {
          store,
          sourceCtx: { registry: { tlsVerify: false } },
          destCtx: { registry: { tlsVerify: false } },
        });
        assert.ok(store.has(sha(layer)), 'the relayed layer was kept in the store');
        // The config was verified and kept by the first attempt; only the layer is read again.
        assert.equal(res.bytesRead, layer.length);
        const got = spawnSync('skopeo', ['inspect', '--tls-verify=false', to('good')], { encoding: 'utf8' });
        assert.equal(got.status, 0, got.stderr);
        assert.deepEqual(JSON.parse(got.stdout).Layers, [sha(layer)]);
      } finally {
        store.close();
      }
    });
  });
});
