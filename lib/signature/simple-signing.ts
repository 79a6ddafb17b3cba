/**
 * Simple signing (containers-signature(5)): an OpenPGP-signed message whose literal data is the JSON
 * payload of payload.ts. Made and checked by the installed `gpg`, as containers/image does through
 * gpgme, so signatures are the same bytes skopeo makes and checks.
 *
 * - Signing uses the user's keyring and gpg-agent (the key never leaves GnuPG); a passphrase, when
 *   given, goes to gpg over a private pipe with --pinentry-mode loopback, never on a command line.
 * - Verification against keys from a policy (keyPath, keyPaths, keyData) or --public-key-file uses a
 *   throwaway GNUPGHOME made here, so the user's keyring is neither read nor changed; it is removed
 *   by close(). gpg runs there with --no-autostart: checking a signature needs no agent.
 *
 * WARNING: everything inside a signature is untrusted until verifyMessage has accepted it, and
 * the payload's claims until the caller has compared them with the image (policy.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { OcikitError } from '../errors.js';
import { digestBytes } from '../digest/index.js';
import { SIMPLE_SIGNING_TYPE, encodePayload, parsePayload, type SignedClaim } from './payload.js';

/** Signatures and payloads above this size are refused (containers/image's limit for signatures). */
export const MAX_SIGNATURE_SIZE = 4 * 1024 * 1024;

/** The gpg program: $OCIKIT_GPG (for tests of odd installs), else `gpg` on PATH. */
function gpgProgram(): string {
  return process.env.OCIKIT_GPG || 'gpg';
}

export interface GpgResult {
  code: number;
  stdout: Buffer;
  stderr: string;
  /** Lines gpg wrote on --status-fd 3, without the "[GNUPG:] " prefix. */
  status: string[][];
}

/**
 * Run gpg with `args`, feeding `input` on stdin and `fd4` (a passphrase) on a fourth pipe.
 * Status lines come on fd 3, apart from gpg's human messages, so no user ID text can forge one.
 * (Also lib/ocicrypt's, for OpenPGP key wrapping.)
 */
export function runGpg(args: string[], input: Buffer, opts: { homedir?: string; fd4?: string; what: string; debug?: (line: string) => void }): Promise<GpgResult> {
  const full = ['--batch', '--no-tty', '--status-fd', '3', ...(opts.homedir ? ['--homedir', opts.homedir] : []), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(gpgProgram(), full, { stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let outLen = 0;
    let err = '';
    let status = '';
    let tooBig = false;
    child.stdout.on('data', (c: Buffer) => {
      outLen += c.length;
      if (outLen > MAX_SIGNATURE_SIZE) {
        tooBig = true;
        child.kill('SIGKILL');
        return;
      }
      out.push(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 16384) err += c.toString('utf8');
    });
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (c: Buffer) => {
      if (status.length < 1 << 20) status += c.toString('utf8');
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        new OcikitError('E_UNSUPPORTED', `${opts.what}: cannot run ${gpgProgram()}: ${e.code === 'ENOENT' ? 'not installed' : e.message}`, {
          cause: e,
          hint: 'simple signing needs GnuPG: apt-get install gnupg',
        }),
      );
    });
    child.on('close', (code) => {
      if (tooBig) return reject(new OcikitError('E_SIGNATURE', `${opts.what}: the signed content is larger than ${MAX_SIGNATURE_SIZE} bytes`));
      const lines = status
        .split('\n')
        .filter((l) => l.startsWith('[GNUPG:] '))
        .map((l) => l.slice(9).trim().split(' '));
      // gpg's own words reach the user only under --debug: a failure is ocikit's one line.
      if (opts.debug) {
        opts.debug(`gpg ${args.filter((a) => !a.startsWith('--passphrase')).join(' ')}: exit ${code ?? 'signal'}`);
        // eslint-disable-next-line no-control-regex -- gpg's text is untrusted: its control characters become spaces
        for (const l of err.split('\n')) if (l.trim() !== '') opts.debug(l.replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 300));
      }
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err, status: lines });
    });
    // A closed pipe (gpg exited early) is reported through the exit status, not as a write error.
    const feed = (w: Writable | null | undefined, data: Buffer | string | undefined): void => {
      if (!w) return;
      w.on('error', () => undefined);
      w.end(data ?? '');
    };
    feed(child.stdin, input);
    feed(child.stdio[4] as Writable, opts.fd4 === undefined ? undefined : `${opts.fd4}\n`);
    child.stdio[3]?.on('error', () => undefined);
  });
}

/**
 * gpg's last meaningful complaint, for messages: its housekeeping (the trust database checked or
 * created, a keybox made, the signature's date and key, trust warnings) is never the reason.
 */
