/**
 * A private Docker engine for tests: Debian's dockerd started on its own socket, data root and exec
 * root (all temp dirs), with no network setup (no iptables, no bridge) and the vfs storage driver,
 * so it needs no kernel features a sandbox may lack and touches nothing on the host. It starts its
 * own containerd under the exec root. Stop it by PID in after(): `await engine.stop()`.
 *
 * The exec root and socket live under a SHORT /tmp path: containerd's socket path
 * (<exec-root>/containerd/containerd.sock) must fit in sun_path (108 bytes).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp.js';
import { requirePeer } from './peers.js';

export interface DockerEngine {
  /** "unix:///tmp/ok-xxxx/d.sock" */
  readonly host: string;
  readonly pid: number;
  /** Run the docker client against this engine; throws with stderr on failure unless allowFail. */
  docker(args: string[], opts?: { allowFail?: boolean; input?: Buffer }): { code: number; stdout: string; stderr: string };
  /** Stop the engine (SIGTERM, then SIGKILL) and its containerd, and remove its directories. */
  stop(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitExit(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

/** Optional extras for a private engine. */
export interface DockerdOptions {
  /** Also listen on tcp://127.0.0.1:PORT with --tlsverify, trusting client certificates signed by `ca`. */
  tls?: { port: number; ca: string; cert: string; key: string };
  /** Registries ("127.0.0.1:PORT") it may speak plain http to (--insecure-registry). */
  insecureRegistries?: string[];
  /** Mirrors of Docker Hub it asks first ("http://127.0.0.1:PORT"; daemon.json registry-mirrors). */
  registryMirrors?: string[];
}

/** Unmount every mount point at or under `root` (deepest first), as a dead dockerd leaves them. */
function unmountUnder(root: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === root || p.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', [m], { stdio: 'ignore' });
}

/** Start a private dockerd and wait until it answers on its socket (up to 60 s). */
export async function startDockerd(opts: DockerdOptions = {}): Promise<DockerEngine> {
  const dockerd = requirePeer('dockerd');
  const dockerCli = requirePeer('docker');
  const dataRoot = tempDir('ocikit-dockerd-');
  const execRoot = mkdtempSync('/tmp/ok-');
  const sock = join(execRoot, 'd.sock');
  const host = `unix://${sock}`;
  const config = join(dataRoot, 'daemon.json');
  // Our own config file: whatever /etc/docker/daemon.json says does not apply to this engine.
  writeFileSync(config, JSON.stringify(opts.registryMirrors ? { 'registry-mirrors': opts.registryMirrors } : {}));
  const logPath = join(dataRoot, 'dockerd.log');
  const log = openSync(logPath, 'w');
  const args = [
    '--config-file',
    config,
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    '--storage-driver=vfs',
    '--data-root',
    join(dataRoot, 'data'),
    '--exec-root',
    execRoot,
    '--pidfile',
    join(execRoot, 'dockerd.pid'),
    '-H',
    host,
    ...(opts.tls ? ['-H', `tcp://127.0.0.1:${opts.tls.port}`, '--tlsverify', '--tlscacert', opts.tls.ca, '--tlscert', opts.tls.cert, '--tlskey', opts.tls.key] : []),
    ...(opts.insecureRegistries ?? []).flatMap((r) => ['--insecure-registry', r]),
  ];
  const child: ChildProcess = spawn(dockerd, args, { stdio: ['ignore', log, log] });
  closeSync(log);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  const pid = child.pid!;

  const docker: DockerEngine['docker'] = (dargs, opts = {}) => {
    const r = spawnSync(dockerCli, ['-H', host, ...dargs], { encoding: 'utf8', input: opts.input, maxBuffer: 256 << 20 });
    const res = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
    if (res.code !== 0 && !opts.allowFail) throw new Error(`docker ${dargs.join(' ')} failed (${res.code}): ${res.stderr.trim()}`);
    return res;
  };

  const stop = async (): Promise<void> => {
    const containerdPidFile = join(execRoot, 'containerd', 'containerd.pid');
    const containerdPid = existsSync(containerdPidFile) ? Number(readFileSync(containerdPidFile, 'utf8').trim()) : 0;
    if (alive(pid)) {
      process.kill(pid, 'SIGTERM');
      if (!(await waitExit(pid, 15_000))) process.kill(pid, 'SIGKILL');
      await waitExit(pid, 5_000);
    }
    // dockerd stops the containerd it started; make sure, by its own PID.
    if (containerdPid > 0 && alive(containerdPid)) {
      process.kill(containerdPid, 'SIGTERM');
      if (!(await waitExit(containerdPid, 5_000))) process.kill(containerdPid, 'SIGKILL');
    }
    // dockerd makes its data root a (private) mount point and unmounts it on a clean exit; one it
    // could not clean up after (SIGKILL, as the tests that kill it mid-export do) is ours to undo.
    unmountUnder(dataRoot);
    unmountUnder(execRoot);
    rmSync(execRoot, { recursive: true, force: true });
    // vfs layer dirs are plain files: the data root goes with the test's temp dirs.
  };

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== undefined) {
      const tail = readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n');
      rmSync(execRoot, { recursive: true, force: true });
      throw new Error(`dockerd exited (${exited}) before answering; log tail:\n${tail}`);
    }
    if (existsSync(sock) && docker(['version', '--format', '{{.Server.Version}}'], { allowFail: true }).code === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`dockerd did not answer on ${host} within 60 s; log: ${logPath}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, pid, docker, stop };
}
