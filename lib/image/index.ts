/**
 * Reading an image as a whole (for inspect): the raw top-level manifest, the instance chosen for
 * the platform, its config, and skopeo's inspect output built from them. The config is read from the
 * source into memory and verified against the manifest's config digest; the context's store is only
 * handed to the source, which opens it if it needs it (a registry source takes known manifests from
 * it, an archive read from a pipe spools into it; a file layout never opens it). When the source
 * did open it and it holds the config, the config is taken from there.
 */
import { payloadStream } from '../transports/payload.js';
import { OcikitError } from '../errors.js';
import { digestBytes, shortDigest, verifyBytes, type Digest } from '../digest/index.js';
import { chooseInstance, hostPlatform, MAX_MANIFEST_SIZE, parseConfig, parseManifest, type Descriptor, type ImageConfig, type ParsedImageManifest, type ParsedManifest } from '../manifest/index.js';
import type { ImageReference, ImageSource, SystemContext } from '../transports/types.js';

export interface OpenedImage {
  /** The top-level manifest bytes and digest (an index, for a multi-image image). */
  rawManifest: Buffer;
  rawMediaType: string;
  digest: Digest;
  /** The single-image manifest (the chosen instance of an index). */
  manifest: ParsedImageManifest;
  rawConfig: Buffer;
  config: ImageConfig;
}

/** Read the top-level manifest only (inspect --raw). */
export async function rawManifestOf(ref: ImageReference, ctx: SystemContext): Promise<{ bytes: Buffer; mediaType: string }> {
  const src = await ref.newSource(ctx);
  try {
    return await src.getManifest();
  } finally {
    await src.close();
  }
}

/** Open an image: top manifest, the instance for this platform (or the overrides), its config. */
export async function openImage(ref: ImageReference, ctx: SystemContext): Promise<OpenedImage> {
  const src = await ref.newSource(ctx);
  try {
    const top = await src.getManifest();
    const parsed: ParsedManifest = parseManifest(top.bytes, top.mediaType || undefined, `reading manifest of ${ref}`);
    let manifest: ParsedImageManifest;
    if (parsed.kind === 'oci-index' || parsed.kind === 'docker-list') {
      const d = chooseInstance(parsed, hostPlatform(ctx.platform));
      const inst = await src.getManifest(d.digest);
      const got = digestBytes(inst.bytes);
      if (got !== d.digest) throw new OcikitError('E_DIGEST_MISMATCH', `reading manifest ${shortDigest(d.digest)} from ${ref}: content has digest ${got}`);
      const p = parseManifest(inst.bytes, d.mediaType, `reading manifest ${shortDigest(d.digest)} of ${ref}`);
      if (p.kind !== 'oci-manifest' && p.kind !== 'docker-v2s2') throw new OcikitError('E_UNSUPPORTED', `${ref}: nested indexes are not supported`);
      manifest = p;
    } else {
      manifest = parsed;
    }
    const rawConfig = (await configFromStore(ctx, manifest.value.config)) ?? (await readConfig(src, manifest.value.config, ref));
    return {
      rawManifest: top.bytes,
      rawMediaType: parsed.mediaType,
      digest: digestBytes(top.bytes),
      manifest,
      rawConfig,
      config: parseConfig(rawConfig, `reading config ${shortDigest(manifest.value.config.digest)} of ${ref}`),
    };
  } finally {
    await src.close();
  }
}

/**
 * The config from the store, when the source already opened it (a registry source does, to take
 * manifests it knows) and it holds the config: one request less. The store's readBytes checks the
 * bytes against the digest; any doubt, and the source is asked.
 */
async function configFromStore(ctx: SystemContext, d: Descriptor): Promise<Buffer | undefined> {
  const store = ctx.store.opened();
  if (!store?.has(d.digest)) return undefined;
  const bytes = await store.readBytes(d.digest, MAX_MANIFEST_SIZE).catch(() => undefined);
  return bytes?.length === d.size ? bytes : undefined;
}

async function readConfig(src: ImageSource, d: Descriptor, ref: ImageReference): Promise<Buffer> {
  const digest = d.digest;
  const what = `reading config ${shortDigest(digest)} from ${ref}`;
  if (d.size > MAX_MANIFEST_SIZE) throw new OcikitError('E_MANIFEST_TOO_BIG', `${what}: ${d.size} bytes is over the limit`);
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of payloadStream(await src.getBlob({ digest, size: d.size, mediaType: d.mediaType })) as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_MANIFEST_SIZE) throw new OcikitError('E_MANIFEST_TOO_BIG', `${what}: more than ${MAX_MANIFEST_SIZE} bytes`);
    parts.push(c);
  }
  const bytes = Buffer.concat(parts);
  verifyBytes(bytes, { digest, size: d.size, what });
  return bytes;
}

/** skopeo inspect's default output, keys in skopeo's order. */
export interface InspectOutput {
  Name?: string;
  Tag?: string;
  Digest: string;
  RepoTags: string[];
  Created?: string;
  DockerVersion: string;
  Labels: Record<string, string> | null;
  Architecture: string;
  Variant?: string;
  Os: string;
  Layers: string[];
  LayersData: Array<{ MIMEType: string; Digest: string; Size: number; Annotations: Record<string, string> | null }>;
  Env: string[] | null;
}

/** Build skopeo's inspect output for an opened image. */
export function inspectOutput(img: OpenedImage, opts: { name?: string; repoTags?: string[] }): InspectOutput {
  const c = img.config;
  const layers = img.manifest.value.layers;
  const out: InspectOutput = {
    ...(opts.name ? { Name: opts.name } : {}),
    Digest: img.digest,
    RepoTags: opts.repoTags ?? [],
    ...(c.created ? { Created: c.created } : {}),
    DockerVersion: typeof c.docker_version === 'string' ? c.docker_version : '',
    Labels: c.config?.Labels ? sortedKeys(c.config.Labels) : null,
    Architecture: c.architecture ?? '',
    ...(c.variant ? { Variant: c.variant } : {}),
    Os: c.os ?? '',
    Layers: layers.map((l) => l.digest),
    LayersData: layers.map((l) => ({ MIMEType: l.mediaType, Digest: l.digest, Size: l.size, Annotations: l.annotations ?? null })),
    Env: c.config?.Env ?? null,
  };
  return out;
}

/** The config as an OCI image config (inspect --config): Docker-only fields dropped, OCI key order. */
export function ociConfigView(c: ImageConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (k: string, v: unknown): void => {
    if (v !== undefined && v !== null && v !== '') out[k] = v;
  };
  put('created', c.created);
  put('author', c.author);
  put('architecture', c.architecture ?? '');
  put('variant', c.variant);
  put('os', c.os ?? '');
  put('os.version', c['os.version']);
  put('os.features', c['os.features']);
  if (c.config) {
    const src = c.config as Record<string, unknown>;
    const cfg: Record<string, unknown> = {};
    for (const k of ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'ArgsEscaped']) {
      const v = src[k];
      if (v !== undefined && v !== null && v !== '' && v !== false) cfg[k] = v;
    }
    out.config = cfg;
  } else {
    out.config = {};
  }
  out.rootfs = c.rootfs ?? { type: 'layers', diff_ids: [] };
  put('history', c.history);
  return out;
}

/** A copy with keys in sorted order, as Go prints maps. */
function sortedKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
export { referrersOf, type ReferrerEntry } from './referrers.js';
