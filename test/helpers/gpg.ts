/**
 * Throwaway GnuPG homes for tests: keys made in a temp dir (never the user's keyring), exported,
 * expired or revoked on demand; each home's gpg-agent is stopped (gpgconf --kill, for that home
 * only) when the process exits.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './cli.js';
import { requirePeer } from '../../support/peers.js';
import { tempDir } from './paths.js';

const homes: string[] = [];
process.on('exit', () => {
  for (const h of homes) {
    try {
      run('gpgconf', ['--homedir', h, '--kill', 'all'], { allowFail: true });
    } catch {
      /* gone */
    }
  }
});

/** A GnuPG home with its own keys. */
export interface GpgHome {
  dir: string;
  /** Environment that makes gpg (and skopeo, through gpgme) use this home. */
  env: NodeJS.ProcessEnv;
  /** Run gpg in this home; throws when it fails. */
  gpg(args: string[]): string;
  /** Make a key; returns its fingerprint. `fakedTime` makes it in the past ("20200101T000000"). */
  genKey(uid: string, opts?: { passphrase?: string; expire?: string; fakedTime?: string }): string;
  /** The public key `fpr`, binary (as a keyPath file holds it) or armored. */
  exportKey(fpr: string, armor?: boolean): Buffer;
  /** Revoke `fpr` with the revocation certificate gpg made with it. */
  revoke(fpr: string): void;
}

/** A fresh GnuPG home in a temp dir. */
export function gpgHome(): GpgHome {
  const gpgPath = requirePeer('gpg');
  // Short path: the agent's socket name must fit in a sockaddr_un.
  const dir = join(tempDir('okg-'), 'g');
  mkdirSync(dir);
  chmodSync(dir, 0o700);
  homes.push(dir);
  const env = { GNUPGHOME: dir };
  const gpg = (args: string[]): string => run(gpgPath, ['--homedir', dir, '--batch', ...args], { env }).stdout;
  return {
    dir,
    env,
    gpg,
    genKey(uid, opts = {}) {
      const args = [
        ...(opts.fakedTime ? ['--faked-system-time', opts.fakedTime] : []),
        '--passphrase',
        opts.passphrase ?? '',
        '--pinentry-mode',
        'loopback',
        '--quick-gen-key',
        uid,
        'ed25519',
        'sign',
        opts.expire ?? 'never',
      ];
      gpg(args);
      const colons = gpg(['--with-colons', '--list-keys', uid]);
      const fpr = colons
        .split('\n')
        .find((l) => l.startsWith('fpr:'))
        ?.split(':')[9];
      if (!fpr) throw new Error(`gpg made no key for ${uid}`);
      return fpr;
    },
    exportKey(fpr, armor = false) {
      const r = spawnSync(gpgPath, ['--homedir', dir, '--batch', ...(armor ? ['--armor'] : []), '--export', fpr]);
      if (r.status !== 0 || r.stdout.length === 0) throw new Error(`gpg --export ${fpr} failed: ${r.stderr}`);
      return r.stdout;
    },
    revoke(fpr) {
      const rev = readdirSync(join(dir, 'openpgp-revocs.d')).find((f) => f.startsWith(fpr));
      if (!rev) throw new Error(`no revocation certificate for ${fpr}`);
      // gpg guards the stored certificate with a leading ':' so it is not imported by accident.
      const text = readFileSync(join(dir, 'openpgp-revocs.d', rev), 'utf8').replace(/^:-----BEGIN/m, '-----BEGIN');
      const f = join(dir, 'revoke.asc');
      writeFileSync(f, text);
      gpg(['--import', f]);
    },
  };
}
