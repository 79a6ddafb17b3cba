/**
 * What a sync copies: the images of its source, each with the name its destination is built from.
 *
 * - docker: `HOST/REPO:TAG` (or `@DIGEST`) is that image; `HOST/REPO` is every tag (list-tags,
 *   following the registry's pages);
 * - dir: every directory below the source that holds a manifest.json (not looking inside images);
 * - yaml: the registries, repositories and tag selections of a skopeo-sync YAML file (config.ts).
 */
import { promises as fsp } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { OcikitError, wrapError } from '../errors.js';
import { parseDockerReference, type DockerReference } from '../reference/index.js';
import { parseImageName } from '../transports/index.js';
import type { ImageReference, RegistryContext, SystemContext, TransportOptions } from '../transports/types.js';
import { readSyncConfig, tagMatchesRange, type RegistryConfig, type RepoSelection } from './config.js';

/** The kinds of sync source (--src). */
export type SyncSourceKind = 'docker' | 'dir' | 'yaml';

/** One image to sync. */
export interface SourceImage {
  ref: ImageReference;
  /**
   * What the destination name is made from, as skopeo makes it: the docker reference
   * ("host/repo:tag") of a registry image, the path below the source directory of a dir: image.
   */
  name: string;
  /** The context to read it with (a YAML registry's credentials and TLS settings). */
  ctx: TransportOptions;
  /** True for registry images: a tag the registry no longer has went away, rather than broke. */
  remote: boolean;
}

/** A repository or tree that could not be listed (recorded under --keep-going, else thrown). */
export interface ListFailure {
  source: string;
  error: unknown;
}

/** The images of a source and how many sources (repositories, trees) they came from. */
export interface SourceListing {
  images: SourceImage[];
  sources: number;
  failures: ListFailure[];
}

const TAG_RE = /^[\w][\w.-]{0,127}$/;

/** List the images of a sync source. `keepGoing`: a repository that cannot be listed is recorded, not thrown. */
export async function listSource(kind: SyncSourceKind, source: string, ctx: SystemContext, keepGoing = false): Promise<SourceListing> {
  switch (kind) {
    case 'docker':
      return { images: await dockerImages(source, ctx), sources: 1, failures: [] };
    case 'dir':
      return { images: await dirImages(source), sources: 1, failures: [] };
    case 'yaml':
      return yamlImages(await readSyncConfig(source), ctx, keepGoing);
  }
}

function dockerImage(ref: DockerReference, ctx: SystemContext): SourceImage {
  return { ref: parseImageName(`docker://${ref.toString()}`), name: ref.toString(), ctx, remote: true };
}

/** Every tag of `repo` (a name-only reference), as images. Tags that are not valid tags are left out. */
async function repoTags(repo: DockerReference, ctx: SystemContext): Promise<SourceImage[]> {
  const lister = parseImageName(`docker://${repo.name}:latest`);
  let tags: string[];
  try {
    tags = await lister.listTags!(ctx);
  } catch (err) {
    throw wrapError(err, `listing the tags of ${repo.name}`, 'E_NETWORK');
  }
  return [...new Set(tags)]
    .filter((t) => TAG_RE.test(t))
    .sort()
    .map((t) => dockerImage(parseDockerReference(`${repo.name}:${t}`), ctx));
}

async function dockerImages(source: string, ctx: SystemContext): Promise<SourceImage[]> {
  const s = source.replace(/^docker:\/\//, '');
  let ref: DockerReference;
  try {
    ref = parseDockerReference(s);
  } catch (err) {
    throw new OcikitError('E_USAGE', `sync --src docker: ${(err as Error).message}`, { cause: err });
  }
  if (ref.domain === '') throw new OcikitError('E_USAGE', `sync --src docker: ${JSON.stringify(source)} has no registry host`, { hint: 'write HOST/REPOSITORY[:TAG]' });
  if (ref.tag !== undefined || ref.digest !== undefined) return [dockerImage(ref, ctx)];
  const images = await repoTags(ref, ctx);
  if (images.length === 0) throw new OcikitError('E_NOT_FOUND', `sync: no images to sync found in ${ref.name} (the repository has no tags)`);
  return images;
}

/** Directories holding a manifest.json below `root` (not below an image), sorted. */
async function dirImages(root: string): Promise<SourceImage[]> {
  const st = await fsp.stat(root).catch((err) => {
    throw wrapError(err, `sync --src dir: reading ${root}`);
  });
  if (!st.isDirectory()) throw new OcikitError('E_BAD_INPUT', `sync --src dir: ${root} is not a directory`);
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await fsp.readdir(dir, { withFileTypes: true }).catch((err) => {
      throw wrapError(err, `sync --src dir: reading ${dir}`);
    });
    if (entries.some((e) => e.isFile() && e.name === 'manifest.json')) {
      found.push(dir);
      return;
    }
    // Symbolic links are not followed: a tree must not lead the walk outside itself or in circles.
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) if (e.isDirectory()) await walk(join(dir, e.name));
  };
  await walk(root);
  if (found.length === 0) throw new OcikitError('E_NOT_FOUND', `sync: no images to sync found in ${root} (no directory holds a manifest.json)`);
  return found.map((dir) => {
    const rel = relative(root, dir).split(sep).join('/');
    // The source itself is an image: it is named by its own directory, as skopeo does.
    return { ref: parseImageName(`dir:${dir}`), name: rel === '' ? basename(dir) : rel, ctx: {}, remote: false };
  });
}

/** The source context with a YAML registry's own settings on top. */
function registryContext(ctx: SystemContext, r: RegistryConfig): SystemContext {
  const registry: RegistryContext = { ...ctx.registry };
  if (r.tlsVerify !== undefined) registry.tlsVerify = r.tlsVerify;
  if (r.certDir !== undefined) registry.certDir = r.certDir;
  if (r.credentials) {
    registry.credentials = r.credentials;
    delete registry.noCreds;
    delete registry.registryToken;
  }
  return { ...ctx, registry };
}

async function selectionImages(r: RegistryConfig, sel: RepoSelection, ctx: SystemContext): Promise<SourceImage[]> {
  const repo = parseDockerReference(`${r.registry}/${sel.repository}`);
  if (sel.kind === 'refs' && sel.refs.length > 0) {
    return sel.refs.map((x) => dockerImage(parseDockerReference('tag' in x ? `${repo.name}:${x.tag}` : `${repo.name}@${x.digest}`), ctx));
  }
  const all = await repoTags(repo, ctx);
  if (sel.kind === 'refs') return all;
  const tagOf = (img: SourceImage): string => img.name.slice(img.name.lastIndexOf(':') + 1);
  if (sel.kind === 'regex') return all.filter((img) => sel.pattern.test(tagOf(img)));
  return all.filter((img) => tagMatchesRange(tagOf(img), sel.range));
}

async function yamlImages(config: RegistryConfig[], ctx: SystemContext, keepGoing: boolean): Promise<SourceListing> {
  const images: SourceImage[] = [];
  const failures: ListFailure[] = [];
  let sources = 0;
  for (const r of config) {
    const rctx = registryContext(ctx, r);
    for (const sel of r.selections) {
      sources++;
      try {
        images.push(...(await selectionImages(r, sel, rctx)));
      } catch (err) {
        if (!keepGoing) throw err;
        failures.push({ source: `docker://${r.registry}/${sel.repository}`, error: err });
      }
    }
  }
  // One image named twice (a tag listed and matched by a regex) is copied once.
  const seen = new Set<string>();
  return { images: images.filter((i) => !seen.has(i.ref.toString()) && !!seen.add(i.ref.toString())), sources, failures };
}
