/**
 * OCI 1.1 referrers in a registry repository (distribution-spec 1.1), for DockerSource.listReferrers
 * and DockerDestination.putReferrer:
 *
 * - reading: the referrers API (GET /v2/NAME/referrers/DIGEST); a registry that answers 404 has
 *   none, and then the referrers tag schema holds the list: an OCI index tagged `sha256-<hex>`.
 *   A tag that is absent, or holds anything but an OCI index, means no referrers (as the spec says);
 * - writing: every referrer manifest is pushed by digest; a registry with the referrers API says it
 *   indexed it (the OCI-Subject header). For one that does not, the pusher maintains the fallback
 *   tag: read the index there (absent: start empty), add the entries not yet listed, push it back.
 *
 * WARNING: the fallback tag is a read-modify-write with no lock (distribution 2.8 has no
 * conditional PUT): two clients updating the list of one subject at the same moment can lose one
 * entry, as the spec acknowledges. A registry with the referrers API has no such race.
 */
import { OcikitError, isOcikitError } from '../../errors.js';
import { shortDigest, type Digest } from '../../digest/index.js';
import { OCI_INDEX, parseManifest, referrersTag, type Descriptor } from '../../manifest/index.js';
import type { Repository } from '../../registry/index.js';

/**
 * The referrers of `subject` in `repo`: from the referrers API, else from the fallback tag.
 * One artifact type is passed on as the API's filter; the caller filters again in every case
 * (a registry MAY ignore the filter, and the fallback tag has none).
 */
export async function readReferrers(repo: Repository, subject: Digest, artifactTypes?: string[]): Promise<Descriptor[]> {
  const api = await repo.referrers(subject, artifactTypes?.length === 1 ? artifactTypes[0] : undefined);
  if (api) return api.manifests;
  const tagged = await readFallback(repo, subject);
  return tagged.kind === 'index' ? tagged.value.manifests : [];
}

type Fallback = { kind: 'absent' } | { kind: 'other'; mediaType: string } | { kind: 'index'; value: { manifests: Descriptor[]; [k: string]: unknown } };

/** What the fallback tag of `subject` holds. */
async function readFallback(repo: Repository, subject: Digest): Promise<Fallback> {
  let m;
  try {
    m = await repo.getManifest(referrersTag(subject));
  } catch (err) {
    if (isOcikitError(err, 'E_NOT_FOUND')) return { kind: 'absent' };
    throw err;
  }
  try {
    const parsed = parseManifest(m.bytes, m.mediaType || undefined);
    if (parsed.kind === 'oci-index') return { kind: 'index', value: JSON.parse(m.bytes.toString('utf8')) as { manifests: Descriptor[] } };
    return { kind: 'other', mediaType: parsed.mediaType };
  } catch (err) {
    if (isOcikitError(err, 'E_BAD_INPUT') || isOcikitError(err, 'E_UNSUPPORTED')) return { kind: 'other', mediaType: m.mediaType || 'an unreadable manifest' };
    throw err;
  }
}

/**
 * Add `entries` (referrers of `subject`, already pushed by digest) to the fallback tag's index.
 * Entries already listed (same digest) are not added twice; nothing is pushed when none is new.
 * A tag that holds something other than an OCI index is left alone: E_CONFLICT (the spec says to
 * report a failure rather than overwrite it).
 */
export async function addToFallbackTag(repo: Repository, subject: Digest, entries: Descriptor[]): Promise<void> {
  const tag = referrersTag(subject);
  const cur = await readFallback(repo, subject);
  if (cur.kind === 'other') {
    throw new OcikitError(
      'E_CONFLICT',
      `listing referrers of ${shortDigest(subject)} in docker://${repo.name}: the tag ${tag} holds ${cur.mediaType}, not the OCI index of the referrers tag schema; the referrers were pushed by digest but are not listed`,
      {
        hint: `remove or rename the tag ${tag}, then copy again`,
      },
    );
  }
  // Other clients' entries (and any fields this version does not know) are kept as they are.
  const value = cur.kind === 'index' ? cur.value : { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] as Descriptor[] };
  const have = new Set(value.manifests.map((d) => d.digest));
  const added = entries.filter((e) => !have.has(e.digest) && (have.add(e.digest), true));
  if (added.length === 0) return;
  value.manifests = [...value.manifests, ...added];
  await repo.putManifest(tag, Buffer.from(JSON.stringify(value)), OCI_INDEX);
}
