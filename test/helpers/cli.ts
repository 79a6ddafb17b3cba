/** Running the compiled CLI and peer programs from tests. */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, tempDir } from './paths.js';

/**
 * The suite's own trust policy: accept anything. `ocikit copy` refuses to run without a policy (as
 * skopeo does), and a test must not depend on the machine's /etc/containers/policy.json, so every
 * copy run through these helpers gets `--policy SUITE_POLICY` unless it names a policy itself
 * (--policy, --insecure-policy) or asks for none (`policy: false`). Tests that spawn the CLI
 * directly add `...POLICY_ARGS`.
 */
export const SUITE_POLICY = join(tempDir('ocikit-policy-'), 'policy.json');
writeFileSync(SUITE_POLICY, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
/** The global flags that give a directly spawned `ocikit copy` the suite's policy. */
export const POLICY_ARGS: readonly string[] = ['--policy', SUITE_POLICY];

function withPolicy(args: string[], policy: boolean | undefined): string[] {
  if (policy === false || !args.includes('copy')) return args;
  if (args.some((a) => a === '--policy' || a.startsWith('--policy=') || a === '--insecure-policy')) return args;
  return [...POLICY_ARGS, ...args];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `ocikit ARGS` (the compiled CLI) and collect its output. */
export function ocikit(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; policy?: boolean } = {}): RunResult {
  const r = spawnSync(process.execPath, [cliPath, ...withPolicy(args, opts.policy)], { encoding: 'utf8', env: { ...process.env, ...opts.env }, input: opts.input ?? '', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The same, asynchronously (for running several at once). */
export function ocikitAsync(args: string[], opts: { env?: NodeJS.ProcessEnv; policy?: boolean } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cliPath, ...withPolicy(args, opts.policy)], { env: { ...process.env, ...opts.env } });
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