export function gpgComplaint(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^gpg:\s*/, '').trim())
    .filter(
      (l) =>
        l &&
        !/^(using|Signature made|WARNING: This key is not certified|There is no indication|Primary key fingerprint|aka|Note: |checking the trustdb|marginals needed|depth: |next trustdb check|no ultimately trusted keys|key [0-9A-F]+ marked as ultimately trusted|keybox .* created|.*trustdb\.gpg: trustdb created|key [0-9A-F]+: public key .* imported|Total number processed|imported: |unchanged: |directory .* created|no need for a trustdb check|no gpg-agent running|revocation certificate stored)/i.test(
          l,
        ),
    );
  // eslint-disable-next-line no-control-regex -- gpg's text is untrusted: its control characters become spaces
  return (lines.at(-1) ?? 'gpg failed').replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 200);
}

/** Options for making a simple signature. */
export interface SimpleSignOptions {
  /** The key's passphrase (--sign-passphrase-file); without it gpg-agent asks or knows. */
  passphrase?: string;
  /** A GnuPG home other than the user's (tests). */
  homedir?: string;
  /** --debug: gpg's own output, line by line (never shown otherwise). */
  debug?: (line: string) => void;
}

/**
 * Sign `manifest` as `dockerReference` with the secret key `fingerprint` from the user's keyring.
 * Returns the OpenPGP message (binary, as containers/image writes it).
 */
export async function signManifestGpg(manifest: Buffer, dockerReference: string, fingerprint: string, opts: SimpleSignOptions = {}): Promise<Buffer> {
  const what = `signing with key ${fingerprint}`;
  if (opts.passphrase !== undefined && opts.passphrase.includes('\n')) throw new OcikitError('E_USAGE', `${what}: the passphrase must not contain a line break`);
  if (!/^[0-9A-Za-z@.<>_+ -]{1,200}$/.test(fingerprint)) throw new OcikitError('E_USAGE', `${what}: not a key identity`);
  const payload = encodePayload(SIMPLE_SIGNING_TYPE, digestBytes(manifest), dockerReference);
  const args = ['--sign', '--local-user', fingerprint, '--output', '-'];
  if (opts.passphrase !== undefined) args.unshift('--pinentry-mode', 'loopback', '--passphrase-fd', '4');
  const r = await runGpg(args, payload, { homedir: opts.homedir, fd4: opts.passphrase, what, ...(opts.debug ? { debug: opts.debug } : {}) });
  const created = r.status.some((s) => s[0] === 'SIG_CREATED');
  if (r.code !== 0 || !created || r.stdout.length === 0) {
    const noKey = r.status.some((s) => s[0] === 'INV_SGNR' || (s[0] === 'FAILURE' && /sign/.test(s[1] ?? '')));
    throw new OcikitError('E_SIGNATURE', `${what}: ${noKey && !/passphrase/i.test(r.stderr) ? 'gpg has no usable secret key of that identity' : gpgComplaint(r.stderr)}`, {
      hint: 'gpg --list-secret-keys shows the keys gpg can sign with',
    });
  }
  return r.stdout;
}

/** What a good signature told us: the signed bytes and who signed them. */
export interface VerifiedMessage {
  plaintext: Buffer;
  /** Fingerprint of the key (or subkey) that made the signature. */
  fingerprint: string;
  /** Fingerprint of its primary key. */
  primaryFingerprint: string;
}

/**
 * Checks OpenPGP signatures against a fixed set of public keys (a throwaway keyring), or against the
 * user's keyring (`GpgVerifier.userKeyring()`, for standalone-verify without --public-key-file).
 */
export class GpgVerifier {
  private constructor(
    private readonly homedir: string | undefined,
    /** Primary-key fingerprints of the imported keys (empty for the user's keyring). */
    readonly fingerprints: string[],
    private readonly owned: boolean,
    /** --debug: gpg's own output, line by line. */
    private readonly debug?: (line: string) => void,
  ) {}

  /** A verifier that knows exactly the keys in `keyrings` (armored or binary); E_SIGNATURE when none import. */
  static async withKeys(keyrings: Array<{ data: Buffer; source: string }>, debug?: (line: string) => void): Promise<GpgVerifier> {
    const home = await mkdtemp(join(tmpdir(), 'ocikit-gpg-'));
    const fps = new Set<string>();
    try {
      for (const k of keyrings) {
        const r = await runGpg(['--no-autostart', '--import'], k.data, { homedir: home, what: `importing keys from ${k.source}`, ...(debug ? { debug } : {}) });
        for (const s of r.status) if (s[0] === 'IMPORT_OK' && s[2]) fps.add(s[2].toUpperCase());
      }
    } catch (err) {
      await rm(home, { recursive: true, force: true });
      throw err;
    }
    if (fps.size === 0) {
      await rm(home, { recursive: true, force: true });
      throw new OcikitError('E_SIGNATURE', `no public keys could be imported from ${keyrings.map((k) => k.source).join(', ') || 'an empty key list'}`);
    }
    return new GpgVerifier(home, [...fps], true, debug);
  }

