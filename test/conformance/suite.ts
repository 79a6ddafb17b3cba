/**
 * One conformance suite for ImageSource / ImageDestination, run against every transport
 * (`conformanceSuite('oci', {...})`). It checks the contracts in lib/transports/types.ts with real
 * copies: what a destination commits is what its source reads back, digests verified; nothing is
 * visible before commit; a failed putBlob leaves nothing; missing blobs are E_NOT_FOUND.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { payloadStream } from '../../lib/transports/payload.js';
import { copyImage } from '../../lib/copy/index.js';
import { digestBytes } from '../../lib/digest/index.js';
import { isOcikitError } from '../../lib/errors.js';
import { parseConfig, parseManifest, type Descriptor } from '../../lib/manifest/index.js';
import { BlobStore } from '../../lib/store/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import type { ImageSource, TransportOptions } from '../../lib/transports/types.js';
import { fixture, tempDir } from '../helpers/paths.js';

export interface TransportUnderTest {
  /** An image name for a fresh location inside `dir`. */
  imageName(dir: string): string;
  /** Manifest formats this transport can hold ('oci', 'v2s2'). */
  formats: Array<'oci' | 'v2s2'>;
  /** Whether it can hold a multi-image index. */
  supportsIndex: boolean;
  /**
   * Whether the image `name` (made by imageName(target)) is visible at the destination. Default:
   * whether `target` exists. Transports that keep images elsewhere (a daemon, a podman store) ask there.
   */
  exists?(name: string, target: string): boolean;
  /**
   * Whether a second copy of an image finds its blobs already at the destination (default true).
   * false where the destination cannot be asked (docker load takes every layer, every time).
   */
  reusesBlobsAcrossCopies?: boolean;
  /** Context for both sides of every copy (a private daemon's host, say). */
  ctx?: TransportOptions;
  /**
   * Whether the destination keeps the manifest it is given (default true). A Docker daemon keeps
   * only the config and uncompressed layers: what it reads back is that image (same config, each
   * layer its diff ID), described by a manifest of its own.
   */
  keepsManifest?: boolean;
}

