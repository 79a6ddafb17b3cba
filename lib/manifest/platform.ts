/**
 * Platforms: normalisation (containerd's aliases), parsing `os/arch[/variant]`, the host platform
 * in Go's names, and choosing the best instance of an index for a wanted platform.
 *
 * Matching is strict on os and architecture (no amd64 -> 386 or arm64 -> arm fallback: a copy tool
 * must not silently pick another architecture) and ordered on variant: an exact variant is
 * preferred, then older compatible ones (arm/v7 runs v6 and v5 images; amd64/v3 runs v2 and v1),
 * then an image that declares no variant at all.
 */
import { endianness } from 'node:os';
import { OcikitError, quoteUntrusted } from '../errors.js';
import type { Descriptor, ParsedIndex, Platform } from './types.js';

// "v8", "8", "v8.2", "9.0": a numeric variant, with or without the v, with an optional minor.
const NUMERIC_VARIANT = /^v?(\d+)(?:\.(\d+))?$/;

function normalizeArch(arch: string, variant: string): [string, string] {
  const a = arch.toLowerCase();
  const v = variant.toLowerCase();
  const num = NUMERIC_VARIANT.exec(v);
  switch (a) {
    case 'i386':
    case 'i686':
    case '386':
      return ['386', ''];
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      // v1 is the baseline every amd64 machine runs: the same as no variant.
      return ['amd64', v === 'v1' || v === '1' ? '' : num ? `v${num[1]}` : v];
    case 'aarch64':
    case 'arm64': {
      if (!num) return ['arm64', v];
      const [major, minor] = [Number(num[1]), num[2] === undefined ? 0 : Number(num[2])];
      // v8 (= v8.0) is the baseline, written without a variant, as containerd does.
      if (major === 8 && minor === 0) return ['arm64', ''];
      return ['arm64', minor === 0 ? `v${major}` : `v${major}.${minor}`];
    }
    case 'armhf':
      return ['arm', 'v7'];
    case 'armel':
      return ['arm', 'v6'];
    case 'arm':
      // 32-bit arm without a variant means v7, the common case (containerd's default).
      if (v === '') return ['arm', 'v7'];
      return ['arm', num && num[2] === undefined ? `v${num[1]}` : v];
    default:
      return [a, v];
  }
}

/**
 * The canonical form of a platform, with containerd's aliases: x86_64/x86-64 -> amd64,
 * aarch64 -> arm64, armhf -> arm/v7, armel -> arm/v6, i386/i686 -> 386, macos -> darwin; lower case;
 * arm without variant -> v7; arm64 variant v8 -> no variant (v8 IS the arm64 baseline); amd64 v1 ->
 * no variant. os.version and os.features are kept as they are.
 */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  const [architecture, variant] = normalizeArch(p.architecture, p.variant ?? '');
  const out: Platform = { architecture, os: os === 'macos' ? 'darwin' : os };
  if (p['os.version'] !== undefined && p['os.version'] !== '') out['os.version'] = p['os.version'];
  if (p['os.features'] !== undefined && p['os.features'].length > 0) out['os.features'] = [...p['os.features']];
  if (variant !== '') out.variant = variant;
  return out;
}

/** `os/arch` or `os/arch/variant`, as in messages and on the command line. */
export function formatPlatform(p: Platform): string {
  return [p.os || 'unknown', p.architecture || 'unknown', p.variant].filter((s) => s !== undefined && s !== '').join('/');
}

const COMPONENT = /^[A-Za-z0-9_.-]+$/;

/**
 * Parse `os/arch[/variant]` (`linux/amd64`, `linux/arm64/v8`) into a normalised platform.
 * Throws E_USAGE for anything else.
 */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((x) => COMPONENT.test(x))) {
    throw new OcikitError('E_USAGE', `invalid platform ${quoteUntrusted(s, 100)}: expected os/arch[/variant], like linux/arm64/v8`);
  }
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, variant: parts[2] });
}

/** The variants an image may have to run on `want` (normalised), best first; '' is "no variant declared". */
function acceptableVariants(want: Platform): string[] {
  const variant = want.variant ?? '';
  const num = NUMERIC_VARIANT.exec(variant);
  if (want.architecture === 'arm' && num && num[2] === undefined) {
    // arm/vN runs arm/vN..v5, as containerd's platform vector; '' never occurs (normalised to v7).
    const out: string[] = [];
    for (let n = Number(num[1]); n >= 5; n--) out.push(`v${n}`);
    return out.length > 0 ? out : [variant];
  }
  if (want.architecture === 'amd64' && num && num[2] === undefined) {
    const out: string[] = [];
    for (let n = Number(num[1]); n >= 2; n--) out.push(`v${n}`);
    out.push('');
    return out;
  }
  // Any other arch: the exact variant, then an image that declares none (assumed generic, as
  // containers/image does). No variant wanted: only images without one (the baseline).
  return variant === '' ? [''] : [variant, ''];
}

