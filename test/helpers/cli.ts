/** Running the compiled CLI and peer programs from tests. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, tempDir } from './paths.js';

/**
 * The suite's own trust policy and signature storage. `ocikit copy` refuses to run without a policy
 * (as skopeo does), and a test must not depend on the machine's /etc/containers/policy.json nor
 * read or write the machine's lookaside storage (/var/lib/containers/sigstore), so every copy run
 * through these helpers gets `--policy SUITE_POLICY` (accept anything) and `--registries.d` with a
 * default-docker lookaside in a temp dir, unless it names its own (--policy, --insecure-policy,
 * --registries.d) or asks for neither (`policy: false`). Tests that spawn the CLI directly add
 * `...POLICY_ARGS`.
 */
const suiteDir = tempDir('ocikit-policy-');
export const SUITE_POLICY = join(suiteDir, 'policy.json');
writeFileSync(SUITE_POLICY, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
const SUITE_REGISTRIES_D = join(suiteDir, 'registries.d');
mkdirSync(SUITE_REGISTRIES_D);
writeFileSync(join(SUITE_REGISTRIES_D, 'suite.yaml'), `default-docker:\n  lookaside: file://${join(suiteDir, 'lookaside')}\n`);
/** The global flags that give a directly spawned `ocikit copy` the suite's policy and signature storage. */
export const POLICY_ARGS: readonly string[] = ['--policy', SUITE_POLICY, '--registries.d', SUITE_REGISTRIES_D];

function withPolicy(args: string[], policy: boolean | undefined): string[] {
  if (policy === false || !args.includes('copy')) return args;
  const has = (flag: string): boolean => args.some((a) => a === flag || a.startsWith(`${flag}=`));
  const extra: string[] = [];
  if (!has('--policy') && !has('--insecure-policy')) extra.push('--policy', SUITE_POLICY);
  if (!has('--registries.d')) extra.push('--registries.d', SUITE_REGISTRIES_D);
  return [...extra, ...args];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `ocikit ARGS` (the compiled CLI) and collect its output. */
export function ocikit(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; policy?: boolean } = {}): RunResult {
  const r = spawnSync(cliPath, [...withPolicy(args, opts.policy)], { encoding: 'utf8', env: { ...process.env, ...opts.env }, input: opts.input ?? '', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The same, asynchronously (for running several at once). */
export function ocikitAsync(args: string[], opts: { env?: NodeJS.ProcessEnv; policy?: boolean } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(cliPath, [...withPolicy(args, opts.policy)], { env: { ...process.env, ...opts.env } });
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
    // A program that exits without reading its input closes the pipe first: EPIPE then says only
    // that, and the exit status tells the rest.
    p.stdin.on('error', () => undefined);
    p.stdin.end(opts.input ?? '');
  });
}
