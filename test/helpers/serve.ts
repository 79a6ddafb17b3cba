/** `ocikit serve` for tests: the compiled CLI started on 127.0.0.1 port 0, stopped by PID. */
import { spawn, type ChildProcess } from 'node:child_process';
import { cliPath } from './paths.js';

export interface ServeHandle {
  /** "127.0.0.1:PORT" */
  host: string;
  /** "http://127.0.0.1:PORT" (https with TLS) */
  url: string;
  pid: number;
  /** What the server printed on stderr so far. */
  stderr(): string;
  /** What the server printed on stdout so far ("listening on", then its access log). */
  stdout(): string;
  /** Resolves with the exit code (or signal) when the process ends, however it ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) if (p.pid !== undefined && p.exitCode === null) process.kill(p.pid, 'SIGKILL');
});

/** Start `ocikit --store STORE serve --listen 127.0.0.1:0 ARGS…`; resolves once it printed its URL. */
export async function startServe(store: string, args: string[] = []): Promise<ServeHandle> {
  const child = spawn(cliPath, ['--store', store, 'serve', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`ocikit serve did not start: ${err}`)), 20_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (\S+)\n/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`ocikit serve exited (${code}): ${err}`));
    });
  });
  return {
    url,
    host: url.replace(/^https?:\/\//, ''),
    pid: child.pid!,
    stderr: () => err,
    stdout: () => out,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid!, 'SIGTERM');
        await exited;
      }
      running.delete(child);
    },
  };
}
