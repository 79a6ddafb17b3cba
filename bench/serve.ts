/**
 * The serve cases of the bench (issue 13): `ocikit serve` and Debian's docker-registry serving the
 * same image on loopback, measured side by side by one client in this process (undici):
 *
 * - pull: every blob of the image fetched (3 at a time, as docker pulls) and discarded; MB/s of
 *   compressed bytes sent, median of the runs;
 * - manifests: GET of the manifest by tag, 16 requests in flight, for a fixed count; requests/s;
 * - 16 clients: sixteen clients at once, each pulling the manifest and every blob (3 at a time, on
 *   its own connections), as a team starting the same job; total MB/s and the number of failed
 *   requests (the target is none).
 *
 * ocikit serve runs with -q and docker-registry with its access log off: neither writes a line
 * per request.
 * Runs alternate between the servers (ocikit, registry, ocikit, …) so that a change in the
 * machine's load hits both. The client shares the machine's cores with the server it measures, as
 * it does with the other. Nothing here asserts speed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { startRegistry } from '../support/registry.js';

export interface ServeBenchResult {
  image: string;
  compressedBytes: number;
  /** pull MB/s (compressed bytes) per run, and the median */
  pull: { ocikit: number[]; registry: number[]; ocikitMedian: number; registryMedian: number };
  /** manifest GETs per second per run, and the median */
  manifests: { requests: number; ocikit: number[]; registry: number[]; ocikitMedian: number; registryMedian: number };
  /** 16 clients pulling the image at once: total MB/s per run, the median, and failed requests over all runs */
  clients16: { ocikit: number[]; registry: number[]; ocikitMedian: number; registryMedian: number; errors: { ocikit: number; registry: number } };
  /** peak RSS of each server process at the end (MiB) */
  rssMiB: { ocikit: number; registry: number };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** VmHWM of a process, in MiB. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Fetch every blob `n` at a time, discarding the bytes; returns MB/s. */
async function pullOnce(pool: Pool, repo: string, blobs: Array<{ digest: string; size: number }>, n: number): Promise<number> {
  const queue = [...blobs].sort((a, b) => b.size - a.size);
  let bytes = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let b = queue.shift(); b; b = queue.shift()) {
        const res = await pool.request({ method: 'GET', path: `/v2/${repo}/blobs/${b.digest}` });
        if (res.statusCode !== 200) throw new Error(`GET blob ${b.digest}: ${res.statusCode}`);
        for await (const c of res.body) bytes += (c as Buffer).length;
      }
    }),
  );
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  return bytes / 1e6 / s;
}

/**
 * `clients` clients at once, each with its own connections, each GETting the manifest and then
 * every blob 3 at a time; returns total MB/s and the number of requests that failed.
 */
async function clientsOnce(url: string, repo: string, blobs: Array<{ digest: string; size: number }>, clients: number): Promise<{ mbps: number; errors: number }> {
  let bytes = 0;
  let errors = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const pool = new Pool(url, { connections: 3, pipelining: 1 });
      try {
        const m = await pool.request({ method: 'GET', path: `/v2/${repo}/manifests/latest`, headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
        if (m.statusCode !== 200) errors++;
        await m.body.arrayBuffer();
        const queue = [...blobs];
        await Promise.all(
          Array.from({ length: 3 }, async () => {
            for (let b = queue.shift(); b; b = queue.shift()) {
              try {
                const res = await pool.request({ method: 'GET', path: `/v2/${repo}/blobs/${b.digest}` });
                let got = 0;
                for await (const c of res.body) got += (c as Buffer).length;
                bytes += got;
                if (res.statusCode !== 200 || got !== b.size) errors++;
              } catch {
                errors++;
              }
            }
          }),
        );
      } catch {
        errors++;
      } finally {
        await pool.close();
      }
    }),
  );
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  return { mbps: bytes / 1e6 / s, errors };
}

/** `count` manifest GETs, `inFlight` at once; returns requests/s. */
async function manifestsOnce(pool: Pool, repo: string, count: number, inFlight: number): Promise<number> {
  let left = count;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (left-- > 0) {
        const res = await pool.request({ method: 'GET', path: `/v2/${repo}/manifests/latest`, headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
        if (res.statusCode !== 200) throw new Error(`GET manifest: ${res.statusCode}`);
        await res.body.arrayBuffer();
      }
    }),
  );
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  return count / s;
}

/**
 * Serve `image` (an oci: layout) from a fresh ocikit store and from a docker-registry, and measure
 * both. `ocikit` gives the command line that runs ocikit with some arguments (bench/cli.ts).
 */
