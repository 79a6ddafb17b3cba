/** ocikit sync --src docker|dir|yaml --dest docker|dir|oci SOURCE DESTINATION (as skopeo sync, and further). */
import { promises as fsp } from 'node:fs';
import { OcikitError, wrapError } from '../lib/errors.js';
import { DEFAULT_BLOB_JOBS } from '../lib/copy/limit.js';
import { WorkerPool } from '../lib/pool/index.js';
import { listSource, runSync, type ImageResult, type SyncDestKind, type SyncReport, type SyncSourceKind } from '../lib/sync/index.js';
import { boolFlag, intFlag, many, positionals, type Command } from './command.js';
import { COPY_REGISTRY_FLAGS, COPY_REGISTRY_HELP, commandStore, debugWriter, transportOptions } from './context.js';
import { copyPolicy, loadSigner } from './signing.js';
import { SHARED_COPY_FLAGS, SHARED_COPY_HELP, compressionFlags } from './copy-flags.js';

const USAGE = 'ocikit sync [options] --src docker|dir|yaml --dest docker|dir|oci SOURCE DESTINATION';

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

/** The per-image progress line. */
function imageLine(r: ImageResult, done: number, total: number): string {
  const n = `[${done}/${total}]`;
  switch (r.status) {
    case 'copied':
      return `${n} copied ${r.source} -> ${r.destination} (${r.digest}, ${mb(r.bytesRead ?? 0)} read, ${(r.seconds ?? 0).toFixed(1)} s)`;
    case 'skipped':
      return `${n} skipped ${r.source}: ${r.destination} already has ${r.digest}`;
    case 'would-skip':
      return `${n} would skip ${r.source}: ${r.destination} already has ${r.digest}`;
    case 'would-copy':
      return `${n} would copy ${r.source} -> ${r.destination}`;
    case 'gone':
      return `${n} gone ${r.source}: the registry listed this tag but no longer has it`;
    case 'failed':
      return `${n} failed ${r.source}${r.destination ? ` -> ${r.destination}` : ''}: ${r.error?.message ?? 'unknown error'}`;
  }
}

function summary(r: SyncReport, dryRun: boolean): string {
  const n = r.images.length;
  const head = `${dryRun ? 'Would have synced' : 'Synced'} ${n} image${n === 1 ? '' : 's'} from ${r.sources} source${r.sources === 1 ? '' : 's'}`;
  const parts = dryRun ? [`${n - r.skipped - r.failed - r.gone} to copy`, `${r.skipped} already there`] : [`${r.copied} copied`, `${r.skipped} skipped`, `${r.failed} failed`];
  if (r.gone) parts.push(`${r.gone} gone`);
  const bytes = dryRun ? '' : `; ${mb(r.bytesRead)} read, ${mb(r.bytesWritten)} written`;
  return `${head}: ${parts.join(', ')}${bytes} in ${r.seconds.toFixed(1)} s`;
}

