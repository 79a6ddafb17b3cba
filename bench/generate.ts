/**
 * The bench's image generator: realistic images made of real files found on this machine (node's
 * own install, /usr/lib, /usr/share), deterministic for a given machine (sorted walk, fixed
 * mtimes and owners, ocikit's reproducible block gzip), cached under bench/work/images/<size>/.
 *
 * - big-oci:       an OCI layout, layers tar+gzip (level 6), sizes from SIZES below
 * - big-plain-oci: the same image with uncompressed tar layers (the blobs are hard links)
 * - many-oci:      an OCI layout with many tiny gzip layers (the per-blob cost case)
 * - base-K-oci:    for the repack case, ten images sharing their first layers (made on demand)
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, openSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack } from 'tar-stream';
import { WorkerPool, compressFile } from '../lib/pool/index.js';

export type BenchSize = 'small' | 'full';

/** Uncompressed layer sizes in MB (decimal), largest first, and the many-layer image's layer count. */
export const SIZES: Record<BenchSize, { layersMB: number[]; manyLayers: number; filesPerSmallLayer: number }> = {
  full: { layersMB: [600, 400, 250, 150, 80, 20], manyLayers: 1000, filesPerSmallLayer: 3 },
  small: { layersMB: [60, 40, 25, 15, 8, 2], manyLayers: 250, filesPerSmallLayer: 3 },
};

const MTIME = new Date('2024-01-01T00:00:00Z');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';

export interface FileEntry {
  path: string;
  size: number;
  mode: number;
}

/** What the generator made, with the numbers the bench divides by. */
export interface ImageInfo {
  name: string;
  /** oci:PATH:latest */
  ref: string;
  path: string;
  layers: number;
  uncompressedBytes: number;
  compressedBytes: number;
}

/** Bump when the generator's output changes, so cached images are made again. */
export const GENERATOR_VERSION = 2;

export interface GeneratedImages {
  version?: number;
  big: ImageInfo;
  bigPlain: ImageInfo;
  many: ImageInfo;
  /** sha256 of the list of source files (path and size), to tell runs on different file sets apart */
  filesDigest: string;
}

/** The roots walked for files, node's own install first. */
export function sourceRoots(): string[] {
  const prefix = dirname(dirname(process.execPath));
  const roots = [join(prefix, 'lib', 'node_modules'), join(prefix, 'include', 'node'), '/usr/lib', '/usr/share'];
  return [...new Set(roots)].filter((r) => existsSync(r));
}

/** Every regular, readable file under `roots`, in sorted order, each once. */
export function walkFiles(roots: string[], limitBytes: number, maxFileBytes = 64 << 20): FileEntry[] {
  const out: FileEntry[] = [];
  const seen = new Set<string>();
  let total = 0;
  const visit = (dir: string): boolean => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return true;
    }
    for (const n of names) {
      const p = join(dir, n);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (!visit(p)) return false;
      } else if (st.isFile() && !seen.has(p)) {
        // Skip huge files (one file should not be a whole layer) and unreadable ones.
        if (st.size > maxFileBytes) continue;
        try {
          closeSync(openSync(p, 'r'));
        } catch {
          continue;
        }
        seen.add(p);
        out.push({ path: p, size: st.size, mode: st.mode & 0o777 });
        total += st.size;
        if (total >= limitBytes) return false;
      }
    }
    return true;
  };
  for (const r of roots) if (!visit(r)) break;
  return out;
}

/** Write a tar of `files` (paths made relative to /) with fixed metadata to `dest`. */
export async function writeTar(files: FileEntry[], dest: string): Promise<void> {
  const p = tarPack();
  const done = pipeline(p, createWriteStream(dest));
  for (const f of files) {
    const name = relative('/', f.path);
    await new Promise<void>((resolve, reject) => {
      const entry = p.entry({ name, size: f.size, mode: f.mode, mtime: MTIME, uid: 0, gid: 0, uname: 'root', gname: 'root', type: 'file' }, (err) => (err ? reject(err) : resolve()));
      createReadStream(f.path).on('error', reject).pipe(entry);
    });
  }
  p.finalize();
  await done;
}

export async function sha256File(path: string): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { digest: 'sha256:' + h.digest('hex'), size };
}

