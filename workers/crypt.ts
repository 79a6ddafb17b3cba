/**
 * ocicrypt's layer cipher as a stream stage (node:crypto): AES-256-CTR, and HMAC-SHA256 keyed with
 * the same key over the ciphertext. Encrypting, the HMAC is computed over what goes out and given
 * to the main thread for the layer's public options; decrypting, over what comes in, and the stage
 * fails at the end unless it equals the one the layer's annotations give (a wrong key, or bytes
 * changed after encryption). Nothing decrypted is adopted before that check passed: the job fails.
 */
import { createCipheriv, createHmac, timingSafeEqual, type Cipher, type Hmac } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { JobError } from './errors.js';

export class LayerCipher extends Transform {
  readonly #ctr: Cipher;
  readonly #hmac: Hmac;
  #sum: Buffer | undefined;

  constructor(
    private readonly mode: 'encrypt' | 'decrypt',
    key: Buffer,
    nonce: Buffer,
    private readonly expected?: Buffer,
  ) {
    super({ highWaterMark: 1 << 20 });
    if (key.length !== 32 || nonce.length !== 16) throw new JobError('E_BAD_INPUT', 'a layer key must be 32 bytes and its nonce 16');
    if (mode === 'decrypt' && expected?.length !== 32) throw new JobError('E_BAD_INPUT', 'decrypting a layer needs the HMAC its annotations give');
    // CTR is its own inverse: the same keystream encrypts and decrypts.
    this.#ctr = createCipheriv('aes-256-ctr', key, nonce);
    this.#hmac = createHmac('sha256', key);
  }

  /** The ciphertext's HMAC, once the stage ended. */
  get hmac(): Buffer {
    if (!this.#sum) throw new JobError('E_INTERNAL', 'the layer HMAC is read before the layer ended');
    return this.#sum;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.mode === 'decrypt') this.#hmac.update(chunk);
    const out = this.#ctr.update(chunk);
    if (this.mode === 'encrypt') this.#hmac.update(out);
    cb(null, out);
  }

  override _flush(cb: TransformCallback): void {
    const rest = this.#ctr.final();
    if (this.mode === 'encrypt' && rest.length > 0) this.#hmac.update(rest);
    this.#sum = this.#hmac.digest();
    if (this.mode === 'decrypt' && !timingSafeEqual(this.#sum, this.expected!)) {
      cb(new JobError('E_DECRYPT', 'the decrypted layer does not authenticate (its HMAC differs): a wrong key, or the encrypted bytes were changed'));
      return;
    }
    cb(null, rest.length > 0 ? rest : undefined);
  }
}
