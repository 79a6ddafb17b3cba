/** ocikit manifest-digest FILE: the digest of a manifest file, as skopeo manifest-digest. */
import { promises as fsp } from 'node:fs';
import { wrapError } from '../lib/errors.js';
import { manifestDigest, parseManifest, MAX_MANIFEST_SIZE } from '../lib/manifest/index.js';
import { readFileLimited } from '../lib/transports/fs-util.js';
import { positionals, type Command } from './command.js';

const USAGE = 'ocikit manifest-digest MANIFEST-FILE';

export const manifestDigestCommand: Command = {
  name: 'manifest-digest',
  summary: 'Compute the digest of a manifest file',
  usage: USAGE,
  help: 'Prints the manifest digest (sha256 of the exact bytes) of MANIFEST-FILE.',
  flags: {},
  async run(args, _g, io) {
    const [file] = positionals(args, 1, USAGE);
    await fsp.access(file!).catch((err) => {
      throw wrapError(err, `reading ${file}`);
    });
    const bytes = await readFileLimited(file!, MAX_MANIFEST_SIZE, `reading ${file}`);
    // Validate it is a manifest at all: a digest of garbage is a mistake worth reporting.
    parseManifest(bytes, undefined, `reading ${file}`);
    io.stdout.write(manifestDigest(bytes) + '\n');
    return 0;
  },
};
