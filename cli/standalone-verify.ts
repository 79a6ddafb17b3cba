/** ocikit standalone-verify MANIFEST DOCKER-REFERENCE FINGERPRINT[,...]|any SIGNATURE [--public-key-file FILE] (as skopeo's). */
import { debugWriter } from './context.js';
import { OcikitError } from '../lib/errors.js';
import { digestBytes } from '../lib/digest/index.js';
import { parseDockerReference } from '../lib/reference/index.js';
import { positionals, type Command } from './command.js';
import { readManifestFile } from './standalone-sign.js';
import { readLocalFile } from './signing.js';

const USAGE = 'ocikit standalone-verify [options] MANIFEST DOCKER-REFERENCE KEY-FINGERPRINTS SIGNATURE';

export const standaloneVerifyCommand: Command = {
  name: 'standalone-verify',
  usage: USAGE,
  help: `KEY-FINGERPRINTS is a comma-separated list of trusted key fingerprints, or "any" to trust every key
of --public-key-file.

Options:
      --public-key-file FILE     verify with the public keys in FILE, without touching your keyring
                                 (default: the keys of your GnuPG keyring)`,
  flags: { string: ['public-key-file'] },
  async run(args, g, io) {
    const [manifestPath, dockerRef, fps, sigPath] = positionals(args, 4, USAGE);
    const keyFile = typeof args['public-key-file'] === 'string' && args['public-key-file'] !== '' ? args['public-key-file'] : undefined;
    let expected = fps!.split(',').map((f) => f.trim().toUpperCase());
    const any = expected.length === 1 && expected[0] === 'ANY';
    if (any && !keyFile) throw new OcikitError('E_USAGE', 'standalone-verify: "any" fingerprint needs --public-key-file');
    if (expected.some((f) => f === '')) throw new OcikitError('E_USAGE', 'standalone-verify: an empty key fingerprint');
    let wantRef;
    try {
      wantRef = parseDockerReference(dockerRef!);
    } catch (err) {
      throw new OcikitError('E_USAGE', `standalone-verify: DOCKER-REFERENCE: ${(err as Error).message}`, { cause: err });
    }
    const manifest = await readManifestFile(manifestPath!);
    const sigBytes = await readLocalFile(sigPath!, 'signature');
    const sig = await import('../lib/signature/index.js');
    // gpg's own words only under --debug: a failure is one line.
    const debug = g.debug ? debugWriter(io.stderr) : undefined;
    const verifier = keyFile
      ? await sig.GpgVerifier.withKeys(
          [
            {
              data: await readLocalFile(keyFile, 'public keys'),
              source: keyFile,
            },
          ],
          debug,
        )
      : sig.GpgVerifier.userKeyring(undefined, debug);
    try {
      if (any) expected = verifier.fingerprints;
      const what = `verifying signature ${sigPath}`;
      const { claim, fingerprint } = await sig.verifySimpleSignature(verifier, sigBytes, expected, what).catch((err) => {
        throw new OcikitError('E_SIGNATURE', (err as Error).message.startsWith(what) ? (err as Error).message : `${what}: ${(err as Error).message}`, { cause: err });
      });
      const got = digestBytes(manifest);
      if (claim.manifestDigest !== got) throw new OcikitError('E_SIGNATURE', `${what}: it signs manifest ${claim.manifestDigest}, but ${manifestPath} has digest ${got}`);
      let signedRef;
      try {
        signedRef = parseDockerReference(claim.dockerReference);
      } catch {
        throw new OcikitError('E_SIGNATURE', `${what}: it claims an invalid docker reference ${JSON.stringify(claim.dockerReference.slice(0, 200))}`);
      }
      if (signedRef.toString() !== wantRef.toString()) throw new OcikitError('E_SIGNATURE', `${what}: it signs identity ${JSON.stringify(claim.dockerReference)}, not ${JSON.stringify(dockerRef)}`);
      if (g.json) io.stdout.write(JSON.stringify({ fingerprint, manifestDigest: claim.manifestDigest, dockerReference: claim.dockerReference }) + '\n');
      else io.stdout.write(`Signature verified using fingerprint ${fingerprint}, digest ${claim.manifestDigest}\n`);
      return 0;
    } finally {
      await verifier.close();
    }
  },
};
