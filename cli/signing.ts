/**
 * CLI plumbing for signatures: the global --policy / --insecure-policy / --registries.d flags,
 * passphrases (first line of a file, or a prompt on a terminal), the trust policy of a copy and the
 * signer of --sign-by / --sign-by-sigstore-private-key.
 */
import { promises as fsp } from 'node:fs';
import type { ParsedArgs } from './flags.js';
import { OcikitError, wrapError } from '../lib/errors.js';
import { parseDockerReference, isNameOnly } from '../lib/reference/index.js';
import type { ManifestSigner } from '../lib/copy/index.js';
import type { ImageReference } from '../lib/transports/types.js';
import type { GlobalOptions, Io } from './command.js';
import { debugWriter } from './context.js';

/**
 * Read a file named on the command line (key, passphrase, manifest, signature). A missing file is
 * exit 1 (E_IO), not 2: exit code 2 means "image not found", as with skopeo.
 */
export async function readLocalFile(path: string, what: string): Promise<Buffer> {
  return fsp.readFile(path).catch((err) => {
    const e = wrapError(err, `reading ${what} ${path}`);
    throw e.code === 'E_NOT_FOUND' ? new OcikitError('E_IO', e.message, { cause: err }) : e;
  });
}

/** The first line of a passphrase file, without its newline (as skopeo reads --passphrase-file). */
export async function readPassphraseFile(path: string, flag: string): Promise<string> {
  const data = (await readLocalFile(path, flag)).toString('utf8');
  const nl = data.indexOf('\n');
  return nl < 0 ? data : data.slice(0, nl);
}

/** Read a passphrase from the terminal without echo; E_USAGE when standard input is not a terminal. */
export async function promptPassphrase(prompt: string, io: Io, hint: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new OcikitError('E_USAGE', 'a passphrase is needed and standard input is not a terminal', { hint });
  io.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let got = '';
      const onData = (chunk: Buffer): void => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            io.stderr.write('\n');
            return resolve(got);
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            io.stderr.write('\n');
            return reject(new OcikitError('E_ABORTED', 'reading the passphrase: cancelled'));
          }
          if (ch === '\u007f' || ch === '\b') got = got.slice(0, -1);
          else got += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

/** A docker reference as --sign-identity needs it: fully specified, with a tag or digest. */
export function parseSignIdentity(s: string, flag = '--sign-identity'): string {
  let r;
  try {
    r = parseDockerReference(s);
  } catch (err) {
    throw new OcikitError('E_USAGE', `${flag}: ${(err as Error).message}`, { cause: err });
  }
  if (r.toString() !== s) throw new OcikitError('E_USAGE', `${flag}: ${JSON.stringify(s)} is not a fully specified docker reference`, { hint: `write ${r.toString()}` });
  if (isNameOnly(r)) throw new OcikitError('E_USAGE', `${flag}: ${JSON.stringify(s)} has neither a tag nor a digest`);
  return s;
}

/**
 * The signer of `copy --sign-by FINGERPRINT` / `--sign-by-sigstore-private-key PATH`, or undefined
 * when neither is given. Keys and passphrases are loaded here, before the copy starts, so a wrong
 * passphrase fails before any byte moves.
 */
export async function copySigner(args: ParsedArgs, dest: ImageReference, io: Io, debug?: (line: string) => void): Promise<ManifestSigner | undefined> {
  const identityFlag = str(args, 'sign-identity');
  const signer = await loadSigner(args, io, identityFlag !== undefined ? parseSignIdentity(identityFlag) : undefined, debug);
  return signer?.(dest);
}

function str(args: ParsedArgs, name: string): string | undefined {
  const v = args[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The keys of --sign-by / --sign-by-sigstore-private-key, loaded once (passphrase read or asked
 * for now), as a function giving the signer of one destination: it signs `identity` when given
 * (--sign-identity), else the destination's docker reference (E_USAGE when it has none). Undefined
 * when neither flag is given.
 */
export async function loadSigner(args: ParsedArgs, io: Io, identity?: string, debug?: (line: string) => void): Promise<((dest: ImageReference) => ManifestSigner) | undefined> {
  const gpgKey = str(args, 'sign-by');
  const sigstoreKey = str(args, 'sign-by-sigstore-private-key');
  const passFile = str(args, 'sign-passphrase-file');
  const identityFlag = str(args, 'sign-identity');
  if (!gpgKey && !sigstoreKey) {
    if (passFile || identityFlag) throw new OcikitError('E_USAGE', `${passFile ? '--sign-passphrase-file' : '--sign-identity'} needs --sign-by or --sign-by-sigstore-private-key`);
    return undefined;
  }
  if (gpgKey && sigstoreKey) throw new OcikitError('E_USAGE', 'only one of --sign-by and --sign-by-sigstore-private-key can be used');
  const identityOf = (dest: ImageReference): string => {
    if (identity !== undefined) return identity;
    if (dest.dockerReference && !isNameOnly(parseDockerReference(dest.dockerReference))) return dest.dockerReference;
    throw new OcikitError('E_USAGE', `cannot tell which identity to sign: ${dest} has no docker reference`, { hint: 'give --sign-identity HOST/REPO:TAG (copy)' });
  };
  if (gpgKey) {
    const { signManifestGpg } = await import('../lib/signature/simple-signing.js');
    const passphrase = passFile ? await readPassphraseFile(passFile, '--sign-passphrase-file') : undefined;
    return (dest) => {
      const id = identityOf(dest);
      return async (manifest) => [await signManifestGpg(manifest, id, gpgKey, { ...(passphrase === undefined ? {} : { passphrase }), ...(debug ? { debug } : {}) })];
    };
  }
  const sig = { ...(await import('../lib/signature/sigstore.js')), ...(await import('../lib/signature/blob.js')) };
  const pem = (await readLocalFile(sigstoreKey!, 'sigstore private key')).toString('utf8');
  const passphrase = passFile ? await readPassphraseFile(passFile, '--sign-passphrase-file') : await promptPassphrase(`Passphrase for key ${sigstoreKey}: `, io, 'give it with --sign-passphrase-file');
  const key = await sig.loadSigstorePrivateKey(pem, Buffer.from(passphrase, 'utf8'), `sigstore private key ${sigstoreKey}`);
  return (dest) => {
    const id = identityOf(dest);
    return async (manifest) => [sig.signatureBlobBytes(sig.signManifestSigstore(manifest, id, key))];
  };
}

/**
 * The trust policy of a copy: undefined with --insecure-policy, else the policy from --policy or the
 * default files (E_POLICY, with a hint, when there is none, as skopeo refuses to copy then).
 */
export async function copyPolicy(g: GlobalOptions, io?: Io): Promise<import('../lib/signature/policy.js').PolicyContext | undefined> {
  if (g.insecurePolicy) return undefined;
  // policy.js itself, not lib/signature's index: a copy needs neither YAML nor registries.d here.
  const { loadPolicy, PolicyContext } = await import('../lib/signature/policy.js');
  const { policy, path } = await loadPolicy(g.policy);
  return new PolicyContext(policy, path, g.debug ? debugWriter(io?.stderr ?? process.stderr) : undefined);
}
