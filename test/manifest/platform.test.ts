import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  OCI_INDEX,
  OCI_MANIFEST,
  chooseInstance,
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parseManifest,
  parsePlatform,
  platformMatchRank,
  platformMatches,
  type ParsedIndex,
  type Platform,
} from '../../lib/manifest/index.js';
import { fixture } from '../helpers/paths.js';

const P = (s: string): Platform => {
  const [os, architecture, variant] = s.split('/');
  return variant === undefined ? { os: os!, architecture: architecture! } : { os: os!, architecture: architecture!, variant };
};
const D = (c: string): string => `sha256:${c.repeat(64)}`;

function indexOf(platforms: Array<Platform | undefined>): ParsedIndex {
  const manifests = platforms.map((platform, i) => ({
    mediaType: OCI_MANIFEST,
    digest: D(i.toString(16)),
    size: 100 + i,
    ...(platform === undefined ? {} : { platform }),
  }));
  return parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }))) as ParsedIndex;
}

test('normalizePlatform: containerd aliases and default variants', () => {
  const table: Array<[string, string]> = [
    ['linux/x86_64', 'linux/amd64'],
    ['linux/x86-64', 'linux/amd64'],
    ['Linux/AMD64', 'linux/amd64'],
    ['linux/amd64/v1', 'linux/amd64'],
    ['linux/amd64/v3', 'linux/amd64/v3'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm64/8', 'linux/arm64'],
    ['linux/arm64/v8.0', 'linux/arm64'],
    ['linux/arm64/v9', 'linux/arm64/v9'],
    ['linux/arm64/8.2', 'linux/arm64/v8.2'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/7', 'linux/arm/v7'],
    ['linux/arm/6', 'linux/arm/v6'],
    ['linux/arm/v5', 'linux/arm/v5'],
    ['linux/i386', 'linux/386'],
    ['linux/i686', 'linux/386'],
    ['macos/arm64', 'darwin/arm64'],
    ['linux/s390x', 'linux/s390x'],
    ['windows/amd64', 'windows/amd64'],
  ];
  for (const [input, want] of table) assert.equal(formatPlatform(normalizePlatform(P(input))), want, input);
});

test('normalizePlatform: keeps os.version and os.features, never writes an empty variant', () => {
  const got = normalizePlatform({ os: 'windows', architecture: 'x86_64', 'os.version': '10.0.17763.5458', 'os.features': ['win32k'], variant: '' });
  assert.deepEqual(got, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.5458', 'os.features': ['win32k'] });
});

test('parsePlatform: os/arch[/variant], normalised', () => {
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(parsePlatform(' linux/aarch64 '), { os: 'linux', architecture: 'arm64' });
});

test('parsePlatform: garbage is E_USAGE', () => {
  for (const bad of ['', 'linux', 'linux/', '/amd64', 'linux/amd64/v8/extra', 'linux/amd 64', 'linux/amd64;rm', 'linux//v7']) {
    assert.throws(() => parsePlatform(bad), { code: 'E_USAGE', message: /expected os\/arch\[\/variant\]/ }, JSON.stringify(bad));
  }
});

test('platformMatches: the table', () => {
  const table: Array<[want: string, have: string, match: boolean]> = [
    ['linux/amd64', 'linux/amd64', true],
    ['linux/amd64', 'linux/x86_64', true],
    ['linux/amd64', 'linux/arm64', false],
    ['linux/amd64', 'windows/amd64', false],
    ['linux/amd64', 'linux/386', false], // no silent fallback to another architecture
    ['linux/amd64', 'linux/amd64/v3', false], // a baseline machine cannot run v3 code
    ['linux/amd64/v3', 'linux/amd64/v2', true],
    ['linux/amd64/v3', 'linux/amd64', true],
    ['linux/amd64/v2', 'linux/amd64/v3', false],
    ['linux/arm64', 'linux/arm64/v8', true],
    ['linux/arm64/v8', 'linux/arm64', true],
    ['linux/aarch64', 'linux/arm64/v8', true],
    ['linux/arm64', 'linux/arm/v7', false],
    ['linux/arm64', 'linux/arm64/v9', false],
    ['linux/arm64/v9', 'linux/arm64', true],
    ['linux/arm/v7', 'linux/arm/v7', true],
    ['linux/arm/v7', 'linux/arm', true],
    ['linux/arm/v7', 'linux/armhf', true],
    ['linux/arm/v7', 'linux/arm/v6', true],
    ['linux/arm/v7', 'linux/arm/v5', true],
    ['linux/arm/v6', 'linux/arm/v7', false],
    ['linux/arm/v6', 'linux/armel', true],
    ['linux/arm/v8', 'linux/arm/v7', true],
    ['linux/riscv64', 'linux/riscv64', true],
    ['linux/riscv64/rva22', 'linux/riscv64', true], // an image without variant is generic
    ['linux/riscv64', 'linux/riscv64/rva22', false],
  ];
  for (const [want, have, match] of table) assert.equal(platformMatches(P(want), P(have)), match, `${want} <- ${have}`);
});

test('platformMatchRank: the exact variant is best, then older ones, then none', () => {
  const want = P('linux/arm/v7');
  assert.equal(platformMatchRank(want, P('linux/arm/v7')), 0);
  assert.equal(platformMatchRank(want, P('linux/arm/v6')), 1);
  assert.equal(platformMatchRank(want, P('linux/arm/v5')), 2);
  assert.equal(platformMatchRank(want, P('linux/arm64')), -1);
  const amd = P('linux/amd64/v3');
  assert.deepEqual(
    ['linux/amd64/v3', 'linux/amd64/v2', 'linux/amd64'].map((h) => platformMatchRank(amd, P(h))),
    [0, 1, 2],
  );
});

test('hostPlatform: process names mapped to Go names', () => {
  const table: Array<[platform: string, arch: string, extra: Record<string, string>, want: string]> = [
    ['linux', 'x64', {}, 'linux/amd64'],
    ['linux', 'arm64', {}, 'linux/arm64'],
    ['linux', 'arm', { armVersion: '6' }, 'linux/arm/v6'],
    ['linux', 'arm', {}, 'linux/arm/v7'],
    ['darwin', 'arm64', {}, 'darwin/arm64'],
    ['win32', 'ia32', {}, 'windows/386'],
    ['linux', 'ppc64', { endianness: 'LE' }, 'linux/ppc64le'],
    ['aix', 'ppc64', { endianness: 'BE' }, 'aix/ppc64'],
    ['linux', 's390x', {}, 'linux/s390x'],
    ['linux', 'riscv64', {}, 'linux/riscv64'],
    ['linux', 'mipsel', {}, 'linux/mipsle'],
  ];
  for (const [platform, arch, extra, want] of table) {
    assert.equal(formatPlatform(hostPlatform({}, { platform, arch, ...extra })), want, `${platform}/${arch}`);
  }
});

test('hostPlatform: overrides win, and the variant is not detected for an overridden arch', () => {
  const armHost = { platform: 'linux', arch: 'arm', armVersion: '6' };
  assert.equal(formatPlatform(hostPlatform({ overrideArch: 'aarch64' }, armHost)), 'linux/arm64');
  // Overriding to arm itself: the host's v6 is not assumed; arm defaults to v7.
  assert.equal(formatPlatform(hostPlatform({ overrideArch: 'arm' }, armHost)), 'linux/arm/v7');
  assert.equal(formatPlatform(hostPlatform({ overrideVariant: 'v5' }, armHost)), 'linux/arm/v5');
  assert.equal(formatPlatform(hostPlatform({ overrideOS: 'windows' }, { platform: 'linux', arch: 'x64' })), 'windows/amd64');
  assert.equal(formatPlatform(hostPlatform({ overrideOS: 'linux', overrideArch: 'arm64', overrideVariant: 'v8' }, { platform: 'darwin', arch: 'x64' })), 'linux/arm64');
});

test('hostPlatform: the real host has a Go os and arch', () => {
  const got = hostPlatform();
  assert.match(got.os, /^[a-z0-9]+$/);
  assert.match(got.architecture, /^[a-z0-9]+$/);
  assert.notEqual(got.architecture, 'x64');
  assert.notEqual(got.os, 'win32');
});

test('chooseInstance: picks each platform of the golden index', () => {
  const idx = parseManifest(readFileSync(fixture('golden', 'oci-index.json'))) as ParsedIndex;
  const digests = idx.value.manifests.map((m) => m.digest);
  assert.equal(chooseInstance(idx, P('linux/amd64')).digest, digests[0]);
  assert.equal(chooseInstance(idx, P('linux/x86_64')).digest, digests[0]);
  assert.equal(chooseInstance(idx, P('linux/arm64')).digest, digests[1]);
  assert.equal(chooseInstance(idx, P('linux/arm64/v8')).digest, digests[1]);
  assert.equal(chooseInstance(idx, P('linux/arm/v7')).digest, digests[2]);
  assert.equal(chooseInstance(idx, P('linux/arm/v8')).digest, digests[2]);
});

test('chooseInstance: the exact variant wins over an earlier compatible one', () => {
  const idx = indexOf([P('linux/arm/v5'), P('linux/arm/v6'), P('linux/arm/v7')]);
  assert.equal(chooseInstance(idx, P('linux/arm/v7')).size, 102);
  assert.equal(chooseInstance(idx, P('linux/arm/v6')).size, 101);
  // A tie goes to the first entry in index order.
  const tie = indexOf([P('linux/amd64'), P('linux/x86_64')]);
  assert.equal(chooseInstance(tie, P('linux/amd64')).size, 100);
});

test('chooseInstance: no match is E_NOT_FOUND listing what the index has', () => {
  const idx = parseManifest(readFileSync(fixture('golden', 'oci-index.json'))) as ParsedIndex;
  assert.throws(() => chooseInstance(idx, P('linux/s390x')), {
    code: 'E_NOT_FOUND',
    message: 'no image in the index matches linux/s390x; it has: linux/amd64, linux/arm64, linux/arm/v7',
  });
  assert.throws(() => chooseInstance(idx, P('windows/amd64')), { code: 'E_NOT_FOUND', message: /^no image in the index matches windows\/amd64;/ });
});

test('chooseInstance: entries without a platform never match', () => {
  const idx = indexOf([undefined, P('linux/arm64')]);
  assert.throws(() => chooseInstance(idx, P('linux/amd64')), {
    code: 'E_NOT_FOUND',
    message: 'no image in the index matches linux/amd64; it has: (no platform), linux/arm64',
  });
  assert.throws(() => chooseInstance(indexOf([]), P('linux/amd64')), { code: 'E_NOT_FOUND', message: /it has no entries$/ });
});
