/** ocikit standalone-sign MANIFEST DOCKER-REFERENCE FINGERPRINT -o SIGNATURE (as skopeo's). */
import { debugWriter } from './context.js';
import { promises as fsp } from 'node:fs';
import { OcikitError, wrapError } from '../lib/errors.js';
import { MAX_MANIFEST_SIZE } from '../lib/manifest/index.js';
import { atomicWriteFile } from '../lib/fs/durable.js';
import { positionals, type Command } from './command.js';
import { parseSignIdentity, readLocalFile, readPassphraseFile } from './signing.js';

const USAGE = 'ocikit standalone-sign [options] MANIFEST DOCKER-REFERENCE KEY-FINGERPRINT --output|-o SIGNATURE';

/** Read a manifest file for signing or verifying, refusing absurd sizes. */
export async function readManifestFile(path: string): Promise<Buffer> {
  const st = await fsp.stat(path).catch(async () => {
    await readLocalFile(path, 'manifest');
    throw new OcikitError('E_IO', `reading manifest ${path}: cannot stat it`);
  });
  if (!st.isFile()) throw new OcikitError('E_BAD_INPUT', `reading manifest ${path}: not a regular file`);
  if (st.size > MAX_MANIFEST_SIZE) throw new OcikitError('E_MANIFEST_TOO_BIG', `reading manifest ${path}: ${st.size} bytes, over the ${MAX_MANIFEST_SIZE}-byte limit`);
  return readLocalFile(path, 'manifest');
}

export const standaloneSignCommand: Command = {
  name: 'standalone-sign',
  usage: USAGE,
  help: `Options:
  -o, --output SIGNATURE         write the signature to SIGNATURE (required)
      --passphrase-file PATH     the key's passphrase (first line of PATH); without it gpg-agent asks`,
  flags: { string: ['output', 'passphrase-file'], alias: { o: 'output' } },
  async run(args, g, io) {
    const [manifestPath, dockerRef, fingerprint] = positionals(args, 3, USAGE);
    const output = typeof args.output === 'string' && args.output !== '' ? args.output : undefined;
    if (!output) throw new OcikitError('E_USAGE', 'standalone-sign: --output SIGNATURE is required', { hint: `usage: ${USAGE}` });
    const identity = parseSignIdentity(dockerRef!, 'DOCKER-REFERENCE');
    const manifest = await readManifestFile(manifestPath!);
    const pf = typeof args['passphrase-file'] === 'string' && args['passphrase-file'] !== '' ? args['passphrase-file'] : undefined;
    const passphrase = pf ? await readPassphraseFile(pf, '--passphrase-file') : undefined;
    const { signManifestGpg } = await import('../lib/signature/index.js');
    const sig = await signManifestGpg(manifest, identity, fingerprint!, { ...(passphrase === undefined ? {} : { passphrase }), ...(g.debug ? { debug: debugWriter(io.stderr) } : {}) });
    await atomicWriteFile(output, sig).catch((err) => {
      throw wrapError(err, `writing signature ${output}`);
    });
    return 0;
  },
};
