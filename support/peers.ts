/**
 * The real programs the tests and the bench use as peers and oracles. The test setup (test/run.ts)
 * installs every missing one with apt-get when running as root, after one `apt-get update`;
 * otherwise it fails with the exact command to run. Tests never skip for a missing peer.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Program name -> the Debian package that provides it. */
export const PEERS: Record<string, string> = {
  skopeo: 'skopeo',
  umoci: 'umoci',
  'docker-registry': 'docker-registry',
  dockerd: 'docker.io',
  docker: 'docker.io',
  podman: 'podman',
  openssl: 'openssl',
  htpasswd: 'apache2-utils',
  pigz: 'pigz',
  strace: 'strace',
  setpriv: 'util-linux',
  gpg: 'gnupg',
  gpgconf: 'gnupg',
  python3: 'python3',
  // script(1) gives a program a real terminal (login and --creds prompts).
  script: 'bsdutils',
  // test/transports/docker-archive.test.ts pipes an archive through `gzip -c`.
  gzip: 'gzip',
  tar: 'tar',
  // test/serve/browse.test.ts loads the registry's page in headless Chromium (driven by playwright-core).
  chromium: 'chromium',
};

/**
 * Python modules the tests use as independent implementations (Debian's python3, /usr/bin/python3):
 * peer name -> [Debian package, module to import].
 */
export const PYTHON_MODULES: Record<string, [string, string]> = {
  'python3-nacl': ['python3-nacl', 'nacl'],
  'python3-cryptography': ['python3-cryptography', 'cryptography'],
};

/** Debian's Python, which sees the modules apt installs (a pyenv shim earlier on PATH does not). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

function hasPythonModule(mod: string): boolean {
  return spawnSync(SYSTEM_PYTHON, ['-c', `import ${mod}`], { stdio: 'ignore' }).status === 0;
}

/** Absolute path of a program on PATH (also /usr/sbin, /sbin), or undefined. */
export function which(prog: string): string | undefined {
  const py = PYTHON_MODULES[prog];
  if (py) return hasPythonModule(py[1]) ? SYSTEM_PYTHON : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, prog);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function installCommand(progs: string[]): string {
  const pkgs = [...new Set(progs.map((p) => PEERS[p] ?? PYTHON_MODULES[p]?.[0] ?? p))];
  return `apt-get update && apt-get install -y ${pkgs.join(' ')}`;
}

/** The path of a peer program, or an error naming the exact install command. */
export function requirePeer(prog: string): string {
  const p = which(prog);
  if (!p) throw new Error(`test peer "${prog}" is missing; install it with: ${installCommand([prog])}`);
  return p;
}

/** Install every missing peer (root: apt-get, one update first). Returns what was installed. */
export function ensurePeers(progs: string[] = [...Object.keys(PEERS), ...Object.keys(PYTHON_MODULES)]): string[] {
  const missing = progs.filter((p) => !which(p));
  if (missing.length === 0) return [];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) throw new Error(`test peers missing: ${missing.join(', ')}; install them with: sudo ${installCommand(missing)}`);
  const pkgs = [...new Set(missing.map((p) => PEERS[p] ?? PYTHON_MODULES[p]?.[0] ?? p))];
  process.stderr.write(`installing test peers: ${pkgs.join(' ')}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const up = spawnSync('apt-get', ['update', '-qq', '-o', 'DPkg::Lock::Timeout=600'], { stdio: 'inherit', env });
  if (up.status !== 0) throw new Error(`apt-get update failed (exit ${up.status}); run: ${installCommand(missing)}`);
  // policy-rc.d 101: packages (docker.io) must not start system services; the tests start their own.
  const inst = spawnSync(
    'sh',
    [
      '-c',
      `printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; apt-get install -y -qq -o DPkg::Lock::Timeout=600 ${pkgs.join(' ')}; rc=$?; rm -f /usr/sbin/policy-rc.d; exit $rc`,
    ],
    { stdio: 'inherit', env },
  );
  if (inst.status !== 0) throw new Error(`apt-get install failed (exit ${inst.status}); run: ${installCommand(missing)}`);
  const still = missing.filter((p) => !which(p));
  if (still.length) throw new Error(`peers still missing after install: ${still.join(', ')}`);
  return pkgs;
}