async function readAll(src: ImageSource, d: Descriptor): Promise<Buffer> {
  const p = await src.getBlob({ digest: d.digest, size: d.size });
  const chunks: Buffer[] = [];
  for await (const c of payloadStream(p)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function conformanceSuite(name: string, t: TransportUnderTest): void {
  const ctx = (): TransportOptions => t.ctx ?? {};
  const exists = (n: string, target: string): boolean => (t.exists ? t.exists(n, target) : existsSync(target));
  describe(`conformance: ${name}`, () => {
    let store: BlobStore;
    let dir: string;
    before(() => {
      dir = tempDir(`ocikit-conf-${name}-`);
      store = BlobStore.open(join(dir, 'store'));
    });
    after(() => store.close());

    for (const format of t.formats) {
      it(`writes an image in ${format} format that its source reads back, every blob verified`, async () => {
        const destName = t.imageName(join(dir, `img-${format}`));
        const res = await copyImage(parseImageName(`oci:${fixture('hello-oci')}:latest`), parseImageName(destName), { store, format, destCtx: ctx() });
        const src = await parseImageName(destName).newSource({ ...ctx(), store });
        try {
          const m = await src.getManifest();
          if (t.keepsManifest ?? true) assert.equal(digestBytes(m.bytes), res.manifestDigest);
          const parsed = parseManifest(m.bytes, m.mediaType || undefined);
          assert.equal(parsed.kind, format === 'oci' ? 'oci-manifest' : 'docker-v2s2');
          if (parsed.kind !== 'oci-manifest' && parsed.kind !== 'docker-v2s2') return;
          const cfgBytes = await readAll(src, parsed.value.config);
          assert.equal(digestBytes(cfgBytes), parsed.value.config.digest);
          const cfg = parseConfig(cfgBytes);
          assert.equal(cfg.rootfs?.diff_ids?.length, parsed.value.layers.length);
          for (const l of parsed.value.layers) {
            const got = await readAll(src, l);
            assert.equal(got.length, l.size);
            assert.equal(digestBytes(got), l.digest);
          }
          if (!(t.keepsManifest ?? true)) {
            // The same image: the config copied, and each layer read back is its diff ID.
            const written = parseManifest(await store.readBytes(res.manifestDigest));
            assert.ok(written.kind === 'oci-manifest' || written.kind === 'docker-v2s2');
            assert.equal(parsed.value.config.digest, written.value.config.digest);
            assert.deepEqual(
              parsed.value.layers.map((l) => l.digest),
              cfg.rootfs.diff_ids,
            );
          }
        } finally {
          await src.close();
        }
      });
    }

    it('source: a missing blob is E_NOT_FOUND', async () => {
      const destName = t.imageName(join(dir, 'img-missing'));
      await copyImage(parseImageName(`oci:${fixture('hello-oci')}:latest`), parseImageName(destName), { store, format: t.formats[0]!, destCtx: ctx() });
      const src = await parseImageName(destName).newSource({ ...ctx(), store });
      try {
        const absent = digestBytes('no such blob');
        await assert.rejects(src.getBlob({ digest: absent, size: 12 }), (err) => isOcikitError(err, 'E_NOT_FOUND'));
      } finally {
        await src.close();
      }
    });

    /**
     * Whether a reader of `destName` finds an image there: asked of the transport itself (a
     * registry answers the manifest HEAD/GET with 404), not of a local folder it may never touch.
     */
    async function visible(destName: string): Promise<boolean> {
      let src: ImageSource | undefined;
      try {
        src = await parseImageName(destName).newSource({ ...ctx(), store });
        await src.getManifest();
        return true;
      } catch (err) {
        if (isOcikitError(err, 'E_NOT_FOUND')) return false;
        throw err;
      } finally {
        await src?.close();
      }
    }

    it('destination: nothing is visible before commit, and close() without commit leaves nothing', async () => {
      // The check can tell: an image that was committed is visible.
      const committed = t.imageName(join(dir, 'img-visible'));
      await copyImage(parseImageName(`oci:${fixture('hello-oci')}:latest`), parseImageName(committed), { store, format: t.formats[0]!, destCtx: ctx() });
      assert.equal(await visible(committed), true, 'a committed image is visible');

      const target = join(dir, 'img-uncommitted');
      const destName = t.imageName(target);
      const before = readdirSync(dir).sort();
      const d = await parseImageName(destName).newDestination({ ...ctx(), store });
      const data = Buffer.from('some layer bytes');
      await d.putBlob({ kind: 'stream', stream: Readable.from([data]) }, { digest: digestBytes(data), size: data.length });
      await d.putManifest({ bytes: Buffer.from('{}'), mediaType: 'application/vnd.oci.image.manifest.v1+json' });
      assert.equal(await visible(destName), false, 'no image is visible before commit');
      assert.equal(exists(destName, target), false, 'target must not exist before commit');
      await d.close();
      assert.equal(await visible(destName), false, 'nor after close() without commit');
      assert.equal(exists(destName, target), false, 'close without commit must leave nothing');
      assert.deepEqual(readdirSync(dir).sort(), before, 'close without commit must leave the parent as it was');
    });

    it('destination: putBlob from a stream that does not match its digest fails and keeps nothing', async () => {
      const target = join(dir, 'img-badblob');
      const destName = t.imageName(target);
      const d = await parseImageName(destName).newDestination({ ...ctx(), store });
      try {
        const data = Buffer.from('the real bytes');
        await assert.rejects(d.putBlob({ kind: 'stream', stream: Readable.from([Buffer.from('other bytes!!!')]) }, { digest: digestBytes(data), size: data.length }), (err) =>
          isOcikitError(err, 'E_DIGEST_MISMATCH'),
        );
        assert.equal(await d.tryReusingBlob({ digest: digestBytes(data), size: data.length }), undefined);
      } finally {
        await d.close();
      }
      assert.equal(exists(destName, target), false);
    });

    it('destination: a copy over an existing image replaces it, and content already there is not written again', async () => {
      const destName = t.imageName(join(dir, 'img-again'));
      const first = await copyImage(parseImageName(`oci:${fixture('hello-oci')}:latest`), parseImageName(destName), { store, format: t.formats[0]!, destCtx: ctx() });
      const second = await copyImage(parseImageName(`oci:${fixture('hello-oci')}:latest`), parseImageName(destName), { store, format: t.formats[0]!, destCtx: ctx() });
      assert.equal(second.manifestDigest, first.manifestDigest);
      const keeps = t.keepsManifest ?? true;
      assert.equal(second.bytesRead, 0, 'the store already had every blob');
      if (t.reusesBlobsAcrossCopies ?? true) {
        assert.equal(second.blobsCopied, 0, 'every blob was already at the destination');
        assert.equal(second.blobsReused, 3);
      } else {
        assert.equal(second.blobsCopied, 3, 'a destination that cannot be asked gets every blob again');
      }
      // What the destination holds now reads back as the image copied.
      const src = await parseImageName(destName).newSource({ ...ctx(), store });
      try {
        const back = parseManifest((await src.getManifest()).bytes);
        if (keeps) assert.equal(digestBytes(back.bytes), second.manifestDigest);
        const written = parseManifest(await store.readBytes(second.manifestDigest));
        assert.ok((back.kind === 'oci-manifest' || back.kind === 'docker-v2s2') && (written.kind === 'oci-manifest' || written.kind === 'docker-v2s2'));
        assert.equal(back.value.config.digest, written.value.config.digest);
      } finally {
        await src.close();
      }
    });

    if (t.supportsIndex) {
      it('holds a multi-image index (--all) with every instance readable', async () => {
        const destName = t.imageName(join(dir, 'img-multi'));
        const res = await copyImage(parseImageName(`oci:${fixture('multiarch-oci')}:latest`), parseImageName(destName), { store, multiArch: 'all', destCtx: ctx() });
        const src = await parseImageName(destName).newSource({ ...ctx(), store });
        try {
          const top = await src.getManifest();
          assert.equal(digestBytes(top.bytes), res.manifestDigest);
          const idx = parseManifest(top.bytes, top.mediaType || undefined);
          assert.ok(idx.kind === 'oci-index' || idx.kind === 'docker-list');
          if (idx.kind !== 'oci-index' && idx.kind !== 'docker-list') return;
          assert.equal(idx.value.manifests.length, 2);
          for (const d of idx.value.manifests) {
            const inst = await src.getManifest(d.digest);
            assert.equal(digestBytes(inst.bytes), d.digest);
          }
        } finally {
          await src.close();
        }
      });
    }
  });
}