  /** A verifier over the user's own keyring (what gpg uses by default). */
  static userKeyring(homedir?: string, debug?: (line: string) => void): GpgVerifier {
    return new GpgVerifier(homedir, [], false, debug);
  }

  /**
   * Check one OpenPGP signed message. Exactly one signature, good, by a key that is neither expired
   * nor revoked; otherwise E_SIGNATURE saying which of these failed.
   */
  async verifyMessage(message: Buffer, what = 'signature'): Promise<VerifiedMessage> {
    if (message.length > MAX_SIGNATURE_SIZE) throw new OcikitError('E_SIGNATURE', `${what}: larger than ${MAX_SIGNATURE_SIZE} bytes`);
    const args = ['--no-autostart', '--no-auto-key-retrieve', '--trust-model', 'always', '--output', '-', '--decrypt'];
    const r = await runGpg(args, message, { homedir: this.homedir, what: `verifying ${what}`, ...(this.debug ? { debug: this.debug } : {}) });
    const kinds = ['GOODSIG', 'EXPSIG', 'EXPKEYSIG', 'REVKEYSIG', 'BADSIG', 'ERRSIG'];
    const sigs = r.status.filter((s) => kinds.includes(s[0]!));
    const has = (k: string): string[] | undefined => r.status.find((s) => s[0] === k);
    if (sigs.length === 0) throw new OcikitError('E_SIGNATURE', `${what}: not a signed OpenPGP message (${gpgComplaint(r.stderr)})`);
    if (sigs.length > 1) throw new OcikitError('E_SIGNATURE', `${what}: the message carries ${sigs.length} signatures, expected exactly one`);
    const bad = has('BADSIG');
    if (bad) throw new OcikitError('E_SIGNATURE', `${what}: the signature by key ${bad[1]} does not verify (the signed data was altered or the signature is damaged)`);
    const err = has('ERRSIG');
    if (err) {
      if (has('NO_PUBKEY')) throw new OcikitError('E_SIGNATURE', `${what}: signed by key ${err[1]}, which is not among the trusted keys`);
      throw new OcikitError('E_SIGNATURE', `${what}: the signature by key ${err[1]} cannot be checked (${gpgComplaint(r.stderr)})`);
    }
    const expKey = has('EXPKEYSIG');
    if (expKey) throw new OcikitError('E_SIGNATURE', `${what}: signed by key ${expKey[1]}, which has expired`);
    const rev = has('REVKEYSIG');
    if (rev) throw new OcikitError('E_SIGNATURE', `${what}: signed by key ${rev[1]}, which has been revoked`);
    const expSig = has('EXPSIG');
    if (expSig) throw new OcikitError('E_SIGNATURE', `${what}: the signature by key ${expSig[1]} has expired`);
    const valid = has('VALIDSIG');
    if (!has('GOODSIG') || !valid || !valid[1]) throw new OcikitError('E_SIGNATURE', `${what}: gpg did not report a valid signature (${gpgComplaint(r.stderr)})`);
    if (r.code !== 0) throw new OcikitError('E_SIGNATURE', `${what}: gpg failed (${gpgComplaint(r.stderr)})`);
    const fingerprint = valid[1].toUpperCase();
    return { plaintext: r.stdout, fingerprint, primaryFingerprint: (valid[10] ?? valid[1]).toUpperCase() };
  }

  /** Remove the throwaway keyring (a no-op for the user's keyring). */
  async close(): Promise<void> {
    if (this.owned && this.homedir) await rm(this.homedir, { recursive: true, force: true });
  }
}

/** The result of verifySimpleSignature: the payload's claims and the key that made them. */
export interface VerifiedSimpleSignature {
  claim: SignedClaim;
  fingerprint: string;
}

/**
 * Verify a simple signature: the message (by `verifier`), the signing key (one of `accepted`
 * fingerprints, primary key or subkey), then parse the payload. The caller compares the claim
 * with the image (digest, identity).
 */
export async function verifySimpleSignature(verifier: GpgVerifier, message: Buffer, accepted: string[], what = 'signature'): Promise<VerifiedSimpleSignature> {
  const v = await verifier.verifyMessage(message, what);
  const want = new Set(accepted.map((f) => f.toUpperCase()));
  let fingerprint = v.fingerprint;
  if (!want.has(fingerprint)) {
    if (!want.has(v.primaryFingerprint)) throw new OcikitError('E_SIGNATURE', `${what}: signed by key ${v.fingerprint}, which is not accepted`);
    fingerprint = v.primaryFingerprint;
  }
  const claim = parsePayload(v.plaintext, SIMPLE_SIGNING_TYPE, `${what}: payload`);
  return { claim, fingerprint };
}
