/**
 * Running the installed podman against the store a containers-storage: reference names: its
 * store flags (--root, --runroot, --storage-driver, --storage-opt) from the reference, nothing
 * when the reference names no store (podman then reads storage.conf, as containers/image does).
 * Its failures become one-line OcikitErrors; "image not known" is E_NOT_FOUND (exit 2).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { OcikitError } from '../../errors.js';
import type { StorageReference } from '../../reference/index.js';

/** The Debian (and Fedora) package that provides podman, named in the error when it is missing. */
export const PODMAN_PACKAGE = 'podman';

/** The podman program on PATH; E_UNSUPPORTED naming the package to install when there is none. */
export function podmanPath(context: string, env: NodeJS.ProcessEnv = process.env): string {
  for (const d of (env.PATH ?? '').split(delimiter)) {
    if (!d) continue;
    const p = join(d, 'podman');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next directory
    }
  }
  throw new OcikitError('E_UNSUPPORTED', `${context}: containers-storage: needs podman, which is not installed (not found on PATH)`, {
    hint: `install the ${PODMAN_PACKAGE} package: apt-get install ${PODMAN_PACKAGE}`,
  });
}

/** podman's global flags selecting the store a reference names (none: storage.conf decides). */
export function storeFlags(r: StorageReference): string[] {
  const out: string[] = [];
  if (r.root !== undefined) out.push('--root', r.root);
  if (r.runRoot !== undefined) out.push('--runroot', r.runRoot);
  if (r.driver !== undefined) out.push('--storage-driver', r.driver);
  for (const o of r.options ?? []) if (o !== '') out.push('--storage-opt', o);
  return out;
}

/** What one podman run printed, and its exit status. */
export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** podman's own last error line ("Error: x: image not known"), without the "Error: " prefix. */
export function podmanError(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const err = [...lines].reverse().find((l) => /^Error: /.test(l)) ?? lines[lines.length - 1] ?? '';
  const text = err.replace(/^Error: /, '').replace(/^time="[^"]*" level=\w+ msg="(.*)"$/, '$1');
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

/** A runner of podman with one store's flags. */
export class Podman {
  private constructor(
    readonly program: string,
    private readonly flags: string[],
  ) {}

  /** The podman for reference `r`; throws (naming the package) when podman is not installed. */
  static for(r: StorageReference, context: string): Podman {
    return new Podman(podmanPath(context), storeFlags(r));
  }

  /**
   * Run `podman <store flags> ARGS`. With `check` (the default), a non-zero exit throws: E_NOT_FOUND
   * when podman says the image is not known, E_IO otherwise, each with podman's error line.
   * `signal` kills podman (SIGTERM, by its PID) and rejects with E_ABORTED.
   */
  run(args: string[], context: string, opts: { check?: boolean; signal?: AbortSignal } = {}): Promise<PodmanResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.program, [...this.flags, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => {
        // Keep the tail only: podman's error is its last line, and progress can be long.
        stderr = (stderr + c).slice(-64 * 1024);
      });
      const onAbort = (): void => {
        child.kill('SIGTERM');
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      child.once('error', (err) => {
        opts.signal?.removeEventListener('abort', onAbort);
        reject(new OcikitError('E_IO', `${context}: running ${this.program}: ${err.message}`, { cause: err }));
      });
      child.once('close', (code, sig) => {
        opts.signal?.removeEventListener('abort', onAbort);
        if (opts.signal?.aborted) {
          reject(new OcikitError('E_ABORTED', `${context}: cancelled`));
          return;
        }
        const res = { code: code ?? -1, stdout, stderr };
        if (opts.check === false || res.code === 0) {
          resolve(res);
          return;
        }
        const why = podmanError(stderr) || (sig ? `killed by ${sig}` : `exit status ${res.code}`);
        const notFound = /image not known|no such image|identifier is not an image|does not resolve to an image ID/i.test(why);
        reject(new OcikitError(notFound ? 'E_NOT_FOUND' : 'E_IO', `${context}: podman: ${why}`));
      });
    });
  }
}
