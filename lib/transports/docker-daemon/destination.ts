/**
 * DockerDaemonDestination: an image loaded into a Docker engine (POST /images/load).
 *
 * The body of the load request is a docker-archive generated on the fly: ../docker-archive/
 * destination.ts writes its members (layers as the source has them, gzip or plain, the config,
 * then manifest.json and `repositories` at commit) through a TarWriter whose output IS the request
 * body. Nothing is staged on disk; layers flow from the store into the socket. The daemon reads
 * gzip (and zstd) layer files as `docker load` always has, and checks each against the config's
 * diff ID as it applies it. What it keeps, and gives back on export, is uncompressed layers and
 * the config: reading the image back gives a manifest naming those, not the one copied in.
 *
 * Atomicity comes from the daemon: it reads the whole archive before it registers anything, and
 * the tag is attached last. manifest.json is written only by commit(), so a copy that fails or is
 * abandoned before then sends a truncated archive (the request is aborted) and the daemon loads
 * nothing and tags nothing.
 *
 * WARNING: the API has no way to ask which layers the daemon already has, so every layer is sent
 * on every load, even when the daemon holds it (it then discards the copy).
 */
import { PassThrough } from 'node:stream';
import { OcikitError, isOcikitError, wrapError } from '../../errors.js';
import type { Digest } from '../../digest/index.js';
import { DockerArchiveDestination } from '../docker-archive/destination.js';
import { tarWriterToStream } from '../tar/writer.js';
import type { DockerReference } from '../../reference/index.js';
import type { BlobInfo, BlobInput, ImageDestination, ImageReference, ManifestBlob, SystemContext } from '../types.js';
import { Engine, connectionError, httpError, oneLine } from './engine.js';
import type { Dispatcher } from 'undici';

/** An image loaded into a Docker daemon by one streamed POST /images/load (see the module comment). */
export class DockerDaemonDestination implements ImageDestination {
  private committed = false;
  private closed = false;

  private constructor(
    readonly reference: ImageReference,
    private readonly engine: Engine,
    private readonly inner: DockerArchiveDestination,
    private readonly body: PassThrough,
    private readonly response: Promise<Dispatcher.ResponseData>,
    private readonly abort: AbortController,
    /** Set when the load request failed (the daemon went away): the reason to report. */
    private readonly failed: { error?: unknown },
    private readonly ctx: SystemContext,
  ) {}

  get properties(): ImageDestination['properties'] {
    // docker load takes gzip (and zstd) layer files and checks each against its diff ID as it
    // applies it: sending layers as they are spares decompressing them here and moves a third of
    // the bytes through the socket and the daemon's staging directory.
    return { ...this.inner.properties, desiredCompression: 'preserve' };
  }

  /**
   * Reach the daemon (failing now, before any work, when it cannot be reached) and start the
   * load request, whose body the copy then writes.
   */
  static async open(ref: ImageReference, name: DockerReference, ctx: SystemContext): Promise<DockerDaemonDestination> {
    const where = ref.toString();
    const engine = await Engine.connect(ctx, `writing ${where}`);
    const body = new PassThrough({ highWaterMark: 1 << 20 });
    const abort = new AbortController();
    ctx.events?.signal?.addEventListener('abort', () => abort.abort(), { once: true });
    const response = engine.request({ method: 'POST', path: '/images/load', query: { quiet: '0' }, headers: { 'content-type': 'application/x-tar' }, body, signal: abort.signal }, `loading ${where}`);
    // If the daemon goes away while the archive is being written, the writer must fail now with
    // that reason, not wait for room in a body nobody reads.
    const failed: { error?: unknown } = {};
    response.catch((err: unknown) => {
      failed.error = err;
      body.destroy(err instanceof Error ? err : new Error(String(err)));
    });
    const writer = tarWriterToStream(body, where);
    const inner = DockerArchiveDestination.toWriter(ref, writer, where, name, ctx);
    return new DockerDaemonDestination(ref, engine, inner, body, response, abort, failed, ctx);
  }

