/**
 * REFERRERS (copy --referrers; beyond skopeo, containers/skopeo#1994): the OCI 1.1 artifacts whose
 * `subject` is an image this copy writes — signatures, attestations, SBOMs — and, recursively, the
 * referrers of those, carried to the destination exactly as they are.
 *
 * - Stage 1c (findReferrers), before any blob moves: the source lists the referrers of every
 *   manifest the copy takes as it is (the top-level manifest, the chosen instances of an index),
 *   then of each referrer found. A destination that cannot hold referrers fails the copy here;
 *   then each referrer manifest is read and verified (digest, size, and that its `subject` really
 *   is the manifest it was listed for), so a bad or stale list fails before any blob moves too.
 * - Stage 5a (copyReferrers), after the image's manifests and before commit: each referrer's blobs
 *   are copied untouched (plan 'keep': no decompression, no recompression, no conversion; an
 *   index's child manifests likewise) and it is handed to dest.putReferrer, a subject always
 *   before its referrers. The destination's commit() makes a subject visible before its referrers, so none is
 *   ever left naming a manifest the destination lacks.
 *
 * A referrer can only follow a manifest that reaches the destination unchanged: its `subject` names
 * that manifest's digest. When the copy changes it (--format, layer compression, a --platform
 * subset of an index), the copy fails with E_CONFLICT before commit, like signatures do.
 */
import { OcikitError, isOcikitError } from '../errors.js';
import { shortDigest, verifyBytes, type Digest } from '../digest/index.js';
import { isNondistributableLayer, parseManifest, subjectOf, type Descriptor, type ParsedManifest } from '../manifest/index.js';
import type { ManifestBlob } from '../transports/types.js';
import type { BlobTask } from './blob.js';
import { runLimited } from './limit.js';
import type { ReferrerOptions } from './options.js';
import { descToInfo, keepManifest, type ImageCopyContext, type Written } from './single.js';

/** A referrer found at stage 1c. */
export interface FoundReferrer {
  /** Its entry in the source's referrers list (untrusted until copyReferrers verified it). */
  descriptor: Descriptor;
  /** The manifest its `subject` names: one the copy writes (depth 1) or another referrer. */
  subject: Digest;
  /** 1 for a referrer of an image, 2 for a referrer of that referrer, ... */
  depth: number;
  /** The referrer manifest, read and verified at stage 1c. */
  manifest: ManifestBlob;
  parsed: ParsedManifest;
}

/** How deep referrers of referrers are followed. */
export const MAX_REFERRER_DEPTH = 8;
/** How many referrers one copy carries at most (a hostile source could list without end). */
export const MAX_REFERRERS = 10_000;
/** How deep an index referrer's child indexes are followed. */
const MAX_NESTING = 4;

/**
 * Stage 1c: the referrers of `subjects` (the manifests the copy writes as they are) and of their
 * referrers, breadth first: every subject comes before its referrers in the list.
 */
export async function findReferrers(c: ImageCopyContext, subjects: Digest[], o: ReferrerOptions): Promise<FoundReferrer[]> {
  const list = c.source.listReferrers?.bind(c.source);
  // A transport that cannot hold referrers (dir:, docker-archive:) has none to carry.
  if (!list) return [];
  const found: Array<Omit<FoundReferrer, 'manifest' | 'parsed'>> = [];
  const seen = new Set<string>(subjects);
  let level: Array<{ subject: Digest }> = subjects.map((subject) => ({ subject }));
  for (let depth = 1; level.length > 0; depth++) {
    if (depth > MAX_REFERRER_DEPTH) throw new OcikitError('E_BAD_INPUT', `${c.label}: referrers nest more than ${MAX_REFERRER_DEPTH} deep`);
    const next: Array<{ subject: Digest }> = [];
    for (const { subject } of level) {
      const wanted = depth === 1 ? o.artifactTypes : undefined;
      for (const d of await list(subject, wanted)) {
        // The source MAY ignore the filter (a registry that does not filter, the fallback tag).
        if (wanted && wanted.length > 0 && (d.artifactType === undefined || !wanted.includes(d.artifactType))) continue;
        if (seen.has(d.digest)) continue;
        seen.add(d.digest);
        found.push({ descriptor: d, subject, depth });
        if (found.length > MAX_REFERRERS) throw new OcikitError('E_BAD_INPUT', `${c.label}: more than ${MAX_REFERRERS} referrers`);
        next.push({ subject: d.digest });
      }
    }
    level = next;
  }
  if (found.length > 0 && !c.dest.putReferrer) {
    throw new OcikitError('E_UNSUPPORTED', `${c.dest.reference} cannot hold referrers, and ${c.label} has ${found.length} (--referrers)`, {
      hint: 'copy to docker:// or oci:, or drop --referrers',
    });
  }
  const out: FoundReferrer[] = [];
  for (const f of found) out.push({ ...f, ...(await readManifest(c, f.descriptor, whatOf(c, f), f.subject)) });
  return out;
}

function whatOf(c: ImageCopyContext, f: { descriptor: Descriptor; subject: Digest }): string {
  return `referrer ${shortDigest(f.descriptor.digest)} of ${shortDigest(f.subject)} from ${c.label}`;
}

/**
 * Stage 5a: copy the referrers found at stage 1c, after the image's manifests (`written`) and
 * before commit. E_CONFLICT when a manifest that has referrers was changed by the copy.
 */