/** An OCI layout under construction (also bench/typical.ts). */
export class Layout {
  constructor(readonly root: string) {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(join(root, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  }
  blobPath(digest: string): string {
    return join(this.root, 'blobs', 'sha256', digest.slice(7));
  }
  /** Move (or hard-link, with `link`) a file into blobs/. */
  adoptFile(path: string, d: { digest: string; size: number }, link = false): { digest: string; size: number } {
    const to = this.blobPath(d.digest);
    if (!existsSync(to)) {
      if (link) linkSync(path, to);
      else renameSync(path, to);
    }
    return d;
  }
  bytes(data: Buffer | string): { digest: string; size: number } {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
    const digest = 'sha256:' + createHash('sha256').update(buf).digest('hex');
    writeFileSync(this.blobPath(digest), buf);
    return { digest, size: buf.length };
  }
  /** Write config, manifest and index.json (ref "latest"). */
  finish(layers: Array<{ digest: string; size: number; mediaType: string }>, diffIds: string[]): void {
    const config = {
      created: '2024-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `ocikit bench layer ${i + 1}` })),
    };
    const cfg = this.bytes(JSON.stringify(config));
    const m = this.bytes(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, ...cfg }, layers }));
    writeFileSync(
      join(this.root, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: OCI_MANIFEST, ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
      }),
    );
  }
}

/** Split `files` (in order) into consecutive groups of about `budgets[i]` bytes each. */
function splitBySize(files: FileEntry[], budgets: number[]): FileEntry[][] {
  const groups: FileEntry[][] = budgets.map(() => []);
  let g = 0;
  let filled = 0;
  for (const f of files) {
    if (g >= budgets.length) break;
    groups[g]!.push(f);
    filled += f.size;
    if (filled >= budgets[g]!) {
      g++;
      filled = 0;
    }
  }
  return groups;
}

function info(name: string, path: string, layers: number, u: number, c: number): ImageInfo {
  return { name, ref: `oci:${path}:latest`, path, layers, uncompressedBytes: u, compressedBytes: c };
}

/**
 * Make (or reuse from the cache) the bench images for `size` under `workDir`. `log` gets one line
 * per step. The pool compresses (ocikit's block gzip at level 6: reproducible bytes).
 */
