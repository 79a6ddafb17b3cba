/**
 * The three key-wrapping schemes ocicrypt and skopeo use for a layer's private options, each
 * through a well-kept implementation, never our own cryptography:
 *
 * - jwe: JSON Web Encryption (RFC 7516, JSON serialization, A256GCM content encryption, RSA-OAEP or
 *   ECDH-ES+A256KW per recipient) through `jose`;
 * - pkcs7: CMS enveloped data (RFC 5652) through `node-forge`. Written as standard CMS: RSA PKCS#1
 *   v1.5 key transport (what ocicrypt's Go library decrypts) and AES-256-CBC content. Read: also
 *   ocicrypt's own output, AES-GCM content whose parameters Go's pkcs7 library encodes its own way,
 *   with node:crypto's AES-GCM once node-forge has parsed the structure and unwrapped the key;
 * - pgp: OpenPGP through the installed gpg, as skopeo uses GnuPG's keyring to find recipients.
 */
import { spawn } from 'node:child_process';
import { X509Certificate, constants, createDecipheriv, createPrivateKey, privateDecrypt, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OcikitError } from '../errors.js';
import { forge as loadForge, jose as loadJose } from '../lazy.js';
import { gpgComplaint, runGpg } from '../signature/simple-signing.js';

// === jwe

/** A JWE recipient: a public key and the key-management algorithm for it. */
export interface JweRecipient {
  key: KeyObject;
  alg: string;
}

/** Encrypt `data` to every recipient: one JWE in the general JSON serialization. */
export async function jweWrap(data: Buffer, recipients: JweRecipient[]): Promise<Buffer> {
  const jose = loadJose();
  const enc = new jose.GeneralEncrypt(data).setProtectedHeader({ enc: 'A256GCM' });
  for (const r of recipients) enc.addRecipient(r.key).setUnprotectedHeader({ alg: r.alg });
  return Buffer.from(JSON.stringify(await enc.encrypt()));
}

/** The plaintext of a JWE (general or flattened JSON) for one of `keys`; undefined when none fits. */
export async function jweUnwrap(jwe: Buffer, keys: KeyObject[]): Promise<Buffer | undefined> {
  const jose = loadJose();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(jwe.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new OcikitError('E_BAD_INPUT', 'a jwe-wrapped layer key is not JSON');
  }
  for (const key of keys) {
    try {
      const r = Array.isArray(parsed.recipients)
        ? await jose.generalDecrypt(parsed as unknown as Parameters<typeof jose.generalDecrypt>[0], key)
        : await jose.flattenedDecrypt(parsed as unknown as Parameters<typeof jose.flattenedDecrypt>[0], key);
      return Buffer.from(r.plaintext);
    } catch {
      // not this key
    }
  }
  return undefined;
}

// === pkcs7

/** CMS enveloped data of `data` for every certificate (RSA keys). */
export function pkcs7Wrap(data: Buffer, certs: X509Certificate[]): Buffer {
  const forge = loadForge();
  const p7 = forge.pkcs7.createEnvelopedData();
  for (const c of certs) {
    try {
      p7.addRecipient(forge.pki.certificateFromPem(c.toString()));
    } catch (err) {
      throw new OcikitError('E_UNSUPPORTED', `pkcs7: the certificate for ${c.subject.replace(/\n/g, ', ')} cannot be used (RSA keys only): ${(err as Error).message}`);
    }
  }
  p7.content = forge.util.createBuffer(data.toString('binary'));
  p7.encrypt(undefined, forge.pki.oids['aes256-CBC']);
  return Buffer.from(forge.asn1.toDer(p7.toAsn1()).getBytes(), 'binary');
}

