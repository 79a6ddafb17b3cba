/**
 * DockerDaemonSource: an image read from a Docker engine's export (GET /images/get), which is a
 * docker-archive tar, in the legacy layout or Docker 25+'s OCI one.
 *
 * The export is consumed as it streams: ../tar/archive.ts SPOOLS it, every member going into the
 * blob store as it arrives, and ../docker-archive/source.ts builds the manifest from it, exactly as
 * for a `docker save` file read from a pipe. There is no temporary archive. Every layer is then in
 * the store, where the copy pipeline takes it from, verified against the digest the manifest gives.
 */
import { Readable } from 'node:stream';
import { OcikitError, isOcikitError } from '../../errors.js';
import type { Digest } from '../../digest/index.js';
import { familiarString, type DockerDaemonReference } from '../../reference/index.js';
import { DockerArchiveSource, dockerArchiveOptions } from '../docker-archive/source.js';
import { TarArchive } from '../tar/archive.js';
import type { BlobInfo, BlobPayload, ImageReference, ImageSource, ManifestBlob, SystemContext } from '../types.js';
import { Engine, connectionError, httpError } from './engine.js';

/** An image exported by a Docker daemon, indexed in the store as it streamed (see the module comment). */
export class DockerDaemonSource implements ImageSource {
  private constructor(
    readonly reference: ImageReference,
    private readonly inner: DockerArchiveSource,
  ) {}

  get properties(): ImageSource['properties'] {
    return this.inner.properties;
  }

  /**
   * Export the image from the daemon and index it. E_NOT_FOUND (exit 2) when the daemon has no
   * such image; E_NETWORK when the daemon cannot be reached or stops mid-export; E_BAD_INPUT when
   * the export is truncated or malformed. Nothing of a failed export is kept except verified
   * blobs in the store.
   */
  static async open(ref: ImageReference, parsed: DockerDaemonReference, ctx: SystemContext): Promise<DockerDaemonSource> {
    const where = ref.toString();
    // How the Engine API names the image: "busybox:latest", "quay.io/x@sha256:…", or the ID "sha256:…".
    const apiName = parsed.id ?? familiarString(parsed.ref!);
    const context = `reading ${where}`;
    const engine = await Engine.connect(ctx, context);
    try {
      const res = await engine.request({ method: 'GET', path: '/images/get', query: { names: apiName }, ...(ctx.events?.signal ? { signal: ctx.events.signal } : {}) }, context);
      if (res.statusCode !== 200) {
        const err = await httpError(res, context);
        if (err.code === 'E_NOT_FOUND') throw new OcikitError('E_NOT_FOUND', `${context}: the daemon at ${engine.host} has no image ${apiName}`, { cause: err });
        throw err;
      }
      const body = Readable.from(guard(res.body, (err) => connectionError(err, engine.host, `${context}: the export stopped before its end`)));
      let archive: TarArchive;
      let inner: DockerArchiveSource;
      try {
        archive = await TarArchive.fromStream(body, dockerArchiveOptions(where, ctx));
        inner = await DockerArchiveSource.fromArchive(ref, archive, {}, ctx);
      } catch (err) {
        body.destroy();
        // The daemon said the image exists: whatever is missing from its export means the export
        // is incomplete, not that the image is absent (exit 1, not 2).
        if (isOcikitError(err, 'E_NOT_FOUND')) throw new OcikitError('E_BAD_INPUT', `${context}: the daemon's export is incomplete: ${err.message}`, { cause: err });
        throw err;
      }
      return new DockerDaemonSource(ref, inner);
    } finally {
      await engine.close();
    }
  }

  getManifest(instance?: Digest): Promise<ManifestBlob> {
    return this.inner.getManifest(instance);
  }

  getBlob(info: BlobInfo): Promise<BlobPayload> {
    return this.inner.getBlob(info);
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}

/** Pass `body` through, replacing its error (a socket closed mid-export) with `fail(err)`. */
async function* guard(body: AsyncIterable<Buffer>, fail: (err: unknown) => OcikitError): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of body) yield chunk;
  } catch (err) {
    throw fail(err);
  }
}