export const syncCommand: Command = {
  name: 'sync',
  usage: USAGE,
  help: `SOURCE is, by --src:
  docker   HOST/REPO[:TAG|@DIGEST]: that image, or without a tag every tag of the repository
  dir      a directory: every image below it (each directory holding a manifest.json)
  yaml     a YAML file in skopeo sync's format (registries: images, images-by-tag-regex,
           images-by-semver, credentials, tls-verify, cert-dir)
DESTINATION is, by --dest:
  docker   HOST[/NAMESPACE]: images go to HOST/NAMESPACE/REPO:TAG
  dir      a directory: images go to DIR/REPO:TAG
  oci      one OCI layout: images are refs REPO:TAG in it
Images whose destination already has the same manifest are skipped after one look (a HEAD), so a
sync that was interrupted continues where it stopped when run again.

Options:
  -s, --src docker|dir|yaml      the kind of SOURCE
  -d, --dest docker|dir|oci      the kind of DESTINATION
      --scoped                   keep the whole source name (HOST/PATH/REPO:TAG) below DESTINATION
      --append-suffix SUFFIX     append SUFFIX to every destination tag
  -a, --all                      copy every image of a multi-image index
  -f, --format oci|v2s2          manifest format at the destination
      --preserve-digests         fail an image rather than change its manifest digest
      --remove-signatures        do not copy signatures
${SHARED_COPY_HELP}
                                 (each image is signed as its destination, HOST/NAMESPACE/REPO:TAG;
                                 images already there are copied again so that they get the signature)
      --referrers                also copy each image's OCI 1.1 referrers (signatures, SBOMs, attestations),
                                 as copy --referrers; images already there are copied again for new ones,
                                 and the source's sha256-<hex> fallback tags are not synced as images
      --artifact-type TYPE       with --referrers: only referrers of this artifact type (repeatable)
      --dry-run                  only say what would be copied or skipped (reads, never writes)
      --keep-going               go on after an image fails (exit 1 at the end)
      --digestfile PATH          write "DIGEST DESTINATION" for every image synced
      --jobs N                   images copied at once (default 4); requests per registry stay bounded
      --image-parallel-copies N  blobs copied at once per image (default ${DEFAULT_BLOB_JOBS})
      --json                     print a report of every image and the totals on stdout
  -q, --quiet                    no per-image lines or summary

${COPY_REGISTRY_HELP}`,
  flags: {
    string: ['src', 'dest', 'format', 'append-suffix', 'digestfile', 'image-parallel-copies', 'artifact-type', ...SHARED_COPY_FLAGS.string, ...COPY_REGISTRY_FLAGS.string],
    boolean: ['scoped', 'all', 'dry-run', 'keep-going', 'preserve-digests', 'remove-signatures', 'referrers', ...SHARED_COPY_FLAGS.boolean, ...COPY_REGISTRY_FLAGS.boolean],
    alias: { s: 'src', d: 'dest', f: 'format', a: 'all' },
    repeatable: ['artifact-type'],
  },
  async run(args, g, io) {
    const [source, destination] = positionals(args, 2, USAGE);
    const srcKind = args.src === undefined ? undefined : String(args.src);
    const destKind = args.dest === undefined ? undefined : String(args.dest);
    if (!srcKind) throw new OcikitError('E_USAGE', 'sync: a source transport must be given with --src docker|dir|yaml');
    if (!['docker', 'dir', 'yaml'].includes(srcKind)) throw new OcikitError('E_USAGE', `sync: ${JSON.stringify(srcKind)} is not a valid source transport (docker, dir or yaml)`);
    if (!destKind) throw new OcikitError('E_USAGE', 'sync: a destination transport must be given with --dest docker|dir|oci');
    if (!['docker', 'dir', 'oci'].includes(destKind)) throw new OcikitError('E_USAGE', `sync: ${JSON.stringify(destKind)} is not a valid destination transport (docker, dir or oci)`);
    if (srcKind === 'dir' && destKind === 'dir') throw new OcikitError('E_USAGE', "sync: from 'dir' to 'dir' is not supported", { hint: 'copy the tree with cp -a or rsync' });
    if (destKind === 'oci' && destination!.includes(':'))
      throw new OcikitError('E_USAGE', `sync --dest oci: the layout path ${JSON.stringify(destination)} contains a colon, which oci: cannot express`);
    const format = args.format === undefined ? undefined : String(args.format);
    if (format !== undefined && format !== 'oci' && format !== 'v2s2') throw new OcikitError('E_USAGE', `--format: expected oci or v2s2, got ${JSON.stringify(format)}`);
    const parallel = intFlag(args, 'image-parallel-copies', 1, 256);
    const dryRun = boolFlag(args, 'dry-run', false);
    const keepGoing = boolFlag(args, 'keep-going', false);
    const referrers = boolFlag(args, 'referrers', false);
    const artifactTypes = many(args, 'artifact-type');
    if (artifactTypes.length > 0 && !referrers) throw new OcikitError('E_USAGE', '--artifact-type chooses which referrers to copy: it needs --referrers');

    const srcCtx = await transportOptions(args, g, 'src', io);
    const destCtx = await transportOptions(args, g, 'dest', io);
    const compression = compressionFlags(args, destCtx, srcCtx);
    // Keys and passphrases are read before anything is listed or copied: a wrong one fails first.
    const signerFor = await loadSigner(args, io, undefined, g.debug ? debugWriter(io.stderr) : undefined);
    if (signerFor && destKind !== 'docker') {
      throw new OcikitError('E_USAGE', `sync: signing needs --dest docker: a ${destKind} destination gives its images no docker reference to sign`, {
        hint: 'copy single images with --sign-identity',
      });
    }
    // Opened when first needed: listing a registry needs no store.
    const store = commandStore(g);
    let listing: Awaited<ReturnType<typeof listSource>>;
    let policy: Awaited<ReturnType<typeof copyPolicy>>;
    try {
      listing = await listSource(srcKind as SyncSourceKind, source!, { ...srcCtx, store }, keepGoing);
      // The trust policy, as for copy: read (and a missing one refused) before any image is copied.
      policy = await copyPolicy(g, io);
    } catch (err) {
      store.close();
      throw err;
    }
    // One pool for every image: a layer compressed for one image is not compressed again for the next.
    const pool = new WorkerPool();
    const digestLines: string[] = [];
    let report: SyncReport | undefined;
    try {
      report = await runSync(listing.images, listing.failures, listing.sources, {
        store,
        pool,
        destKind: destKind as SyncDestKind,
        destination: destination!,
        destCtx,
        scoped: boolFlag(args, 'scoped', false),
        ...(typeof args['append-suffix'] === 'string' ? { appendSuffix: args['append-suffix'] } : {}),
        copy: {
          multiArch: boolFlag(args, 'all', false) ? 'all' : 'system',
          preserveDigests: boolFlag(args, 'preserve-digests', false),
          removeSignatures: boolFlag(args, 'remove-signatures', false),
          ...(format ? { format: format } : {}),
          ...(parallel !== undefined ? { jobs: parallel } : {}),
          ...compression,
          ...(policy ? { policy } : {}),
          ...(referrers ? { referrers: artifactTypes.length > 0 ? { artifactTypes } : true } : {}),
        },
        ...(signerFor ? { signerFor } : {}),
        images: g.jobs ?? 4,
        dryRun,
        keepGoing,
        onImage: (r, done, total) => {
          if ((r.status === 'copied' || r.status === 'skipped') && r.digest) digestLines.push(`${r.digest} ${r.destination}`);
          if (!g.quiet) io.stderr.write(imageLine(r, done, total) + '\n');
        },
      });
    } finally {
      await policy?.close();
      await pool.close();
      store.close();
      if (typeof args.digestfile === 'string' && !dryRun) {
        await fsp.writeFile(args.digestfile, digestLines.map((l) => l + '\n').join('')).catch((err) => {
          throw wrapError(err, `writing --digestfile ${args.digestfile}`);
        });
      }
    }
    if (!g.quiet) io.stderr.write(summary(report, dryRun) + '\n');
    if (g.json) io.stdout.write(JSON.stringify(report) + '\n');
    if (report.failed > 0) {
      throw new OcikitError('E_PARTIAL', `sync: ${report.failed} of ${report.images.length} images failed (see above)`, { hint: 'run again to retry them: images already synced are skipped' });
    }
    return 0;
  },
};
