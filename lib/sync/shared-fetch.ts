/**
 * One fetch per blob across the images of a sync. Tags of one repository share their base layers;
 * copied several at once, each copy would find the layer absent from the store and fetch it. The
 * source of every image is wrapped so that the first copy to ask for a blob fetches it into the
 * store, and the others wait for that and take the store's file.
 *
 * Nothing is trusted more than before: the fetch goes through store.put with the expected digest and
 * size (verified on the way in), and the copy's own put then finds the blob already stored. When the
 * first fetch fails, each waiter fetches from its own source (the same digest may live elsewhere).
 */
import { shortDigest } from '../digest/index.js';
import type { StoreHandle, StoredBlob } from '../store/index.js';
import type { BlobInfo, BlobPayload, ImageReference, ImageSource } from '../transports/types.js';

/** The fetches in flight, by digest, shared by every image of one sync. */
export type FetchesInFlight = Map<string, Promise<StoredBlob>>;

function wrapSource(inner: ImageSource, store: StoreHandle, inFlight: FetchesInFlight): ImageSource {
  const fetchIntoStore = async (payload: Extract<BlobPayload, { kind: 'stream' }>, info: BlobInfo): Promise<StoredBlob> => {
    const expect = { digest: info.digest, size: info.size, ...(info.mediaType ? { mediaType: info.mediaType } : {}), what: `blob ${shortDigest(info.digest)} from ${inner.reference}` };
    return store.get().put(payload.stream, expect);
  };
  const src: ImageSource = {
    reference: inner.reference,
    properties: inner.properties,
    getManifest: (instance) => inner.getManifest(instance),
    async getBlob(info: BlobInfo): Promise<BlobPayload> {
      const running = inFlight.get(info.digest);
      if (running) {
        try {
          const b = await running;
          return { kind: 'path', path: b.path, size: b.size };
        } catch {
          // The other fetch failed: try this image's own source.
          return inner.getBlob(info);
        }
      }
      const payload = await inner.getBlob(info);
      // A local file is no download: the copy pipeline reads (or links) it in one pass itself.
      if (payload.kind === 'path') return payload;
      const p = fetchIntoStore(payload, info);
      inFlight.set(info.digest, p);
      try {
        const b = await p;
        return { kind: 'path', path: b.path, size: b.size };
      } finally {
        inFlight.delete(info.digest);
      }
    },
    close: () => inner.close(),
  };
  if (inner.getSignatures) src.getSignatures = (instance) => inner.getSignatures!(instance);
  // sync --referrers: the referrers are listed by the source itself.
  if (inner.listReferrers) src.listReferrers = (subject, types) => inner.listReferrers!(subject, types);
  if (inner.onVerified) src.onVerified = (info) => inner.onVerified!(info);
  return inner.blobLocation ? { ...src, blobLocation: inner.blobLocation } : src;
}

/** `ref` with its sources sharing blob fetches through `inFlight` (see the module comment). */
export function sharingFetches(ref: ImageReference, store: StoreHandle, inFlight: FetchesInFlight): ImageReference {
  const wrapped: ImageReference = {
    transport: ref.transport,
    withinTransport: ref.withinTransport,
    ...(ref.dockerReference !== undefined ? { dockerReference: ref.dockerReference } : {}),
    toString: () => ref.toString(),
    newSource: async (ctx) => wrapSource(await ref.newSource(ctx), store, inFlight),
    newDestination: (ctx) => ref.newDestination(ctx),
  };
  return wrapped;
}
