/**
 * Where signatures of docker:// images live (containers-registries.d(5)), read and written for
 * DockerSource.getSignatures and DockerDestination.putSignatures:
 *
 * - simple (GPG) signatures in lookaside storage: `<base>/<repo path>@sha256=<hex>/signature-N`,
 *   read over http(s) or from file://, written only to file:// (lookaside-staging) — each file
 *   atomically (tmp + rename), then the numbers past the new set removed, as containers/image does;
 * - sigstore signatures as attachments, when use-sigstore-attachments is on: an OCI manifest tagged
 *   `sha256-<hex>.sig` whose layers are the payloads, with the signature in a layer annotation.
 *   New signatures are added to the layers already there; one already there is not added again.
 *
 * WARNING: everything read here is untrusted: sizes are capped, attachment layers are verified by
 * digest, and the bytes go to the trust policy (lib/signature), which decides.
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { OcikitError, isOcikitError, redact, wrapError } from '../../errors.js';
import { digestBytes, isDigest, shortDigest, verifyBytes, type Digest } from '../../digest/index.js';
import { OCI_CONFIG, OCI_MANIFEST } from '../../manifest/index.js';
import type { DockerReference } from '../../reference/index.js';
import { uploadBlob, type Repository } from '../../registry/index.js';
// The modules themselves, not lib/signature's index: reading signatures needs neither the policy
// evaluator nor the sigstore crypto.
import { parseSignatureBlob, signatureBlobBytes, type SignatureBlob } from '../../signature/blob.js';
import { loadRegistriesConfig, lookasideBase, lookasideSignatureURL, sigstoreAttachmentTag, useSigstoreAttachments, type RegistriesConfig } from '../../signature/registries-d.js';
import { MAX_SIGNATURE_SIZE } from '../../signature/simple-signing.js';
import { atomicWriteFile } from '../../fs/durable.js';

/** Signature writes in progress, per "repository@digest" (see write()). */
const writing = new Map<string, Promise<unknown>>();

/** containers/image's cap on lookaside signatures per manifest. */
const MAX_LOOKASIDE_SIGNATURES = 128;

type SigstoreBlob = Extract<SignatureBlob, { format: 'sigstore' }>;

interface OciDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
}

async function readCapped(stream: AsyncIterable<Uint8Array>, max: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += c.length;
    if (n > max) throw new OcikitError('E_SIGNATURE', `${what}: larger than ${max} bytes`);
    parts.push(Buffer.from(c));
  }
  return Buffer.concat(parts);
}

/** The signature storage of one repository, as registries.d configures it. */
export class DockerSignatureStore {
  #cfg: Promise<RegistriesConfig> | undefined;

  constructor(
    private readonly repo: Repository,
    private readonly ref: DockerReference,
    private readonly registriesDir: string | undefined,
    private readonly timeoutMs = 60_000,
  ) {}