  tryReusingBlob(info: BlobInfo): Promise<BlobInfo | undefined> {
    // Only blobs already written into this load's archive: the daemon cannot be asked.
    return this.inner.tryReusingBlob(info);
  }

  async putBlob(input: BlobInput, info: BlobInfo): Promise<BlobInfo> {
    try {
      return await this.inner.putBlob(input, info);
    } catch (err) {
      // A digest mismatch is the input's fault; a write failure because the daemon went away is
      // better told by the request's own error.
      if (isOcikitError(err) && (err.code === 'E_DIGEST_MISMATCH' || err.code === 'E_SIZE_MISMATCH')) throw err;
      throw await this.requestError(err);
    }
  }

  /**
   * The reason to report for a failed write: the load request's own error when it failed (the
   * daemon went away; the body breaking is only the symptom). The two are reported by different
   * streams, in either order: give the request a moment to settle before falling back to `err`.
   */
  private async requestError(err: unknown): Promise<unknown> {
    if (this.failed.error === undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.response.then(
          () => undefined,
          () => undefined,
        ),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000))),
      ]);
      clearTimeout(timer);
    }
    return this.failed.error ?? err;
  }

  putManifest(m: ManifestBlob, instance?: Digest): Promise<void> {
    return this.inner.putManifest(m, instance);
  }

  /**
   * Finish the archive and wait for the daemon's verdict. Its status lines ("Loaded image: x")
   * go to ctx.events.onStatus; an error it reports becomes one line (E_IO), and then nothing was loaded.
   */
  async commit(): Promise<void> {
    const where = this.reference.toString();
    try {
      await this.inner.commit();
    } catch (err) {
      // A writer failure caused by the request failing is better told by the request's error.
      throw await this.requestError(err);
    }
    const res = await this.response;
    if (res.statusCode !== 200) throw await httpError(res, `loading ${where}`);
    let loaded = false;
    let buf = '';
    const handle = (line: string): void => {
      if (line.trim() === '') return;
      let msg: { error?: unknown; errorDetail?: { message?: unknown }; stream?: unknown; status?: unknown; progressDetail?: unknown; id?: unknown };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        this.ctx.events?.onStatus?.(oneLine(line));
        return;
      }
      const error = typeof msg.errorDetail?.message === 'string' ? msg.errorDetail.message : typeof msg.error === 'string' ? msg.error : undefined;
      if (error !== undefined) throw new OcikitError('E_IO', `loading ${where}: the daemon at ${this.engine.host} refused the image: ${oneLine(error)}`);
      if (typeof msg.stream === 'string') {
        const text = msg.stream.trim();
        if (/^Loaded image/.test(text)) loaded = true;
        if (text) this.ctx.events?.onStatus?.(oneLine(text));
      } else if (typeof msg.status === 'string' && (msg.progressDetail === undefined || Object.keys(msg.progressDetail as object).length === 0)) {
        this.ctx.events?.onStatus?.(oneLine(typeof msg.id === 'string' ? `${msg.status} ${msg.id}` : msg.status));
      }
    };
    try {
      for await (const chunk of res.body) {
        buf += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          handle(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      }
      handle(buf);
    } catch (err) {
      if (isOcikitError(err)) throw err;
      throw connectionError(err, this.engine.host, `loading ${where}: waiting for the daemon's answer`);
    }
    if (!loaded) throw new OcikitError('E_IO', `loading ${where}: the daemon at ${this.engine.host} ended its answer without saying it loaded the image`);
    this.committed = true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.committed) {
      // Cut the request: the daemon sees a truncated archive and loads nothing.
      this.abort.abort();
      this.body.destroy();
      await this.response
        .then(
          (r) => r.body.dump(),
          () => undefined,
        )
        .catch(() => undefined);
    }
    await this.inner.close().catch((err) => {
      throw wrapError(err, `closing ${this.reference}`);
    });
    await this.engine.close();
  }
}
