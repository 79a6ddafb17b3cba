/** ocikit generate-sigstore-key --output-prefix PREFIX [--passphrase-file PATH] (as skopeo's). */
import { promises as fsp } from 'node:fs';
import { OcikitError } from '../lib/errors.js';
import { createNewFile } from '../lib/fs/durable.js';
import { positionals, type Command } from './command.js';
import { promptPassphrase, readPassphraseFile } from './signing.js';

const USAGE = 'ocikit generate-sigstore-key [options] --output-prefix PREFIX';

export const generateSigstoreKeyCommand: Command = {
  name: 'generate-sigstore-key',
  usage: USAGE,
  help: `Options:
      --output-prefix PREFIX     write PREFIX.private and PREFIX.pub (required; existing files are not replaced)
      --passphrase-file PATH     encrypt the private key with the first line of PATH (default: ask on the terminal)`,
  flags: { string: ['output-prefix', 'passphrase-file'] },
  async run(args, _g, io) {
    positionals(args, 0, USAGE);
    const prefix = typeof args['output-prefix'] === 'string' && args['output-prefix'] !== '' ? args['output-prefix'] : undefined;
    if (!prefix) throw new OcikitError('E_USAGE', 'generate-sigstore-key: --output-prefix is required', { hint: `usage: ${USAGE}` });
    const priv = `${prefix}.private`;
    const pub = `${prefix}.pub`;
    for (const p of [priv, pub]) {
      if (
        await fsp.lstat(p).then(
          () => true,
          () => false,
        )
      )
        throw new OcikitError('E_CONFLICT', `generate-sigstore-key: ${p} exists; refusing to overwrite it`);
    }
    let passphrase: string;
    const pf = typeof args['passphrase-file'] === 'string' && args['passphrase-file'] !== '' ? args['passphrase-file'] : undefined;
    if (pf) passphrase = await readPassphraseFile(pf, '--passphrase-file');
    else {
      const hint = 'give the passphrase with --passphrase-file';
      passphrase = await promptPassphrase('Enter a passphrase for the new private key: ', io, hint);
      const again = await promptPassphrase('Repeat the passphrase: ', io, hint);
      if (again !== passphrase) throw new OcikitError('E_USAGE', 'generate-sigstore-key: the passphrases differ');
    }
    const { generateSigstoreKeyPair } = await import('../lib/signature/index.js');
    const kp = await generateSigstoreKeyPair(Buffer.from(passphrase, 'utf8'));
    await createNewFile(priv, kp.privateKeyPem, { mode: 0o600 });
    try {
      await createNewFile(pub, kp.publicKeyPem, { mode: 0o644 });
    } catch (err) {
      // One key without the other is of no use: take the private key back.
      await fsp.rm(priv, { force: true });
      throw err;
    }
    io.stdout.write(`Key written to "${priv}" and "${pub}"\n`);
    return 0;
  },
};