export async function serveBench(
  image: { name: string; ref: string; path: string; compressedBytes: number },
  ocikit: (args: string[]) => string[],
  workDir: string,
  log: (s: string) => void,
  runs = 3,
): Promise<ServeBenchResult> {
  const base = join(workDir, 'runs', 'serve');
  rmSync(base, { recursive: true, force: true });
  const store = join(base, 'store');
  const [seedCmd, ...seedArgs] = ocikit(['--insecure-policy', '--store', store, 'copy', '-q', image.ref, 'store:bench/big:latest']);
  const seed = spawnSync(seedCmd!, seedArgs, { encoding: 'utf8' });
  if (seed.status !== 0) throw new Error(`seeding the ocikit store: ${seed.stderr}`);
  const registry = await startRegistry();
  const push = spawnSync('skopeo', ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', image.ref, `docker://${registry.host}/bench/big:latest`], { encoding: 'utf8' });
  if (push.status !== 0) throw new Error(`seeding docker-registry: ${push.stderr}`);
  let server: ChildProcess | undefined;
  const pools: Pool[] = [];
  try {
    const [serveCmd, ...serveArgs] = ocikit(['-q', '--store', store, 'serve', '--listen', '127.0.0.1:0', '--read-only']);
    server = spawn(serveCmd!, serveArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server!.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      server!.once('exit', (code) => reject(new Error(`ocikit serve exited (${code})`)));
    });
    const ocikitPool = new Pool(url, { connections: 16, pipelining: 1 });
    const registryPool = new Pool(registry.url, { connections: 16, pipelining: 1 });
    pools.push(ocikitPool, registryPool);
    const index = JSON.parse(readFileSync(join(image.path, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const manifest = JSON.parse(readFileSync(join(image.path, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as {
      config: { digest: string; size: number };
      layers: Array<{ digest: string; size: number }>;
    };
    const blobs = [manifest.config, ...manifest.layers];
    const compressedBytes = blobs.reduce((n, b) => n + b.size, 0);
    const requests = 3000;
    const result: ServeBenchResult = {
      image: image.name,
      compressedBytes,
      pull: { ocikit: [], registry: [], ocikitMedian: NaN, registryMedian: NaN },
      manifests: { requests, ocikit: [], registry: [], ocikitMedian: NaN, registryMedian: NaN },
      clients16: { ocikit: [], registry: [], ocikitMedian: NaN, registryMedian: NaN, errors: { ocikit: 0, registry: 0 } },
      rssMiB: { ocikit: NaN, registry: NaN },
    };
    const servers = [
      ['ocikit', ocikitPool, url],
      ['registry', registryPool, registry.url],
    ] as const;
    // One warm-up of each (page cache, connections), then the measured runs, alternating.
    for (const [, pool] of servers) {
      await pullOnce(pool, 'bench/big', blobs, 3);
      await manifestsOnce(pool, 'bench/big', 300, 16);
    }
    for (let i = 0; i < runs; i++) {
      for (const [who, pool, at] of servers) {
        result.pull[who].push(await pullOnce(pool, 'bench/big', blobs, 3));
        result.manifests[who].push(await manifestsOnce(pool, 'bench/big', requests, 16));
        const c16 = await clientsOnce(at, 'bench/big', blobs, 16);
        result.clients16[who].push(c16.mbps);
        result.clients16.errors[who] += c16.errors;
      }
    }
    result.pull.ocikitMedian = median(result.pull.ocikit);
    result.pull.registryMedian = median(result.pull.registry);
    result.manifests.ocikitMedian = median(result.manifests.ocikit);
    result.manifests.registryMedian = median(result.manifests.registry);
    result.clients16.ocikitMedian = median(result.clients16.ocikit);
    result.clients16.registryMedian = median(result.clients16.registry);
    result.rssMiB.ocikit = peakRss(server.pid!);
    const regPid = Number(
      spawnSync('pgrep', ['-f', `^.*docker-registry serve ${join(registry.dataDir, '..')}`], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')[0],
    );
    if (Number.isInteger(regPid) && regPid > 0) result.rssMiB.registry = peakRss(regPid);
    log(
      `  serve: pull ${result.pull.ocikitMedian.toFixed(0)} MB/s (ocikit) vs ${result.pull.registryMedian.toFixed(0)} MB/s (docker-registry); ` +
        `manifests ${result.manifests.ocikitMedian.toFixed(0)} vs ${result.manifests.registryMedian.toFixed(0)} req/s; ` +
        `16 clients ${result.clients16.ocikitMedian.toFixed(0)} vs ${result.clients16.registryMedian.toFixed(0)} MB/s, ` +
        `${result.clients16.errors.ocikit} vs ${result.clients16.errors.registry} failed requests; RSS ${result.rssMiB.ocikit.toFixed(0)} vs ${result.rssMiB.registry.toFixed(0)} MiB`,
    );
    return result;
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    if (server?.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      process.kill(server.pid, 'SIGTERM');
      await exited;
    }
    await registry.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

/** The serve results as table rows for bench/results/*.md. */
export function serveTable(r: ServeBenchResult): string {
  return [
    `| serve (${r.image}, ${(r.compressedBytes / 1e6).toFixed(0)} MB compressed) | ocikit serve | docker-registry | ocikit / registry |`,
    '|---|---:|---:|---:|',
    `| pull, MB/s (3 blobs at a time) | ${r.pull.ocikitMedian.toFixed(0)} | ${r.pull.registryMedian.toFixed(0)} | ${(r.pull.ocikitMedian / r.pull.registryMedian).toFixed(2)}× |`,
    `| manifest GETs/s (16 in flight) | ${r.manifests.ocikitMedian.toFixed(0)} | ${r.manifests.registryMedian.toFixed(0)} | ${(r.manifests.ocikitMedian / r.manifests.registryMedian).toFixed(2)}× |`,
    `| 16 clients pulling at once, MB/s | ${r.clients16.ocikitMedian.toFixed(0)} | ${r.clients16.registryMedian.toFixed(0)} | ${(r.clients16.ocikitMedian / r.clients16.registryMedian).toFixed(2)}× |`,
    `| failed requests of the 16 clients (all runs) | ${r.clients16.errors.ocikit} | ${r.clients16.errors.registry} | |`,
    `| server peak RSS, MiB | ${r.rssMiB.ocikit.toFixed(0)} | ${r.rssMiB.registry.toFixed(0)} | |`,
  ].join('\n');
}
