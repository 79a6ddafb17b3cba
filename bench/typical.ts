/**
 * The images a user meets most: the typical image, a Debian bookworm minbase root filesystem
 * (about 120 MB, 45-50 MB gzip: the size of the base images most containers start from), and a
 * tiny image of a few KB. Cached under bench/work/images/typical/.
 *
 * The typical image is made once with `debootstrap --variant=minbase bookworm` from the Debian
 * mirror apt is configured with (read from /etc/apt/sources.list*), cleaned as Debian's own images
 * are (no .deb cache, no package lists, empty /dev), tarred reproducibly into one layer (GNU tar:
 * sorted names, fixed mtime, owner and group 0) and gzipped at level 6 by ocikit's block gzip. Where
 * debootstrap cannot run (not root, no mirror, no network), the bench's small generated image
 * stands in, and every report says so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { WorkerPool, compressFile } from '../lib/pool/index.js';
import { makeLayer, writeImage } from '../support/images.js';
import { ensurePeers } from '../support/peers.js';
import { LAYER_GZIP, LAYER_TAR, Layout, sha256File, type ImageInfo } from './generate.js';

export interface TypicalImages {
  version: number;
  /** oci: layout, one gzip layer */
  typical: ImageInfo;
  /** the same image with its layer uncompressed (for --dest-compress) */
  typicalPlain: ImageInfo;
  /** a few KB in one layer */
  tiny: ImageInfo;
  /** how the typical image was made, for the reports */
  description: string;
  /** set when debootstrap could not be used and the small generated image stands in */
  fallback?: string;
}

/** Bump when the output changes, so cached images are made again. */
const VERSION = 1;
const SUITE = 'bookworm';

/** The Debian mirror apt uses for `suite` (deb822 or one-line sources), or undefined. */
export function aptMirror(suite = SUITE): string | undefined {
  const files = ['/etc/apt/sources.list', ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f)) : [])];
  for (const f of files.filter((x) => existsSync(x))) {
    const text = readFileSync(f, 'utf8');
    // deb822 stanzas: URIs: … / Suites: … (the suite itself, not -updates or -security)
    for (const stanza of text.split(/\n\s*\n/)) {
      const field = (k: string): string[] => (new RegExp(`^${k}:\\s*(.+)$`, 'mi').exec(stanza)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
      if (field('Types').includes('deb') && field('Suites').includes(suite) && field('Components').includes('main')) return field('URIs')[0];
    }
    // one-line form: deb [options] URI suite components…
    for (const line of text.split('\n')) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$/.exec(line);
      if (m && m[2] === suite && m[3]!.split(/\s+/).includes('main')) return m[1];
    }
  }
  return undefined;
}

