/** planLayer: what happens to each layer, as one table (skopeo's rules, and the one place ocikit does more). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planLayer, type LayerPlan, type LayerPlanInput } from '../../lib/copy/index.js';
import { effectiveDesire, plainLayerPlan } from '../../lib/copy/plan.js';
import type { DesiredCompression } from '../../lib/transports/types.js';
import { isOcikitError } from '../../lib/errors.js';

const keep: LayerPlan = { action: 'keep' };
const decompress: LayerPlan = { action: 'decompress' };
const gzip = (level = 4): LayerPlan => ({ action: 'compress', format: 'gzip', level });
const zstd = (level = 3): LayerPlan => ({ action: 'compress', format: 'zstd', level });

// [from, family, desired, --dest-compress-format, --dest-compress-level] -> plan
const TABLE: Array<[LayerPlanInput['from'], LayerPlanInput['family'], LayerPlanInput['desired'], LayerPlanInput['format'], number | undefined, LayerPlan]> = [
  // a destination that keeps layers as they come (dir: without flags)
  ['gzip', 'oci', 'preserve', undefined, undefined, keep],
  ['none', 'oci', 'preserve', undefined, undefined, keep],
  ['zstd', 'oci', 'preserve', undefined, undefined, keep],
  ['none', 'oci', 'preserve', 'gzip', undefined, keep],
  ['gzip', 'oci', 'preserve', 'zstd', undefined, zstd()], // beyond skopeo: the flag is honoured
  ['gzip', 'oci', 'preserve', 'zstd', 9, zstd(9)],
  ['zstd', 'docker', 'preserve', undefined, undefined, gzip()], // v2s2 has no zstd
  // a destination that compresses (oci:, oci-archive:, docker://, dir: --dest-compress)
  ['none', 'oci', 'compress', undefined, undefined, gzip()],
  ['none', 'oci', 'compress', 'zstd', undefined, zstd()],
  ['none', 'oci', 'compress', 'gzip', 9, gzip(9)],
  ['none', 'docker', 'compress', undefined, 1, gzip(1)],
  ['gzip', 'oci', 'compress', undefined, undefined, keep],
  ['gzip', 'oci', 'compress', 'gzip', 9, keep], // a level alone recompresses nothing (as skopeo)
  ['gzip', 'oci', 'compress', 'zstd', undefined, zstd()],
  ['zstd', 'oci', 'compress', 'gzip', undefined, gzip()],
  ['zstd', 'oci', 'compress', undefined, undefined, keep],
  ['zstd', 'docker', 'compress', undefined, undefined, gzip()],
  ['zstd', 'docker', 'compress', undefined, 6, gzip(6)],
  // a destination that wants plain tars (docker-archive:, --dest-decompress)
  ['gzip', 'docker', 'decompress', undefined, undefined, decompress],
  ['zstd', 'docker', 'decompress', undefined, undefined, decompress],
  ['none', 'docker', 'decompress', undefined, undefined, keep],
  ['zstd', 'oci', 'decompress', 'gzip', undefined, decompress],
];

const chunked = (level = 3): LayerPlan => ({ action: 'compress', format: 'zstd:chunked', level });

// zstd:chunked: [from, already chunked?, desired, --dest-compress-format] -> plan (OCI family)
const CHUNKED: Array<[LayerPlanInput['from'], boolean, LayerPlanInput['desired'], LayerPlanInput['format'], LayerPlan]> = [
  ['none', false, 'compress', 'zstd:chunked', chunked()],
  ['gzip', false, 'compress', 'zstd:chunked', chunked()],
  ['zstd', false, 'compress', 'zstd:chunked', chunked()], // plain zstd gets its table of contents
  ['zstd', true, 'compress', 'zstd:chunked', keep],
  ['zstd', true, 'compress', 'zstd', keep], // zstd:chunked is zstd
  ['zstd', true, 'compress', 'gzip', gzip()],
  ['zstd', true, 'preserve', 'zstd:chunked', keep],
  ['gzip', false, 'preserve', 'zstd:chunked', chunked()],
  ['zstd', true, 'decompress', undefined, decompress],
];

describe('planLayer: zstd:chunked', () => {
  for (const [from, isChunked, desired, format, want] of CHUNKED) {
    it(`${from}${isChunked ? ' (chunked)' : ''} -> ${desired}${format ? ` --dest-compress-format ${format}` : ''}: ${want.action}${'format' in want ? ` ${want.format}` : ''}`, () => {
      assert.deepEqual(planLayer({ from, chunked: isChunked, family: 'oci', desired, ...(format ? { format } : {}) }), want);
    });
  }
  it('a Docker v2s2 manifest cannot describe zstd:chunked either', () => {
    assert.throws(
      () => planLayer({ from: 'none', family: 'docker', desired: 'compress', format: 'zstd:chunked' }),
      (err: unknown) => isOcikitError(err, 'E_UNSUPPORTED'),
    );
  });
});

describe('planLayer', () => {
  for (const [from, family, desired, format, level, want] of TABLE) {
    it(`${from} -> ${family} ${desired}${format ? ` --dest-compress-format ${format}` : ''}${level !== undefined ? ` --dest-compress-level ${level}` : ''}: ${want.action}${'format' in want ? ` ${want.format} ${want.level}` : ''}`, () => {
      const input: LayerPlanInput = { from, family, desired };
      if (format) input.format = format;
      if (level !== undefined) input.level = level;
      assert.deepEqual(planLayer(input), want);
    });
  }

  it('zstd into a Docker v2s2 manifest is refused unless the layers end up plain', () => {
    for (const desired of ['preserve', 'compress'] as const) {
      assert.throws(
        () => planLayer({ from: 'gzip', family: 'docker', desired, format: 'zstd' }),
        (err: unknown) => isOcikitError(err, 'E_UNSUPPORTED') && /v2s2/.test((err as Error).message),
      );
    }
    assert.deepEqual(planLayer({ from: 'gzip', family: 'docker', desired: 'decompress', format: 'zstd' }), decompress);
  });
});

describe('what a source is told before it opens (effectiveDesire, plainLayerPlan)', () => {
  const DESIRE: Array<[wish: DesiredCompression, flags: Parameters<typeof effectiveDesire>[1], want: DesiredCompression]> = [
    ['compress', {}, 'compress'],
    ['compress', { preserveDigests: true }, 'preserve'], // oci: keeps layers as they come, as skopeo
    ['compress', { preserveDigests: true, destCompression: 'compress' }, 'compress'],
    ['compress', { preserveDigests: true, compressFormat: 'zstd' }, 'compress'],
    ['preserve', { preserveDigests: true }, 'preserve'],
    ['decompress', { preserveDigests: true }, 'decompress'],
  ];
  for (const [wish, flags, want] of DESIRE) {
    it(`${wish} with ${JSON.stringify(flags)}: ${want}`, () => assert.equal(effectiveDesire(wish, flags), want));
  }
  it('a plain layer is compressed exactly as planLayer would plan it for an OCI manifest', () => {
    assert.deepEqual(plainLayerPlan('compress', {}), gzip());
    assert.deepEqual(plainLayerPlan('compress', { format: 'zstd', level: 7 }), { action: 'compress', format: 'zstd', level: 7 });
    assert.deepEqual(plainLayerPlan('preserve', {}), keep);
    assert.deepEqual(plainLayerPlan('decompress', { format: 'gzip' }), keep);
  });
});
