/** ocikit manifest-digest FILE: the digest of a manifest file, as skopeo manifest-digest. */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { OcikitError, wrapError } from '../lib/errors.js';
import type { Digest } from '../lib/digest/index.js';
import { positionals, type Command } from './command.js';

const USAGE = 'ocikit manifest-digest MANIFEST-FILE';

/**
 * The bytes a signed Docker schema 1 manifest's digest is taken over: the JWS payload, which is the
 * file without its "signatures" (the protected header says how long the kept prefix is and what tail
 * closes it). undefined for anything else, whose digest is that of the whole file.
 */
export function schema1Payload(bytes: Buffer): Buffer | undefined {
  // Cheap test first: only a JSON object mentioning both keys can be one.
  const head = bytes.subarray(0, 64 * 1024).toString('utf8');
  if (!head.includes('"schemaVersion"') || !bytes.includes('"signatures"')) return undefined;
  let v: { schemaVersion?: unknown; signatures?: Array<{ protected?: unknown }> };
  try {
    v = JSON.parse(bytes.toString('utf8')) as typeof v;
  } catch {
    return undefined;
  }
  if (v.schemaVersion !== 1 || !Array.isArray(v.signatures) || v.signatures.length === 0) return undefined;
  const prot = v.signatures[0]?.protected;
  if (typeof prot !== 'string') throw new OcikitError('E_BAD_INPUT', 'a signed schema 1 manifest without a protected header');
  let h: { formatLength?: unknown; formatTail?: unknown };
  try {
    h = JSON.parse(Buffer.from(prot, 'base64url').toString('utf8')) as typeof h;
  } catch {
    throw new OcikitError('E_BAD_INPUT', 'a signed schema 1 manifest whose protected header is not JSON');
  }
  if (typeof h.formatLength !== 'number' || typeof h.formatTail !== 'string' || h.formatLength < 0 || h.formatLength > bytes.length) {
    throw new OcikitError('E_BAD_INPUT', 'a signed schema 1 manifest whose protected header lacks formatLength/formatTail');
  }
  return Buffer.concat([bytes.subarray(0, h.formatLength), Buffer.from(h.formatTail, 'base64url')]);
}

export const manifestDigestCommand: Command = {
  name: 'manifest-digest',
  usage: USAGE,
  help: `Prints the manifest digest of MANIFEST-FILE: the sha256 of its exact bytes, whatever they are (a
signed Docker schema 1 manifest: of its payload without the signatures), as skopeo does.
      --json       print {"digest": "sha256:…"}`,
  flags: {},
  async run(args, g, io) {
    const [file] = positionals(args, 1, USAGE);
    // A missing file is not a missing image: exit 1 as skopeo, not 2.
    const st = await fsp.stat(file!).catch((err) => {
      const e = wrapError(err, `reading ${file}`);
      throw e.code === 'E_NOT_FOUND' ? new OcikitError('E_IO', e.message, { cause: err }) : e;
    });
    if (!st.isFile()) throw new OcikitError('E_BAD_INPUT', `reading ${file}: not a regular file`);
    let digest: Digest;
    // Small files may be schema 1 manifests; anything larger is hashed as a stream.
    const bytes = st.size <= 8 << 20 ? await fsp.readFile(file!).catch((err) => Promise.reject(wrapError(err, `reading ${file}`, 'E_IO'))) : undefined;
    if (bytes) {
      const payload = schema1Payload(bytes) ?? bytes;
      digest = `sha256:${createHash('sha256').update(payload).digest('hex')}` as Digest;
    } else {
      const h = createHash('sha256');
      try {
        for await (const c of createReadStream(file!)) h.update(c as Buffer);
      } catch (err) {
        throw wrapError(err, `reading ${file}`);
      }
      digest = `sha256:${h.digest('hex')}` as Digest;
    }
    io.stdout.write(g.json ? JSON.stringify({ digest }) + '\n' : digest + '\n');
    return 0;
  },
};
