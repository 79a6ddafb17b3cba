/** ocikit copy SRC DEST */
import { OcikitError } from '../lib/errors.js';
import { copyImage, writeDigestFile, type CopyOptions, type MultiArch } from '../lib/copy/index.js';
import { parsePlatform } from '../lib/manifest/index.js';
import { parseImageName } from '../lib/transports/index.js';
import type { WriteOptions } from '../lib/transports/types.js';
import { boolFlag, intFlag, many, positionals, type Command } from './command.js';
import { COPY_REGISTRY_FLAGS, COPY_REGISTRY_HELP, commandStore, debugWriter, transportOptions } from './context.js';
import { ProgressPrinter } from './progress.js';
import { WorkerPool } from '../lib/pool/index.js';
import { copyPolicy, copySigner } from './signing.js';
import { SHARED_COPY_FLAGS, SHARED_COPY_HELP, compressionFlags } from './copy-flags.js';

const USAGE = 'ocikit copy [options] SOURCE-IMAGE DESTINATION-IMAGE';

export const copyCommand: Command = {
  name: 'copy',
  usage: USAGE,
  help: `Options:
  -f, --format oci|v2s2          manifest format at the destination (default: keep the source's where the destination takes it)
  -a, --all                      copy every image of a multi-image index (same as --multi-arch all)
      --multi-arch system|all|index-only
                                 what to copy from an index (default system: the image for this platform)
      --platform OS/ARCH[/VAR]   copy only these images of an index, as an index (repeatable)
      --preserve-digests         fail rather than change the manifest digest
      --digestfile PATH          write the digest of the copied manifest to PATH
      --remove-signatures        do not copy signatures
      --referrers                also copy the image's OCI 1.1 referrers (signatures, attestations, SBOMs,
                                 and their own referrers) as they are, after the image (not in skopeo)
      --artifact-type TYPE       with --referrers: only referrers of this artifact type (repeatable)
${SHARED_COPY_HELP}
      --sign-identity REFERENCE  the identity to sign (default: the destination's docker reference)
      --additional-tag NAME:TAG[,NAME:TAG…]
                                 also tag the image NAME:TAG in a docker-archive: destination (repeatable)
      --no-sync                  do not fsync what is written (faster; a power loss soon after can
                                 leave the destination and the store with empty or partial files)
      --image-parallel-copies N  blobs copied at once (skopeo's name; default: --jobs, else 4)
  -q, --quiet                    no progress output
      --json                     print {manifestDigest, sourceDigest, bytesRead, bytesWritten, blobsReused,
                                 seconds, referrers (with --referrers)} on stdout

${COPY_REGISTRY_HELP}`,
  flags: {
    string: ['format', 'multi-arch', 'platform', 'digestfile', 'additional-tag', 'sign-identity', ...SHARED_COPY_FLAGS.string, 'image-parallel-copies', 'artifact-type', ...COPY_REGISTRY_FLAGS.string],
    boolean: ['all', 'preserve-digests', 'remove-signatures', 'no-sync', 'referrers', ...SHARED_COPY_FLAGS.boolean, ...COPY_REGISTRY_FLAGS.boolean],
    alias: { f: 'format', a: 'all' },
    repeatable: ['platform', 'additional-tag', 'artifact-type'],
  },
  async run(args, g, io) {
    const [srcName, destName] = positionals(args, 2, USAGE);
    const src = parseImageName(srcName!);
    const dest = parseImageName(destName!);

    const format = args.format ? String(args.format) : undefined;
    if (format !== undefined && format !== 'oci' && format !== 'v2s2') {
      throw new OcikitError('E_USAGE', `--format: expected oci or v2s2, got ${JSON.stringify(format)}`);
    }
    let multiArch: MultiArch = 'system';
    if (args['multi-arch']) {
      const m = String(args['multi-arch']);
      if (m !== 'system' && m !== 'all' && m !== 'index-only') throw new OcikitError('E_USAGE', `--multi-arch: expected system, all or index-only, got ${JSON.stringify(m)}`);
      multiArch = m;
    }
    if (args.all) {
      if (args['multi-arch'] && multiArch !== 'all') throw new OcikitError('E_USAGE', '--all and --multi-arch conflict');
      multiArch = 'all';
    }

    const parallel = intFlag(args, 'image-parallel-copies', 1, 256);
    const sourceCtx = await transportOptions(args, g, 'src', io);
    const destCtx = await transportOptions(args, g, 'dest', io);
    const compression = compressionFlags(args, destCtx, sourceCtx);
    const write: WriteOptions = { ...destCtx.write };
    const artifactTypes = many(args, 'artifact-type');
    if (artifactTypes.length > 0 && !args.referrers) throw new OcikitError('E_USAGE', '--artifact-type chooses which referrers to copy: it needs --referrers');
    // A comma-separated list, as skopeo's (pflag's string slice): --additional-tag a:1,b:2.
    const additionalTags = many(args, 'additional-tag')
      .flatMap((v) => v.split(','))
      .filter((t) => t !== '');
    if (additionalTags.length > 0) write.additionalTags = additionalTags;

    // Signing keys and the trust policy are read before anything else is opened: a missing policy,
    // a bad policy file or a wrong passphrase fails the copy before any byte moves.
    const sign = await copySigner(args, dest, io, g.debug ? debugWriter(io.stderr) : undefined);
    const policy = await copyPolicy(g, io);

    const noSync = boolFlag(args, 'no-sync', false);
    if (noSync) write.noSync = true;
    destCtx.write = write;
    const store = commandStore(g, { durable: !noSync });
    const progress = new ProgressPrinter(io.stderr, { quiet: g.quiet, debug: g.debug });
    // The one pool of this command: --jobs threads at most (default: the core count), started
    // only when a blob job needs one.
    const pool = new WorkerPool(g.jobs ? { threads: g.jobs } : {});
    try {
      const onStatus = (line: string): void => progress.message(line);
      const debug = g.debug ? (line: string): void => progress.debug(line) : undefined;
      sourceCtx.events = { ...sourceCtx.events, onStatus, ...(debug ? { debug } : {}) };
      destCtx.events = { ...destCtx.events, onStatus, ...(debug ? { debug } : {}) };
      const opts: CopyOptions = {
        store,
        sourceCtx,
        destCtx,
        multiArch,
        platforms: many(args, 'platform').map((p) => parsePlatform(p)),
        preserveDigests: !!args['preserve-digests'],
        removeSignatures: !!args['remove-signatures'],
        onProgress: (ev) => progress.event(ev),
        pool,
      };
      if (format) opts.format = format;
      Object.assign(opts, compression);
      if (g.jobs) opts.jobs = g.jobs;
      if (parallel !== undefined) opts.jobs = parallel;
      if (policy) opts.policy = policy;
      if (sign) opts.sign = sign;
      if (args.referrers) opts.referrers = artifactTypes.length > 0 ? { artifactTypes } : true;
      const res = await copyImage(src, dest, opts);
      progress.done(res);
      if (args.digestfile) await writeDigestFile(String(args.digestfile), res.manifestDigest);
      if (g.json) io.stdout.write(JSON.stringify(res) + '\n');
      return 0;
    } finally {
      await policy?.close();
      progress.stop();
      await pool.close();
      store.close();
    }
  },
};