export async function generateImages(workDir: string, size: BenchSize, pool: WorkerPool, log: (s: string) => void): Promise<GeneratedImages> {
  const dir = join(workDir, 'images', size);
  const stamp = join(dir, 'images.json');
  if (existsSync(stamp)) {
    const cached = JSON.parse(readFileSync(stamp, 'utf8')) as GeneratedImages;
    if (cached.version === GENERATOR_VERSION && [cached.big, cached.bigPlain, cached.many].every((i) => existsSync(join(i.path, 'index.json')))) {
      log(`images: reusing ${dir} (delete it to regenerate)`);
      return cached;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const spec = SIZES[size];
  const budgets = spec.layersMB.map((mb) => mb * 1e6);
  const total = budgets.reduce((a, b) => a + b, 0);
  const t0 = Date.now();
  // No file larger than the smallest layer's budget but one: layers then come out near their sizes.
  // Walk a margin past the total: layers overshoot their budgets by up to one file each.
  const files = walkFiles(sourceRoots(), total * 1.3, Math.min(64e6, budgets.at(-2)!));
  const filesDigest =
    'sha256:' +
    createHash('sha256')
      .update(files.map((f) => `${f.path}\0${f.size}\n`).join(''))
      .digest('hex');
  log(`images: ${files.length} files from ${sourceRoots().join(', ')} (${(files.reduce((a, f) => a + f.size, 0) / 1e6).toFixed(0)} MB)`);

  // === big-oci and big-plain-oci
  const big = new Layout(join(dir, 'big-oci'));
  const plain = new Layout(join(dir, 'big-plain-oci'));
  const groups = splitBySize(files, budgets);
  const gzLayers: Array<{ digest: string; size: number; mediaType: string }> = [];
  const tarLayers: Array<{ digest: string; size: number; mediaType: string }> = [];
  const diffIds: string[] = [];
  for (const [i, g] of groups.entries()) {
    const tar = join(dir, `layer-${i}.tar`);
    await writeTar(g, tar);
    const t = await sha256File(tar);
    diffIds.push(t.digest);
    const gz = join(dir, `layer-${i}.tar.gz`);
    rmSync(gz, { force: true });
    await compressFile(pool, tar, gz, 'gzip', 6);
    const z = await sha256File(gz);
    gzLayers.push({ mediaType: LAYER_GZIP, ...big.adoptFile(gz, z) });
    tarLayers.push({ mediaType: LAYER_TAR, ...plain.adoptFile(tar, t) });
    log(`images: layer ${i + 1}/${groups.length}: ${g.length} files, ${(t.size / 1e6).toFixed(0)} MB -> ${(z.size / 1e6).toFixed(0)} MB gzip`);
  }
  big.finish(gzLayers, diffIds);
  plain.finish(tarLayers, diffIds);
  const u = tarLayers.reduce((a, l) => a + l.size, 0);
  const c = gzLayers.reduce((a, l) => a + l.size, 0);

  // === many-oci: tiny layers of small files (taken from the end of the walk, in order)
  const many = new Layout(join(dir, 'many-oci'));
  const small = files.filter((f) => f.size > 0 && f.size < 16 << 10);
  const manyLayers: Array<{ digest: string; size: number; mediaType: string }> = [];
  const manyDiffIds: string[] = [];
  let mu = 0;
  for (let i = 0; i < spec.manyLayers; i++) {
    const g = Array.from({ length: spec.filesPerSmallLayer }, (_, k) => small[(i * spec.filesPerSmallLayer + k) % small.length]!);
    const tar = join(dir, 'small.tar');
    await writeTar(g, tar);
    const t = await sha256File(tar);
    const gz = join(dir, 'small.tar.gz');
    rmSync(gz, { force: true });
    await compressFile(pool, tar, gz, 'gzip', 6);
    const z = await sha256File(gz);
    manyLayers.push({ mediaType: LAYER_GZIP, ...many.adoptFile(gz, z) });
    manyDiffIds.push(t.digest);
    mu += t.size;
    rmSync(tar, { force: true });
    rmSync(gz, { force: true });
  }
  many.finish(manyLayers, manyDiffIds);
  const mc = manyLayers.reduce((a, l) => a + l.size, 0);

  const result: GeneratedImages = {
    version: GENERATOR_VERSION,
    big: info('big', big.root, gzLayers.length, u, c),
    bigPlain: info('big-plain', plain.root, tarLayers.length, u, u),
    many: info('many', many.root, manyLayers.length, mu, mc),
    filesDigest,
  };
  writeFileSync(stamp, JSON.stringify(result, null, 2));
  log(`images: done in ${((Date.now() - t0) / 1000).toFixed(0)} s: big ${(u / 1e6).toFixed(0)} MB / ${(c / 1e6).toFixed(0)} MB gzip in ${gzLayers.length} layers; many: ${manyLayers.length} layers`);
  return result;
}

/**
 * For the repack case: `count` images sharing a base (every layer of the big image: the image the
 * issue's target names), each with one small layer of its own, as OCI layouts; the bench turns them
 * into docker-archives with skopeo (and removes them afterwards: ten are ~16 GB in the full run).
 * With `baseLess` > 0, the base leaves out that many of the largest layers (a smaller, faster case).
 */
export async function generateRepackImages(workDir: string, size: BenchSize, big: ImageInfo, count: number, pool: WorkerPool, baseLess = 0): Promise<string[]> {
  const dir = join(workDir, 'images', size, 'repack');
  const stamp = join(dir, 'done');
  const paths = Array.from({ length: count }, (_, i) => join(dir, `app-${i}-oci`));
  if (existsSync(stamp)) return paths;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const idx = JSON.parse(readFileSync(join(big.path, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const m = JSON.parse(readFileSync(join(big.path, 'blobs', 'sha256', idx.manifests[0]!.digest.slice(7)), 'utf8')) as {
    config: { digest: string };
    layers: Array<{ digest: string; size: number; mediaType: string }>;
  };
  const cfg = JSON.parse(readFileSync(join(big.path, 'blobs', 'sha256', m.config.digest.slice(7)), 'utf8')) as { rootfs: { diff_ids: string[] } };
  const extra = walkFiles(['/usr/share/doc'], 4e6).filter((f) => f.size < 64 << 10);
  const largest = new Set(
    [...m.layers]
      .sort((a, b) => b.size - a.size)
      .slice(0, baseLess)
      .map((d) => d.digest),
  );
  const baseIdx = m.layers.map((d, i) => (largest.has(d.digest) || d.size < 1024 ? -1 : i)).filter((i) => i >= 0);
  for (const [i, p] of paths.entries()) {
    const l = new Layout(p);
    const layers = baseIdx.map((k) => m.layers[k]!).map((d) => ({ ...d, ...l.adoptFile(join(big.path, 'blobs', 'sha256', d.digest.slice(7)), { digest: d.digest, size: d.size }, true) }));
    const diffIds = baseIdx.map((k) => cfg.rootfs.diff_ids[k]!);
    const tar = join(dir, 'own.tar');
    await writeTar(extra.slice(i * 5, i * 5 + 5), tar);
    const t = await sha256File(tar);
    const gz = join(dir, 'own.tar.gz');
    rmSync(gz, { force: true });
    await compressFile(pool, tar, gz, 'gzip', 6);
    const z = await sha256File(gz);
    layers.push({ mediaType: LAYER_GZIP, ...l.adoptFile(gz, z) });
    diffIds.push(t.digest);
    rmSync(tar, { force: true });
    l.finish(layers, diffIds);
  }
  writeFileSync(stamp, '');
  return paths;
}
