/** ocikit copy SRC DEST */
import { OcikitError } from '../lib/errors.js';
import { DEFAULT_BLOB_JOBS, copyImage, writeDigestFile, type CopyOptions, type MultiArch } from '../lib/copy/index.js';
import { parsePlatform } from '../lib/manifest/index.js';
import { parseImageName } from '../lib/transports/index.js';
import type { WriteOptions } from '../lib/transports/types.js';
import { boolFlag, intFlag, many, positionals, type Command, type ParsedArgs } from './command.js';
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
      --encryption-key SCHEME:KEY
                                 encrypt layers in ocicrypt's format (skopeo decrypts them) for
                                 this recipient: jwe:PUBLIC-KEY-FILE (PEM, DER or JWK; RSA or EC),
                                 pkcs7:CERTIFICATE-FILE (RSA) or pgp:GPG-RECIPIENT (your keyring);
                                 the destination gets an OCI manifest (repeatable: every recipient
                                 can decrypt; skopeo's pkcs11: and provider: schemes are not supported)
      --encrypt-layer N          encrypt only layer N: 0 is the first, -1 the last (repeatable, or
                                 comma-separated; default: every layer)
      --decryption-key FILE[:PASSWORD]
                                 decrypt the layers this key opens: a private key (PEM, DER, JWK) for
                                 jwe and pkcs7, an exported OpenPGP secret key for pgp; PASSWORD is
                                 pass=TEXT, file=PATH, fd=N or the text itself (repeatable; a key
                                 that opens no layer is an error; pkcs11 and provider keys are not
                                 supported)
      --additional-tag NAME:TAG[,NAME:TAG…]
                                 also tag the image NAME:TAG in a docker-archive: destination (repeatable)
      --no-sync                  do not fsync what is written (faster; a power loss soon after can
                                 leave the destination and the store with empty or partial files)
      --image-parallel-copies N  blobs copied at once (skopeo's name; default: --jobs, else ${DEFAULT_BLOB_JOBS})
  -q, --quiet                    no progress output
      --json                     print {manifestDigest, sourceDigest, bytesRead, bytesWritten, blobsReused,
                                 seconds, referrers (with --referrers)} on stdout

${COPY_REGISTRY_HELP}`,
  flags: {
    string: [
      'format',
      'multi-arch',
      'platform',
      'digestfile',
      'additional-tag',
      'sign-identity',
      ...SHARED_COPY_FLAGS.string,
      'image-parallel-copies',
      'artifact-type',
      'encryption-key',
      'encrypt-layer',
      'decryption-key',
      ...COPY_REGISTRY_FLAGS.string,
    ],
    boolean: ['all', 'preserve-digests', 'remove-signatures', 'no-sync', 'referrers', ...SHARED_COPY_FLAGS.boolean, ...COPY_REGISTRY_FLAGS.boolean],
    alias: { f: 'format', a: 'all' },
    repeatable: ['platform', 'additional-tag', 'artifact-type', 'encryption-key', 'encrypt-layer', 'decryption-key'],
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

    // Encryption and decryption keys, read and checked before anything is opened (as skopeo's flags).
    const crypt = await cryptOptions(args);
    let compressFormat = compression.compressFormat;
    if (crypt.encryption && compressFormat === 'zstd:chunked') {
      // skopeo 1.22 does the same: a TOC would be in clear beside encrypted data, and useless to a reader.
      io.stderr.write('ocikit: zstd:chunked is not useful for encrypted layers: using zstd\n');
      compressFormat = 'zstd';
    }

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
      if (compressFormat) opts.compressFormat = compressFormat;
      if (crypt.encryption) opts.encryption = crypt.encryption;
      if (crypt.decryption) opts.decryption = crypt.decryption;
      if (compression.compressLevel !== undefined) opts.compressLevel = compression.compressLevel;
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

/**
 * --encryption-key / --encrypt-layer / --decryption-key, with skopeo's rules: encryption and
 * decryption exclude each other, --encrypt-layer needs --encryption-key. lib/ocicrypt (and the
 * packages it uses) is loaded only when one of them is given.
 */
async function cryptOptions(args: ParsedArgs): Promise<Pick<CopyOptions, 'encryption' | 'decryption'>> {
  const enc = many(args, 'encryption-key');
  const dec = many(args, 'decryption-key');
  const layers = many(args, 'encrypt-layer').flatMap((v) => v.split(','));
  if (enc.length > 0 && dec.length > 0) throw new OcikitError('E_USAGE', '--encryption-key and --decryption-key cannot be specified together');
  if (layers.length > 0 && enc.length === 0) throw new OcikitError('E_USAGE', '--encrypt-layer can only be used with --encryption-key');
  const indices = layers.map((l) => {
    if (!/^-?[0-9]+$/.test(l.trim())) throw new OcikitError('E_USAGE', `--encrypt-layer: expected a layer index, got ${JSON.stringify(l)}`);
    return Number(l.trim());
  });
  if (enc.length === 0 && dec.length === 0) return {};
  const { layerEncryption, layerDecryption } = await import('../lib/ocicrypt/index.js');
  if (enc.length > 0) return { encryption: await layerEncryption(enc, indices.length > 0 ? indices : undefined) };
  return { decryption: await layerDecryption(dec) };
}