const OID = {
  envelopedData: '1.2.840.113549.1.7.3',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaesOaep: '1.2.840.113549.1.1.7',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;
/** Content encryption: OID -> node:crypto cipher. */
const CONTENT_CIPHERS: Record<string, string> = {
  '2.16.840.1.101.3.4.1.2': 'aes-128-cbc',
  '2.16.840.1.101.3.4.1.22': 'aes-192-cbc',
  '2.16.840.1.101.3.4.1.42': 'aes-256-cbc',
  '1.2.840.113549.3.7': 'des-ede3-cbc',
  '2.16.840.1.101.3.4.1.6': 'aes-128-gcm',
  '2.16.840.1.101.3.4.1.26': 'aes-192-gcm',
  '2.16.840.1.101.3.4.1.46': 'aes-256-gcm',
};

/** The plaintext of CMS enveloped data for one of `keys`; undefined when none fits a recipient. */
export function pkcs7Unwrap(der: Buffer, keys: KeyObject[]): Buffer | undefined {
  const forge = loadForge();
  const asn1 = forge.asn1;
  type Node = import('node-forge').asn1.Asn1;
  const bad = (what: string): never => {
    throw new OcikitError('E_BAD_INPUT', `a pkcs7-wrapped layer key is malformed: ${what}`);
  };
  const kids = (n: Node | undefined, what: string): Node[] => (n && Array.isArray(n.value) ? n.value : bad(what));
  const bytes = (n: Node | undefined, what: string): string => (n && typeof n.value === 'string' ? n.value : bad(what));
  let root: Node;
  try {
    root = asn1.fromDer(forge.util.createBuffer(der.toString('binary')), false);
  } catch (err) {
    return bad((err as Error).message);
  }
  const [type, wrapped] = kids(root, 'ContentInfo');
  if (asn1.derToOid(forge.util.createBuffer(bytes(type, 'content type'))) !== OID.envelopedData) bad('not enveloped data');
  const env = kids(kids(wrapped, 'content')[0], 'EnvelopedData');
  const recipients = kids(
    env.find((n) => n.tagClass === asn1.Class.UNIVERSAL && n.type === asn1.Type.SET),
    'RecipientInfos',
  );
  const eci = kids(env[env.length - 1], 'EncryptedContentInfo');
  const alg = kids(eci[1], 'content encryption algorithm');
  const cipher = CONTENT_CIPHERS[asn1.derToOid(forge.util.createBuffer(bytes(alg[0], 'content algorithm')))];
  if (!cipher) return bad('an unknown content encryption algorithm');
  const contentNode = eci[2] ?? bad('no encrypted content');
  // [0] IMPLICIT OCTET STRING: the bytes themselves, or (constructed) a series of OCTET STRINGs
  const content = Buffer.from(Array.isArray(contentNode.value) ? contentNode.value.map((p) => bytes(p, 'content part')).join('') : bytes(contentNode, 'content'), 'binary');

  // the content key: the first recipient one of our keys opens
  let cek: Buffer | undefined;
  for (const ri of recipients) {
    const f = kids(ri, 'RecipientInfo');
    const keyAlg = asn1.derToOid(forge.util.createBuffer(bytes(kids(f[2], 'key algorithm')[0], 'key algorithm')));
    const wrappedKey = Buffer.from(bytes(f[3], 'encrypted key'), 'binary');
    for (const k of keys) {
      try {
        if (keyAlg === OID.rsaEncryption) {
          // RSA PKCS#1 v1.5: ocicrypt's key transport; node:crypto no longer decrypts it (Marvin), node-forge does
          const pk = forge.pki.privateKeyFromPem(k.export({ format: 'pem', type: 'pkcs8' }).toString());
          cek = Buffer.from(pk.decrypt(wrappedKey.toString('binary'), 'RSAES-PKCS1-V1_5'), 'binary');
        } else if (keyAlg === OID.rsaesOaep) {
          const params = kids(f[2], 'key algorithm')[1];
          const sha256 = params !== undefined && forge.asn1.toDer(params).getBytes().includes(forge.asn1.oidToDer(OID.sha256).getBytes());
          cek = privateDecrypt({ key: k, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: sha256 ? 'sha256' : 'sha1' }, wrappedKey);
        }
      } catch {
        // not this key
      }
      if (cek) break;
    }
    if (cek) break;
  }
  if (!cek) return undefined;

  const params = alg[1] ?? bad('no content encryption parameters');
  try {
    if (cipher.endsWith('-gcm')) {
      // RFC 5084 GCMParameters; Go's pkcs7 (ocicrypt) writes them as a primitive element whose
      // bytes are the DER of the sequence, the nonce tagged [4]: read either
      const seq = Array.isArray(params.value) ? params : asn1.fromDer(forge.util.createBuffer(bytes(params, 'GCM parameters')), false);
      const [nonceNode, icvNode] = kids(seq, 'GCM parameters');
      const nonce = Buffer.from(bytes(nonceNode, 'GCM nonce'), 'binary');
      const icvLen = icvNode ? forge.util.createBuffer(bytes(icvNode, 'GCM tag length')).getInt(8 * bytes(icvNode, 'GCM tag length').length) : 12;
      if (icvLen < 12 || icvLen > 16 || content.length < icvLen) bad('a bad GCM tag length');
      const d = createDecipheriv(cipher as 'aes-256-gcm', cek, nonce, { authTagLength: icvLen });
      d.setAuthTag(content.subarray(content.length - icvLen));
      return Buffer.concat([d.update(content.subarray(0, content.length - icvLen)), d.final()]);
    }
    const d = createDecipheriv(cipher, cek, Buffer.from(bytes(params, 'IV'), 'binary'));
    return Buffer.concat([d.update(content), d.final()]);
  } catch (err) {
    if (err instanceof OcikitError) throw err;
    throw new OcikitError('E_DECRYPT', `pkcs7: the content does not decrypt with the unwrapped key (${(err as Error).message})`);
  }
}

// === pgp

/** OpenPGP encryption of `data` to every recipient, by the user's gpg keyring (binary message). */
export async function pgpWrap(data: Buffer, recipients: string[], homedir?: string): Promise<Buffer> {
  const what = `encrypting a layer key with gpg for ${recipients.join(', ')}`;
  const args = ['--trust-model', 'always', '--compress-algo', 'none', '--encrypt', ...recipients.flatMap((r) => ['--recipient', r]), '--output', '-'];
  const r = await runGpg(args, data, { ...(homedir ? { homedir } : {}), what });
  if (r.code !== 0 || !r.status.some((s) => s[0] === 'END_ENCRYPTION') || r.stdout.length === 0) {
    throw new OcikitError('E_USAGE', `${what}: ${gpgComplaint(r.stderr)}`, { hint: 'gpg --list-keys shows the keys gpg can encrypt to' });
  }
  return r.stdout;
}

/** A secret key file (an exported GnuPG secret key) and its passphrase. */
export interface PgpSecretKey {
  data: Buffer;
  passphrase?: string;
  source: string;
}

/**
 * The plaintext of OpenPGP messages for one of `keys`: gpg in a throwaway GNUPGHOME holding only
 * those keys (the user's keyring is neither read nor changed), removed afterwards with its agent.
 */
export async function pgpUnwrap(messages: Buffer[], keys: PgpSecretKey[]): Promise<Buffer | undefined> {
  if (messages.length === 0 || keys.length === 0) return undefined;
  const home = await mkdtemp(join(tmpdir(), 'ocikit-gpg-'));
  try {
    for (const k of keys) {
      const pass = k.passphrase !== undefined ? ['--pinentry-mode', 'loopback', '--passphrase-fd', '4'] : [];
      const r = await runGpg([...pass, '--import'], k.data, { homedir: home, ...(k.passphrase !== undefined ? { fd4: k.passphrase } : {}), what: `importing ${k.source}` });
      if (!r.status.some((s) => s[0] === 'IMPORT_OK')) throw new OcikitError('E_USAGE', `--decryption-key ${k.source}: gpg imports no key from it (${gpgComplaint(r.stderr)})`);
      for (const m of messages) {
        const d = await runGpg(['--pinentry-mode', 'loopback', '--passphrase-fd', '4', '--output', '-', '--decrypt'], m, {
          homedir: home,
          fd4: k.passphrase ?? '',
          what: 'decrypting a layer key with gpg',
        });
        if (d.code === 0 && d.status.some((s) => s[0] === 'DECRYPTION_OKAY')) return d.stdout;
      }
    }
    return undefined;
  } finally {
    await killAgent(home);
    await rm(home, { recursive: true, force: true });
  }
}

/** Stop the agent a throwaway home started (gpgconf, for that home only). */
async function killAgent(home: string): Promise<void> {
  await new Promise<void>((resolve) => {
    const c = spawn('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { stdio: 'ignore' });
    c.on('error', () => resolve());
    c.on('close', () => resolve());
  });
}

/** Read a private key file's key for jwe and pkcs7 (PEM, DER or JWK; a passphrase for an encrypted one). */
export function loadPrivateKey(data: Buffer, passphrase: string | undefined): KeyObject | undefined {
  const tries: Array<Parameters<typeof createPrivateKey>[0]> = [];
  const text = data.toString('utf8');
  if (text.includes('-----BEGIN')) tries.push({ key: text, format: 'pem', ...(passphrase !== undefined ? { passphrase } : {}) });
  else if (text.trimStart().startsWith('{')) {
    try {
      tries.push({ key: JSON.parse(text) as import('node:crypto').JsonWebKey, format: 'jwk' });
    } catch {
      return undefined;
    }
  } else {
    for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) tries.push({ key: data, format: 'der', type, ...(passphrase !== undefined ? { passphrase } : {}) });
  }
  for (const t of tries) {
    try {
      return createPrivateKey(t);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_MISSING_PASSPHRASE') throw new OcikitError('E_USAGE', 'the key is encrypted: give its password as FILE:PASSWORD');
      if (/bad decrypt|bad password/i.test((err as Error).message)) throw new OcikitError('E_USAGE', 'the password does not open the key');
    }
  }
  return undefined;
}