export async function copyReferrers(c: ImageCopyContext, found: FoundReferrer[], written: Written): Promise<void> {
  if (found.length === 0) return;
  // What the destination now holds as it came: the top-level manifest and, for an index, its entries.
  const present = new Set<string>([written.digest]);
  const top = parseManifest(written.bytes, written.mediaType);
  if (top.kind === 'oci-index' || top.kind === 'docker-list') for (const d of top.value.manifests) present.add(d.digest);
  for (const f of found) {
    if (f.depth === 1 && !present.has(f.subject)) {
      throw new OcikitError(
        'E_CONFLICT',
        `${c.label}: manifest ${shortDigest(f.subject)} has referrers (${f.descriptor.artifactType ?? f.descriptor.mediaType}, ...), but this copy changes it, so they would name a manifest the destination does not have`,
        {
          hint: 'drop --format and the compression options (or --platform), or copy without --referrers',
        },
      );
    }
  }
  for (const f of found) {
    await copyContents(c, f.parsed, whatOf(c, f), 0);
    await c.dest.putReferrer!(f.manifest, f.descriptor.digest, f.subject);
    const artifactType = f.descriptor.artifactType;
    c.tracker.emit({ type: 'referrer', digest: f.descriptor.digest, subject: f.subject, ...(artifactType !== undefined ? { artifactType } : {}) });
  }
}

/**
 * Read the manifest `d` describes from the source, verified against it (digest, size), parsed,
 * noted for the store to keep (keepManifest). `subject`, when given, is what its `subject` MUST name. A manifest the source
 * lists but does not have is E_BAD_INPUT (a stale referrers list), not "image not found".
 */
async function readManifest(c: ImageCopyContext, d: Descriptor, what: string, subject?: Digest): Promise<{ manifest: ManifestBlob; parsed: ParsedManifest }> {
  const digest = d.digest;
  let got: ManifestBlob;
  try {
    got = await c.source.getManifest(digest);
  } catch (err) {
    if (isOcikitError(err, 'E_NOT_FOUND'))
      throw new OcikitError('E_BAD_INPUT', `${what}: listed by the source, which does not have it (${(err as Error).message})`, {
        cause: err,
        hint: 'copy without --referrers, or repair the referrers list',
      });
    throw err;
  }
  verifyBytes(got.bytes, { digest, size: d.size, what });
  let parsed: ParsedManifest;
  try {
    parsed = parseManifest(got.bytes, d.mediaType || got.mediaType || undefined);
  } catch (err) {
    throw new OcikitError((err as OcikitError).code ?? 'E_BAD_INPUT', `${what}: ${(err as Error).message}`, { cause: err });
  }
  if (subject !== undefined && subjectOf(parsed)?.digest !== subject) {
    const named = subjectOf(parsed)?.digest;
    throw new OcikitError('E_BAD_INPUT', `${what}: the source lists it as a referrer, but its subject is ${named ? shortDigest(named) : 'absent'}`);
  }
  if (!c.dest.properties.supportedManifestTypes.includes(parsed.mediaType)) {
    throw new OcikitError('E_UNSUPPORTED', `${what}: ${c.dest.reference} does not take ${parsed.mediaType} manifests, and a referrer is copied only as it is`);
  }
  keepManifest(c, got.bytes, what, digest);
  return { manifest: { bytes: got.bytes, mediaType: parsed.mediaType }, parsed };
}

/**
 * Copy what a verified manifest names, exactly as it is: its blobs, or for an index its child
 * manifests (each read, verified, its own contents copied, then written with putManifest(child, digest)).
 */
async function copyContents(c: ImageCopyContext, parsed: ParsedManifest, what: string, nesting: number): Promise<void> {
  if (parsed.kind === 'oci-index' || parsed.kind === 'docker-list') {
    if (nesting >= MAX_NESTING) throw new OcikitError('E_BAD_INPUT', `${what}: indexes nest more than ${MAX_NESTING} deep`);
    for (const child of parsed.value.manifests as Descriptor[]) {
      const cw = `manifest ${shortDigest(child.digest)} of ${what}`;
      const m = await readManifest(c, child, cw);
      await copyContents(c, m.parsed, cw, nesting + 1);
      await c.dest.putManifest(m.manifest, child.digest);
    }
  } else {
    const blobs = [parsed.value.config, ...parsed.value.layers] as Descriptor[];
    const tasks: BlobTask[] = blobs.map((b, i) => ({
      info: descToInfo(b),
      label: i === 0 ? `config of ${what}` : `blob ${i - 1} of ${what}`,
      from: 'none',
      plan: { action: 'keep' },
      exactLevel: false,
      foreign: isNondistributableLayer(b.mediaType) && (b.urls?.length ?? 0) > 0 && c.dest.properties.acceptsForeignLayers,
    }));
    c.tracker.emit({ type: 'image', blobs: tasks.length, bytes: tasks.reduce((a, t) => a + Math.max(0, t.info.size), 0) });
    const n = Math.max(1, Math.min(c.source.properties.concurrentGetBlob, c.dest.properties.concurrentPutBlob, c.opts.jobs ?? 4));
    await runLimited(
      [...tasks].sort((a, b) => b.info.size - a.info.size),
      n,
      async (t) => {
        await c.blobs.copy(t);
      },
    );
  }
}