function run(argv: string[], what: string, logFile?: string): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (logFile) writeFileSync(logFile, (r.stdout ?? '') + (r.stderr ?? ''));
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status})${logFile ? `; log: ${logFile}` : `: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`}`);
}

/** Unmount whatever debootstrap may have left mounted under `root` (deepest first), so removing it cannot reach outside. */
function unmountUnder(root: string): void {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === root || m.startsWith(root + '/'))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) run(['umount', '-l', m], `umount ${m}`);
}

/** debootstrap a minbase root filesystem into `rootfs` and clean it as Debian's images are. */
function debootstrap(rootfs: string, logFile: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('debootstrap needs root');
  ensurePeers(['debootstrap']);
  const mirror = aptMirror();
  if (!mirror) throw new Error(`no Debian mirror for ${SUITE} main in /etc/apt/sources.list*`);
  rmSync(rootfs, { recursive: true, force: true });
  try {
    run(['debootstrap', '--variant=minbase', SUITE, rootfs, mirror], `debootstrap --variant=minbase ${SUITE}`, logFile);
  } finally {
    unmountUnder(rootfs);
  }
  for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists', 'dev', 'proc', 'sys', 'tmp', 'run']) {
    const p = join(rootfs, d);
    if (!existsSync(p)) continue;
    for (const n of readdirSync(p)) if (n !== 'partial' && n !== 'lock') rmSync(join(p, n), { recursive: true, force: true });
  }
}

/**
 * Make (or reuse) the typical and tiny images under `workDir/images/typical`. `fallback` gives the
 * small generated image when debootstrap cannot be used.
 */
export async function typicalImages(workDir: string, pool: WorkerPool, log: (s: string) => void, fallback: () => Promise<{ big: ImageInfo; bigPlain: ImageInfo }>): Promise<TypicalImages> {
  const dir = join(workDir, 'images', 'typical');
  const stamp = join(dir, 'images.json');
  if (existsSync(stamp)) {
    const cached = JSON.parse(readFileSync(stamp, 'utf8')) as TypicalImages;
    if (cached.version === VERSION && [cached.typical, cached.typicalPlain, cached.tiny].every((i) => existsSync(join(i.path, 'index.json')))) {
      log(`typical image: reusing ${dir} (${cached.description}; delete the folder to make it again)`);
      return cached;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  // === tiny: one layer of three small files
  const tinyPath = join(dir, 'tiny-oci');
  const tinyLayer = makeLayer([
    { name: 'etc/motd', data: 'a tiny image for the bench\n' },
    { name: 'etc/hostname', data: 'tiny\n' },
    { name: 'usr/share/doc/tiny/README', data: 'x'.repeat(4096) },
  ]);
  writeImage(tinyPath, [tinyLayer], 'tiny');
  const tinyBytes = tinyLayer.gz.length;
  const tiny: ImageInfo = { name: 'tiny', ref: `oci:${tinyPath}:latest`, path: tinyPath, layers: 1, uncompressedBytes: gunzipSync(tinyLayer.gz).length, compressedBytes: tinyBytes };

  // === typical: debootstrap, or the small generated image
  let result: TypicalImages;
  const rootfs = join(dir, 'rootfs');
  try {
    const t0 = Date.now();
    log(`typical image: debootstrap --variant=minbase ${SUITE} (once; cached in ${dir})`);
    debootstrap(rootfs, join(dir, 'debootstrap.log'));
    const tar = join(dir, 'layer.tar');
    run(['tar', '--sort=name', '--mtime=@1704067200', '--owner=0', '--group=0', '--numeric-owner', '--format=gnu', '-C', rootfs, '-cf', tar, '.'], 'tar of the root filesystem');
    rmSync(rootfs, { recursive: true, force: true });
    const t = await sha256File(tar);
    const gz = join(dir, 'layer.tar.gz');
    await compressFile(pool, tar, gz, 'gzip', 6);
    const z = await sha256File(gz);
    const oci = new Layout(join(dir, 'typical-oci'));
    const plain = new Layout(join(dir, 'typical-plain-oci'));
    oci.finish([{ mediaType: LAYER_GZIP, ...oci.adoptFile(gz, z) }], [t.digest]);
    plain.finish([{ mediaType: LAYER_TAR, ...plain.adoptFile(tar, t) }], [t.digest]);
    const description = `Debian ${SUITE} minbase (debootstrap), ${(t.size / 1e6).toFixed(0)} MB / ${(z.size / 1e6).toFixed(0)} MB gzip, one layer`;
    result = {
      version: VERSION,
      typical: { name: 'typical', ref: `oci:${oci.root}:latest`, path: oci.root, layers: 1, uncompressedBytes: t.size, compressedBytes: z.size },
      typicalPlain: { name: 'typical-plain', ref: `oci:${plain.root}:latest`, path: plain.root, layers: 1, uncompressedBytes: t.size, compressedBytes: t.size },
      tiny,
      description,
    };
    log(`typical image: ${description}, made in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } catch (err) {
    unmountUnder(rootfs);
    rmSync(rootfs, { recursive: true, force: true });
    const why = (err as Error).message;
    const small = await fallback();
    const description = `FALLBACK: the bench's small generated image (${(small.big.uncompressedBytes / 1e6).toFixed(0)} MB / ${(small.big.compressedBytes / 1e6).toFixed(0)} MB gzip, ${small.big.layers} layers): debootstrap could not be used (${why})`;
    log(`typical image: ${description}`);
    // Not cached: the next run tries debootstrap again.
    return {
      version: VERSION,
      typical: { ...small.big, name: 'typical' },
      typicalPlain: { ...small.bigPlain, name: 'typical-plain' },
      tiny,
      description,
      fallback: why,
    };
  }
  writeFileSync(stamp, JSON.stringify(result, null, 2));
  return result;
}
