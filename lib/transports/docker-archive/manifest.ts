/**
 * The `docker save` format's manifest.json: one item per image, naming its config file, its tags
 * and its layer files by path inside the archive. Read from untrusted archives, so every field is
 * checked before use and every path goes through memberName when it is looked up.
 */
import { OcikitError } from '../../errors.js';
import { MAX_MANIFEST_SIZE } from '../../manifest/index.js';
import { familiarString, parseDockerReference, withDefaultTag, type DockerReference } from '../../reference/index.js';
import type { TarArchive } from '../tar/archive.js';

export const MANIFEST_JSON = 'manifest.json';
export const REPOSITORIES = 'repositories';

/** One image in manifest.json (unknown fields such as Parent and LayerSources are kept as they are). */
export interface ArchiveManifestItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
  [other: string]: unknown;
}

function bad(where: string, why: string): OcikitError {
  return new OcikitError('E_BAD_INPUT', `reading ${where}/manifest.json: ${why}`);
}

/** Parse manifest.json; E_BAD_INPUT naming the archive for anything that is not a list of items. */
export function parseArchiveManifest(bytes: Buffer, where: string): ArchiveManifestItem[] {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw bad(where, `malformed JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(v)) throw bad(where, 'expected a list of images');
  return v.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw bad(where, `image ${i} is not an object`);
    const o = item as Record<string, unknown>;
    if (typeof o.Config !== 'string' || o.Config === '') throw bad(where, `image ${i} has no Config path`);
    if (!Array.isArray(o.Layers) || !o.Layers.every((l) => typeof l === 'string')) throw bad(where, `image ${i}: Layers must be a list of paths`);
    if (o.RepoTags !== undefined && o.RepoTags !== null && (!Array.isArray(o.RepoTags) || !o.RepoTags.every((t) => typeof t === 'string'))) {
      throw bad(where, `image ${i}: RepoTags must be a list of strings`);
    }
    return { ...o, Config: o.Config, Layers: o.Layers, RepoTags: (o.RepoTags as string[] | undefined) ?? null };
  });
}

/** Read and parse the manifest.json of an archive; E_BAD_INPUT when there is none (not a docker-archive). */
export async function readArchiveManifest(ar: TarArchive): Promise<ArchiveManifestItem[]> {
  const m = ar.resolve(MANIFEST_JSON);
  if (!m) {
    throw new OcikitError('E_BAD_INPUT', `opening ${ar.where}: not a docker-archive (no manifest.json; archives from docker before 1.10 are not supported)`);
  }
  return parseArchiveManifest(await ar.readBytes(ar.file(MANIFEST_JSON), MAX_MANIFEST_SIZE, MANIFEST_JSON), ar.where);
}

/** A RepoTags entry as a full tagged reference, or undefined when it is not a valid tagged name. */
export function parseRepoTag(tag: string): DockerReference | undefined {
  try {
    const r = withDefaultTag(parseDockerReference(tag));
    return r.digest === undefined ? r : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The item a reference selects: `@N`, a NAME:TAG among the RepoTags, or the only image. E_NOT_FOUND
 * when absent; E_USAGE when the archive holds several images and none was named.
 */
export function chooseItem(items: ArchiveManifestItem[], sel: { name?: DockerReference; index?: number }, where: string): { item: ArchiveManifestItem; index: number } {
  if (sel.index !== undefined) {
    const item = items[sel.index];
    if (!item) throw new OcikitError('E_NOT_FOUND', `${where}: no image @${sel.index}: the archive holds ${items.length}`);
    return { item, index: sel.index };
  }
  if (sel.name !== undefined) {
    const want = sel.name.toString();
    const i = items.findIndex((it) => (it.RepoTags ?? []).some((t) => parseRepoTag(t)?.toString() === want));
    if (i < 0) throw new OcikitError('E_NOT_FOUND', `${where}: no image tagged ${familiarString(sel.name)}${tagList(items)}`);
    return { item: items[i]!, index: i };
  }
  if (items.length === 0) throw new OcikitError('E_NOT_FOUND', `${where}: the archive holds no images`);
  if (items.length === 1) return { item: items[0]!, index: 0 };
  throw new OcikitError('E_USAGE', `${where}: the archive holds ${items.length} images; name one as PATH:NAME:TAG or PATH:@N${tagList(items)}`);
}

/** What list-tags prints for an archive, as skopeo: every RepoTag, and "@N" for an untagged image. */
export function archiveTags(items: ArchiveManifestItem[]): string[] {
  const out: string[] = [];
  items.forEach((it, i) => {
    const tags = it.RepoTags ?? [];
    if (tags.length === 0) out.push(`@${i}`);
    else for (const t of tags) if (!out.includes(t)) out.push(t);
  });
  return out;
}

function tagList(items: ArchiveManifestItem[]): string {
  const tags = archiveTags(items);
  return tags.length ? ` (images: ${tags.join(', ')})` : '';
}
