/**
 * The docker:// transport: `docker://[HOST[:PORT]/]NAME[:TAG|@DIGEST]`, an image in a registry
 * spoken to through lib/registry (distribution API on undici, auth from lib/auth).
 */
import { OcikitError, isOcikitError } from '../../errors.js';
import type { Digest } from '../../digest/index.js';
import { formatDockerTransportReference, namesRegistry, parseDockerTransportReference, type DockerReference, type DockerTransportReference } from '../../reference/index.js';
import type { Repository, RegistryOptions, RegistriesConf } from '../../registry/index.js';
import { guardDestination } from '../write-errors.js';
import type { ImageDestination, ImageReference, ImageSource, ImageTransport, SystemContext } from '../types.js';

// The registry client, undici and the source/destination load on first use, not at start-up:
// they cost ~200 ms of module loading that local copies (oci:, dir:, archives) never need.
const loadRegistry = (): Promise<typeof import('../../registry/index.js')> => import('../../registry/index.js');

/**
 * The registry client's options for a context: its registry section as it is (registriesConf
 * included), with the events section's signal and --debug writer.
 */
function registryOptions(ctx: SystemContext): RegistryOptions {
  const signal = ctx.events?.signal;
  const debug = ctx.events?.debug;
  return { ...ctx.registry, ...(signal ? { signal } : {}), ...(debug ? { debug } : {}) };
}

/**
 * The options for one endpoint: registries.conf's `insecure` counts where the command line did
 * not say (--tls-verify given, either way, wins, as containers/image). `mirrorElsewhere`: the
 * endpoint is on another registry than the name: credentials given on the command line were
 * meant for the name's registry and are not sent there (auth files are looked up per registry).
 */
function endpointOptions(base: RegistryOptions, insecure: boolean, mirrorElsewhere: boolean): RegistryOptions {
  const o = { ...base };
  if (o.tlsVerify === undefined && insecure) o.tlsVerify = false;
  if (mirrorElsewhere) {
    delete o.credentials;
    delete o.registryToken;
  }
  return o;
}

/** `docker://NAME[:TAG|@DIGEST]`: tagged or digested, never both; Docker Hub defaults applied. */
export class DockerImageReference implements ImageReference {
  readonly transport = dockerTransport;
  readonly withinTransport: string;
  readonly dockerReference: string;
  /** The parsed reference: tagged or digested, never both. */
  readonly ref: DockerReference;

  /** The name as typed, without tag or digest, when it named no registry ("busybox", "user/app"). */
  readonly shortName: string | undefined;