/**
 * How well an image of platform `have` fits a machine of platform `want`: 0 is the best (exact
 * variant), higher is a worse but still runnable match, -1 is no match. Both are normalised first.
 * os and architecture MUST be equal; see the module comment for the variant order.
 */
export function platformMatchRank(want: Platform, have: Platform): number {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return -1;
  return acceptableVariants(w).indexOf(h.variant ?? '');
}

/** True when an image of platform `have` runs on `want` (after normalisation); see platformMatchRank. */
export function platformMatches(want: Platform, have: Platform): boolean {
  return platformMatchRank(want, have) >= 0;
}

/** What the user forced with --override-os / --override-arch / --override-variant. */
export interface PlatformOverrides {
  overrideOS?: string;
  overrideArch?: string;
  overrideVariant?: string;
}

/** The host facts hostPlatform reads; injectable so tests can pretend to be another machine. */
export interface HostFacts {
  /** A `process.platform` value. */
  platform: string;
  /** A `process.arch` value. */
  arch: string;
  /** Node's `process.config.variables.arm_version` on 32-bit arm ("6", "7"). */
  armVersion?: string;
  /** `os.endianness()`, to tell ppc64 from ppc64le. */
  endianness?: 'BE' | 'LE';
}

const GO_OS: Record<string, string> = {
  linux: 'linux',
  darwin: 'darwin',
  win32: 'windows',
  freebsd: 'freebsd',
  openbsd: 'openbsd',
  netbsd: 'netbsd',
  sunos: 'solaris',
  aix: 'aix',
  android: 'android',
};

function goArch(arch: string, endian: 'BE' | 'LE'): string {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'mipsel':
      return 'mipsle';
    case 'ppc64':
      return endian === 'LE' ? 'ppc64le' : 'ppc64';
    default:
      // arm, arm64, s390x, riscv64, loong64, mips, ppc, s390 have the same names in Go.
      return arch;
  }
}

function currentHost(): HostFacts {
  const vars = (process.config as { variables?: Record<string, unknown> }).variables ?? {};
  const armVersion = vars.arm_version;
  return {
    platform: process.platform,
    arch: process.arch,
    armVersion: typeof armVersion === 'string' || typeof armVersion === 'number' ? String(armVersion) : undefined,
    endianness: endianness(),
  };
}

/**
 * The platform to pull for this machine, in Go's names (linux/amd64, linux/arm64, linux/arm/v7),
 * normalised, with the user's overrides applied. As containers/image does, the arm variant is
 * detected ONLY when the architecture is not overridden (a detected variant would be wrong for
 * another arch, and could not be overridden back to none).
 */
export function hostPlatform(overrides: PlatformOverrides = {}, host: HostFacts = currentHost()): Platform {
  const os = overrides.overrideOS || GO_OS[host.platform] || host.platform;
  let architecture: string;
  let variant = '';
  if (overrides.overrideArch) {
    architecture = overrides.overrideArch;
  } else {
    architecture = goArch(host.arch, host.endianness ?? 'LE');
    if (architecture === 'arm' && host.armVersion) variant = `v${host.armVersion}`;
  }
  if (overrides.overrideVariant) variant = overrides.overrideVariant;
  return normalizePlatform({ os, architecture, variant });
}

/**
 * The entry of `index` that best fits `want` (lowest platformMatchRank; the first in index order on
 * a tie). Entries WITHOUT a platform never match. Throws E_NOT_FOUND listing what the index has:
 * "no image in the index matches linux/amd64; it has: linux/arm64, linux/arm/v7".
 */
export function chooseInstance(index: ParsedIndex, want: Platform): Descriptor {
  let best: Descriptor | undefined;
  let bestRank = Infinity;
  for (const entry of index.value.manifests) {
    if (entry.platform === undefined) continue;
    const rank = platformMatchRank(want, entry.platform);
    if (rank >= 0 && rank < bestRank) {
      best = entry;
      bestRank = rank;
    }
  }
  if (best !== undefined) return best;
  const have: string[] = [];
  for (const entry of index.value.manifests) {
    const name = entry.platform === undefined ? '(no platform)' : formatPlatform(normalizePlatform(entry.platform));
    if (!have.includes(name)) have.push(name);
  }
  const wanted = formatPlatform(normalizePlatform(want));
  throw new OcikitError('E_NOT_FOUND', `no image in the index matches ${wanted}; ${have.length === 0 ? 'it has no entries' : `it has: ${have.join(', ')}`}`, {
    hint: 'choose another platform with --override-os, --override-arch and --override-variant, or copy --all',
  });
}
