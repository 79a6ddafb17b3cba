/** Running the compiled CLI and peer programs from tests. */
import { spawn, spawnSync } from 'node:child_process';
import { cliPath } from './paths.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `ocikit ARGS` (the compiled CLI) and collect its output. */
export function ocikit(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): RunResult {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, ...opts.env }, input: opts.input ?? '', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The same, asynchronously (for running several at once). */
export function ocikitAsync(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Run a program; throws with its stderr when it fails (unless allowFail). */
export function run(prog: string, args: string[], opts: { allowFail?: boolean; cwd?: string; env?: NodeJS.ProcessEnv } = {}): RunResult {
  const r = spawnSync(prog, args, { encoding: 'utf8', cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 64 << 20 });
  const res = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
  if (res.code !== 0 && !opts.allowFail) throw new Error(`${prog} ${args.join(' ')} failed (${res.code}): ${res.stderr.trim()}`);
  return res;
}

/**
 * Run a program without blocking the event loop: needed when it talks to a server in this process
 * (a fault proxy, a token server), which spawnSync would starve.
 */
export function runAsync(prog: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(prog, args, { env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('error', (err) => (stderr += String(err)));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.end(opts.input ?? '');
  });
}