  constructor(parsed: DockerTransportReference, typed?: string) {
    this.ref = parsed.ref;
    if (typed !== undefined) {
      const name = typed
        .replace(/^\/\//, '')
        .replace(/@.*$/, '')
        .replace(/:[^/:]*$/, '');
      if (!namesRegistry(name)) this.shortName = name;
    }
    if (this.ref.domain === '') {
      throw new OcikitError('E_USAGE', `docker://${this.ref.toString()}: the name has no registry host`, { hint: 'write docker://HOST/NAME' });
    }
    this.withinTransport = formatDockerTransportReference(parsed);
    this.dockerReference = this.ref.toString();
  }

  toString(): string {
    return `docker:${this.withinTransport}`;
  }

  /**
   * A repository handle for this reference with the given token actions: the registry the name
   * says (pushes, deletes and tag lists go there, mirrors or not, as containers/image does), with
   * registries.conf's `insecure` and `blocked` applied.
   */
  async repository(ctx: SystemContext, actions: string[]): Promise<Repository> {
    const { RegistryClient, Repository } = await loadRegistry();
    const base = registryOptions(ctx);
    const { entry, conf } = await (await loadRegistry()).registryEntryFor(this.ref.name, this.toString(), base);
    this.noteShortName(conf, ctx);
    const client = new RegistryClient(this.ref.domain, endpointOptions(base, entry?.insecure ?? false, false), this.ref.path);
    return new Repository(client, this.ref.path, actions);
  }

  /**
   * A source: with registries.conf mirrors for this name, each place is tried in order (the
   * mirrors that may serve it, then the primary location) and the first that gives the manifest
   * serves the whole copy; when all fail, the primary location's error, with the mirrors' in it.
   */
  async newSource(ctx: SystemContext): Promise<ImageSource> {
    const { DockerSource } = await import('./source.js');
    const { RegistryClient, Repository, pullSources } = await loadRegistry();
    const base = registryOptions(ctx);
    const { entry, conf } = await (await loadRegistry()).registryEntryFor(this.ref.name, this.toString(), base);
    this.noteShortName(conf, ctx);
    const places = pullSources(entry, this.ref);
    const open = (p: (typeof places)[number]): InstanceType<typeof DockerSource> => {
      const client = new RegistryClient(p.ref.domain, endpointOptions(base, p.insecure, p.ref.domain !== this.ref.domain), p.ref.path);
      return new DockerSource(this, new Repository(client, p.ref.path, ['pull']), ctx.store, ctx.registry?.registriesDir, p.ref);
    };
    // One place (no mirror, no rewrite): the manifest is fetched when the copy asks, as always.
    if (places.length === 1) {
      if (places[0]!.ref.name !== this.ref.name) ctx.events?.debug?.(`registries.conf: ${this.ref.toString()} is read from ${places[0]!.ref.toString()}`);
      return open(places[0]!);
    }
    const failures: Array<{ place: string; err: unknown }> = [];
    for (const p of places) {
      const src = open(p);
      try {
        ctx.events?.debug?.(`registries.conf: trying ${p.mirror ? 'mirror' : 'primary location'} ${p.ref.toString()} (${p.where ?? 'default'})`);
        await src.getManifest();
        ctx.events?.debug?.(`registries.conf: reading ${this.ref.toString()} from ${p.ref.toString()}`);
        return src;
      } catch (err) {
        if (isOcikitError(err, 'E_ABORTED') || isOcikitError(err, 'E_BLOCKED')) throw err;
        ctx.events?.debug?.(`registries.conf: ${p.ref.toString()}: ${err instanceof Error ? err.message : String(err)}`);
        failures.push({ place: p.ref.toString(), err });
      }
    }
    const primary = failures[failures.length - 1]!.err;
    const mirrors = failures.slice(0, -1).map((f) => `[${f.place}: ${f.err instanceof Error ? f.err.message : String(f.err)}]`);
    if (isOcikitError(primary)) {
      throw new OcikitError(primary.code, `${primary.message} (mirrors also failed: ${mirrors.join(', ')})`, { cause: primary, ...(primary.hint ? { hint: primary.hint } : {}) });
    }
    throw primary;
  }

  /**
   * A name typed without a registry means docker.io, as for skopeo (whose docker:// transport
   * reads neither `unqualified-search-registries` nor `[aliases]`). Where registries.conf would
   * send that short name elsewhere for podman, one line says so, once, so the image never comes
   * from somewhere the user did not expect without a word.
   */
  private noteShortName(conf: RegistriesConf, ctx: SystemContext): void {
    if (this.shortName === undefined || this.#noted) return;
    this.#noted = true;
    const alias = conf.aliases.get(this.shortName);
    const here = this.ref.name;
    let note: string | undefined;
    if (alias && alias.value !== '' && alias.value !== here) {
      note = `docker://${this.shortName} is ${here}, as for skopeo; the alias at ${alias.where} (used by podman) names ${alias.value}: write docker://${alias.value} to use it`;
    } else if (!alias?.value && conf.unqualifiedSearchRegistries.length > 0 && !conf.unqualifiedSearchRegistries.includes('docker.io')) {
      note = `docker://${this.shortName} is ${here}, as for skopeo; podman would search ${conf.unqualifiedSearchRegistries.join(', ')} (unqualified-search-registries in ${conf.searchOrigin}): name the registry to choose`;
    }
    if (note !== undefined) ctx.events?.onStatus?.(`note: ${note}`);
  }
  #noted = false;

  async newDestination(ctx: SystemContext): Promise<ImageDestination> {
    const { DockerDestination } = await import('./destination.js');
    return guardDestination(this, async () => new DockerDestination(this, await this.repository(ctx, ['pull', 'push']), ctx));
  }

  /**
   * Delete the manifest this reference names (a tag is first resolved to its digest), as skopeo
   * delete does. WARNING: registries delete a manifest with every tag that points at it.
   */
  async delete(ctx: SystemContext): Promise<void> {
    const repo = await this.repository(ctx, ['pull', 'delete']);
    const digest = await this.resolveDigest(repo);
    try {
      await repo.deleteManifest(digest);
    } catch (err) {
      if (isOcikitError(err, 'E_UNSUPPORTED')) {
        throw new OcikitError('E_UNSUPPORTED', `deleting ${this}: the registry does not allow deleting images`, {
          cause: err,
          hint: 'a distribution registry deletes only with storage.delete.enabled: true in its configuration',
        });
      }
      throw err;
    }
  }

  /**
   * Remove the tag only (DELETE /v2/NAME/manifests/TAG, OCI distribution-spec), keeping the
   * manifest and its other tags. E_UNSUPPORTED, with nothing deleted, where the registry cannot
   * delete a tag alone (distribution 2.x answers 400 DIGEST_INVALID).
   */
  async untag(ctx: SystemContext): Promise<void> {
    if (this.ref.tag === undefined) {
      throw new OcikitError('E_USAGE', `${this}: --untag needs a reference with a tag`);
    }
    const repo = await this.repository(ctx, ['pull', 'delete']);
    // Tell "no such tag" from "cannot delete tags": registries answer both with 4xx.
    if (!(await repo.headManifest(this.ref.tag))) {
      throw new OcikitError('E_NOT_FOUND', `removing tag ${this}: the registry has no such tag`);
    }
    try {
      await repo.deleteManifest(this.ref.tag);
    } catch (err) {
      if (isOcikitError(err) && err.code !== 'E_AUTH' && err.code !== 'E_NETWORK' && err.code !== 'E_ABORTED' && err.code !== 'E_NOT_FOUND') {
        throw new OcikitError('E_UNSUPPORTED', `removing tag ${this}: the registry cannot delete a tag without deleting the image; nothing was deleted`, {
          cause: err,
          hint: `"ocikit delete ${this}" (without --untag) deletes the image and every tag that points at it`,
        });
      }
      throw err;
    }
  }

  /** One HEAD (a GET when the registry gives no digest); undefined when the registry has no such manifest. */
  async manifestDigest(ctx: SystemContext): Promise<Digest | undefined> {
    if (this.ref.digest !== undefined) {
      const repo = await this.repository(ctx, ['pull']);
      return (await repo.headManifest(this.ref.digest)) ? this.ref.digest : undefined;
    }
    const repo = await this.repository(ctx, ['pull']);
    const head = await repo.headManifest(this.ref.tag!);
    if (!head) return undefined;
    return head.digest ?? (await repo.getManifest(this.ref.tag!)).digest;
  }

  async listTags(ctx: SystemContext): Promise<string[]> {
    return (await this.repository(ctx, ['pull'])).listTags();
  }

  private async resolveDigest(repo: Repository): Promise<Digest> {
    if (this.ref.digest !== undefined) return this.ref.digest;
    const head = await repo.headManifest(this.ref.tag!);
    if (!head) throw new OcikitError('E_NOT_FOUND', `reading manifest of ${this}: the registry has no such tag`);
    // A registry that omits Docker-Content-Digest on HEAD: hash the manifest itself.
    return head.digest ?? (await repo.getManifest(this.ref.tag!)).digest;
  }
}

/** The docker transport (registered by lib/transports/index.ts). */
export const dockerTransport: ImageTransport = {
  name: 'docker',
  parseReference: (within) => new DockerImageReference(parseDockerTransportReference(within), within),
};
