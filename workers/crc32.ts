/**
 * crc32_combine: the crc32 of A‖B from crc32(A), crc32(B) and the length of B, without the
 * bytes. Parallel gzip needs it because each block's crc is computed by whichever worker
 * deflated the block, and the gzip trailer wants the crc of the whole input.
 *
 * The math (as zlib does it): appending len2 bytes to A multiplies A's crc by x^(8·len2) modulo
 * the crc polynomial, in the bit-reflected representation; then B's crc is xor-ed in. x^(2^k)
 * mod p is tabulated for k = 0..31 and x^n is the product of the entries for n's set bits.
 */

/** The reflected crc-32 polynomial. */
const POLY = 0xedb88320;

/** a·b modulo the crc polynomial (reflected bit order: the top bit is x^0). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** X2N[k] = x^(2^k) mod p. */
const X2N: number[] = (() => {
  const t: number[] = [];
  let p = 0x40000000; // x^1
  for (let k = 0; k < 32; k++) {
    t.push(p);
    p = multModP(p, p);
  }
  return t;
})();

/** x^(n·2^k) mod p, for n up to 2^53. */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N[k & 31]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** crc32(A‖B) from crc1 = crc32(A), crc2 = crc32(B) and len2 = B's length in bytes. */
export function crc32Combine(crc1: number, crc2: number, len2: number): number {
  if (len2 === 0) return crc1 >>> 0;
  return (multModP(x2nModP(len2, 3), crc1 >>> 0) ^ (crc2 >>> 0)) >>> 0;
}