  private config(): Promise<RegistriesConfig> {
    return (this.#cfg ??= loadRegistriesConfig(this.registriesDir));
  }

  /** Every signature of `manifestDigest`: lookaside ones, then sigstore attachments. */
  async read(manifestDigest: Digest): Promise<Buffer[]> {
    const cfg = await this.config();
    const out: Buffer[] = [];
    const base = lookasideBase(cfg, this.ref, false);
    for (let i = 0; ; i++) {
      if (i >= MAX_LOOKASIDE_SIGNATURES) throw new OcikitError('E_SIGNATURE', `reading signatures of ${this.ref.name}: more than ${MAX_LOOKASIDE_SIGNATURES} in lookaside storage`);
      const url = lookasideSignatureURL(base, manifestDigest, i);
      const blob = await this.readOne(url);
      if (!blob) break;
      parseSignatureBlob(blob, `signature ${redact(url.href)}`);
      out.push(blob);
    }
    if (useSigstoreAttachments(cfg, this.ref)) out.push(...(await this.readAttachments(manifestDigest)));
    return out;
  }

  private async readOne(url: URL): Promise<Buffer | undefined> {
    const what = `reading signature ${redact(url.href)}`;
    if (url.protocol === 'file:') {
      const path = fileURLToPath(url);
      try {
        const st = await fsp.stat(path);
        if (st.size > MAX_SIGNATURE_SIZE) throw new OcikitError('E_SIGNATURE', `${what}: larger than ${MAX_SIGNATURE_SIZE} bytes`);
        return await fsp.readFile(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        if (isOcikitError(err)) throw err;
        throw wrapError(err, what);
      }
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OcikitError('E_UNSUPPORTED', `${what}: unsupported scheme ${url.protocol}`);
    let res: Response;
    try {
      res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new OcikitError('E_NETWORK', `${what}: ${(err as Error).message}`, { cause: err });
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new OcikitError('E_NETWORK', `${what}: the server answered ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? -1);
    if (declared > MAX_SIGNATURE_SIZE) {
      await res.body?.cancel();
      throw new OcikitError('E_SIGNATURE', `${what}: larger than ${MAX_SIGNATURE_SIZE} bytes`);
    }
    return res.body ? readCapped(res.body, MAX_SIGNATURE_SIZE, what) : Buffer.alloc(0);
  }

  private async attachmentManifest(manifestDigest: Digest): Promise<{ layers: OciDescriptor[]; config?: OciDescriptor } | undefined> {
    const tag = sigstoreAttachmentTag(manifestDigest);
    let m;
    try {
      m = await this.repo.getManifest(tag);
    } catch (err) {
      if (isOcikitError(err, 'E_NOT_FOUND')) return undefined;
      throw err;
    }
    const what = `reading sigstore attachments ${this.repo.name}:${tag}`;
    if (m.mediaType !== OCI_MANIFEST) throw new OcikitError('E_SIGNATURE', `${what}: unexpected media type ${JSON.stringify(m.mediaType)}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(m.bytes.toString('utf8'));
    } catch (err) {
      throw new OcikitError('E_SIGNATURE', `${what}: not JSON`, { cause: err });
    }
    // JSON null or a scalar has no layers (and is refused below) rather than failing with a TypeError.
    const v: { layers?: unknown; config?: unknown } = parsed !== null && typeof parsed === 'object' ? parsed : {};
    const desc = (d: unknown, at: string): OciDescriptor => {
      const o = d as Partial<OciDescriptor> | null;
      if (!o || typeof o !== 'object' || typeof o.mediaType !== 'string' || typeof o.digest !== 'string' || typeof o.size !== 'number' || o.size < 0) {
        throw new OcikitError('E_SIGNATURE', `${what}: ${at} is not a valid descriptor`);
      }
      if (!isDigest(o.digest)) throw new OcikitError('E_SIGNATURE', `${what}: ${at} has a malformed digest`);
      return o as OciDescriptor;
    };
    if (!Array.isArray(v.layers)) throw new OcikitError('E_SIGNATURE', `${what}: no layers`);
    return { layers: v.layers.map((l, i) => desc(l, `layer ${i}`)), ...(v.config ? { config: desc(v.config, 'config') } : {}) };
  }

  private async readBlob(d: OciDescriptor, what: string): Promise<Buffer> {
    if (d.size > MAX_SIGNATURE_SIZE) throw new OcikitError('E_SIGNATURE', `${what}: larger than ${MAX_SIGNATURE_SIZE} bytes`);
    const { stream } = await this.repo.getBlob(d.digest, d.size);
    const bytes = await readCapped(stream, MAX_SIGNATURE_SIZE, what);
    verifyBytes(bytes, { digest: d.digest, size: d.size, what });
    return bytes;
  }

  private async readAttachments(manifestDigest: Digest): Promise<Buffer[]> {
    const m = await this.attachmentManifest(manifestDigest);
    if (!m) return [];
    const out: Buffer[] = [];
    for (const [i, l] of m.layers.entries()) {
      const payload = await this.readBlob(l, `reading sigstore attachment ${i + 1} of ${shortDigest(manifestDigest)} from docker://${this.repo.name}`);
      out.push(signatureBlobBytes({ format: 'sigstore', mediaType: l.mediaType, payload, annotations: l.annotations ?? {} }));
    }
    return out;
  }

  /**
   * Check, before anything is written, that `sigs` can be stored here; returns them split by where
   * they go. E_UNSUPPORTED naming the registries.d setting to change otherwise.
   */
  async plan(sigs: Buffer[]): Promise<{ simple: Buffer[]; sigstore: SigstoreBlob[]; lookaside?: URL }> {
    const cfg = await this.config();
    const simple: Buffer[] = [];
    const sigstore: SigstoreBlob[] = [];
    for (const [i, b] of sigs.entries()) {
      const p = parseSignatureBlob(b, `signature ${i + 1}`);
      if (p.format === 'sigstore') sigstore.push(p);
      else simple.push(b);
    }
    if (sigstore.length > 0 && !useSigstoreAttachments(cfg, this.ref)) {
      throw new OcikitError('E_UNSUPPORTED', `writing sigstore signatures to docker://${this.ref.name}: sigstore attachments are off`, {
        hint: `set use-sigstore-attachments: true for it in a registries.d file (${cfg.dir}, or --registries.d DIR)`,
      });
    }
    if (simple.length === 0) return { simple, sigstore };
    const base = lookasideBase(cfg, this.ref, true);
    if (base.protocol !== 'file:') {
      throw new OcikitError('E_UNSUPPORTED', `writing signatures of docker://${this.ref.name} to ${redact(base.href)}: only file:// lookaside storage can be written`, {
        hint: 'configure a lookaside-staging: file:///… location in registries.d and publish it yourself',
      });
    }
    return { simple, sigstore, lookaside: base };
  }

  /**
   * Write `sigs` (as planned by plan()) for `manifestDigest`. Writes for one manifest of one
   * repository run one at a time in this process: the attachment is read, extended and written
   * back, and two tags of one manifest signed by one sync at once would otherwise lose one.
   */
  async write(manifestDigest: Digest, planned: Awaited<ReturnType<DockerSignatureStore['plan']>>): Promise<void> {
    const key = `${this.repo.name}@${manifestDigest}`;
    const before = writing.get(key) ?? Promise.resolve();
    const mine = before.then(async () => {
      if (planned.sigstore.length > 0) await this.writeAttachments(manifestDigest, planned.sigstore);
      if (planned.lookaside) await this.writeLookaside(manifestDigest, planned.lookaside, planned.simple);
    });
    const settled = mine.catch(() => undefined);
    writing.set(key, settled);
    try {
      await mine;
    } finally {
      if (writing.get(key) === settled) writing.delete(key);
    }
  }

  private async writeLookaside(manifestDigest: Digest, base: URL, sigs: Buffer[]): Promise<void> {
    for (const [i, s] of sigs.entries()) {
      const path = fileURLToPath(lookasideSignatureURL(base, manifestDigest, i));
      await fsp.mkdir(dirname(path), { recursive: true }).catch((err) => {
        throw wrapError(err, `creating ${dirname(path)}`);
      });
      await atomicWriteFile(path, s);
    }
    // Signatures numbered past the new set belong to an older set for this digest: remove them, so
    // readers (who stop at the first gap) see exactly the set just written.
    for (let i = sigs.length; ; i++) {
      const path = fileURLToPath(lookasideSignatureURL(base, manifestDigest, i));
      try {
        await fsp.unlink(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
        throw wrapError(err, `removing old signature ${path}`);
      }
    }
  }

  private async putBytes(bytes: Buffer): Promise<{ digest: Digest; size: number }> {
    const digest = digestBytes(bytes);
    if ((await this.repo.headBlob(digest)) === undefined) await uploadBlob(this.repo, { kind: 'stream', stream: Readable.from([bytes]) }, { digest, size: bytes.length });
    return { digest, size: bytes.length };
  }

  private async writeAttachments(manifestDigest: Digest, sigs: SigstoreBlob[]): Promise<void> {
    const existing = await this.attachmentManifest(manifestDigest);
    const layers: OciDescriptor[] = existing ? [...existing.layers] : [];
    let config: { rootfs?: { type?: string; diff_ids?: string[] }; [k: string]: unknown } = { architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [] } };
    if (existing?.config) {
      const raw = await this.readBlob(existing.config, `reading the sigstore attachment config of ${shortDigest(manifestDigest)}`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        throw new OcikitError('E_SIGNATURE', `the sigstore attachment config of ${shortDigest(manifestDigest)} in docker://${this.repo.name} is not JSON`, { cause: err });
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new OcikitError('E_SIGNATURE', `the sigstore attachment config of ${shortDigest(manifestDigest)} in docker://${this.repo.name} is not a JSON object`);
      }
      // Kept as it is apart from rootfs.diff_ids, which gets one entry per signature layer.
      config = parsed as typeof config;
    }
    const diffIds = [...(config.rootfs?.diff_ids ?? [])];
    let added = 0;
    for (const s of sigs) {
      const digest = digestBytes(s.payload);
      const same = layers.some((l) => l.mediaType === s.mediaType && l.digest === digest && l.size === s.payload.length && sameAnnotations(l.annotations ?? {}, s.annotations));
      if (same) continue;
      await this.putBytes(s.payload);
      layers.push({ mediaType: s.mediaType, digest, size: s.payload.length, annotations: s.annotations });
      diffIds.push(digest);
      added++;
    }
    if (added === 0 && existing) return;
    config = { ...config, rootfs: { ...(config.rootfs ?? {}), type: config.rootfs?.type ?? 'layers', diff_ids: diffIds } };
    const configBytes = Buffer.from(JSON.stringify(config));
    const c = await this.putBytes(configBytes);
    const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: c.digest, size: c.size }, layers };
    await this.repo.putManifest(sigstoreAttachmentTag(manifestDigest), Buffer.from(JSON.stringify(manifest)), OCI_MANIFEST);
  }
}

function sameAnnotations(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
