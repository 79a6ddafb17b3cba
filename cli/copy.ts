/** ocikit copy SRC DEST */
import { OcikitError } from '../lib/errors.js';
import { copyImage, writeDigestFile, type CopyOptions, type MultiArch } from '../lib/copy/index.js';
import { parsePlatform } from '../lib/manifest/index.js';
import { parseImageName } from '../lib/transports/index.js';
import { boolFlag, intFlag, many, positionals, type Command } from './command.js';
import { COPY_REGISTRY_FLAGS, COPY_REGISTRY_HELP, openStore, systemContext } from './context.js';
import { ProgressPrinter } from './progress.js';
import { WorkerPool } from '../lib/pool/index.js';

const USAGE = 'ocikit copy [options] SOURCE-IMAGE DESTINATION-IMAGE';

export const copyCommand: Command = {
  name: 'copy',
  summary: 'Copy an image from one location to another, through the blob store',
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
      --dest-compress            compress layers at a dir: destination
      --dest-decompress          decompress layers at a dir: destination
      --dest-compress-format gzip|zstd
                                 compression for layers the destination wants compressed
      --dest-compress-level N    compression level
      --additional-tag NAME:TAG  also tag the image NAME:TAG in a docker-archive: destination (repeatable)
  -q, --quiet                    no progress output
      --json                     print {manifestDigest, bytesRead, bytesWritten, blobsReused, seconds} on stdout

${COPY_REGISTRY_HELP}`,
  flags: {
    string: ['format', 'multi-arch', 'platform', 'digestfile', 'dest-compress-format', 'dest-compress-level', 'additional-tag', ...COPY_REGISTRY_FLAGS.string],
    boolean: ['all', 'preserve-digests', 'remove-signatures', 'dest-compress', 'dest-decompress', ...COPY_REGISTRY_FLAGS.boolean],
    alias: { f: 'format', a: 'all' },
    repeatable: ['platform', 'additional-tag'],
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
    const cf = args['dest-compress-format'] ? String(args['dest-compress-format']) : undefined;
    if (cf !== undefined && cf !== 'gzip' && cf !== 'zstd') throw new OcikitError('E_USAGE', `--dest-compress-format: expected gzip or zstd, got ${JSON.stringify(cf)}`);
    const level = intFlag(args, 'dest-compress-level', cf === 'zstd' ? -7 : 0, cf === 'zstd' ? 22 : 9);

    const destCtx = systemContext(args, g, 'dest');
    destCtx.dirForceCompress = boolFlag(args, 'dest-compress', false);
    destCtx.dirForceDecompress = boolFlag(args, 'dest-decompress', false);
    const additionalTags = many(args, 'additional-tag');
    if (additionalTags.length > 0) destCtx.additionalTags = additionalTags;

    const store = openStore(g);
    const progress = new ProgressPrinter(io.stderr, { quiet: g.quiet });
    // One pool for the whole copy: --jobs threads (default: the core count), started on first use.
    const pool = new WorkerPool(g.jobs ? { threads: g.jobs } : {});
    try {
      const sourceCtx = systemContext(args, g, 'src');
      sourceCtx.onStatus = destCtx.onStatus = (line) => progress.message(line);
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
      if (cf) opts.compressFormat = cf;
      if (level !== undefined) opts.compressLevel = level;
      if (g.jobs) opts.jobs = g.jobs;
      const res = await copyImage(src, dest, opts);
      progress.done(res);
      if (args.digestfile) await writeDigestFile(String(args.digestfile), res.manifestDigest);
      if (g.json) io.stdout.write(JSON.stringify(res) + '\n');
      return 0;
    } finally {
      progress.stop();
      await pool.close();
      store.close();
    }
  },
};
