/**
 * Start-up: what a command costs before it moves a byte, as a ratio to `node -e ""` (the floor of
 * any Node program; issue 17's targets are such ratios). Timed twice: with the environment as it is
 * and with NODE_EXTRA_CA_CERTS unset. A machine that sets that variable (this sandbox does) makes
 * Node parse the CA bundle at every start, before any of ocikit's code runs (~40 ms here); most
 * users do not have it, so the targets are read on the second.
 *
 * The rows: `node -e ""`, `ocikit --version` (skopeo --version, crane version beside it), and the
 * cases marked `startup` (inspect of a local image, push again, registry copies that mount
 * everything), each timed by the same runner as the other cases with 7 runs per tool.
 */
import { nodeTool, type Case, type Tool } from './case.js';
import type { CaseResult, Runner } from './runner.js';

/** The environments the start-up rows are timed in: as it is, and NODE_EXTRA_CA_CERTS unset when it is set. */
export function startupEnvs(): Array<{ key: 'as set' | 'unset'; env: NodeJS.ProcessEnv }> {
  const envs: Array<{ key: 'as set' | 'unset'; env: NodeJS.ProcessEnv }> = [];
  if (process.env.NODE_EXTRA_CA_CERTS) envs.push({ key: 'as set', env: process.env });
  const unset = { ...process.env };
  delete unset.NODE_EXTRA_CA_CERTS;
  envs.push({ key: 'unset', env: unset });
  return envs;
}

/** `node -e ""` and `ocikit --version`. */
export const startupCases: Case[] = [
  {
    name: 'node -e ""',
    section: 'start-up',
    group: 'start-up',
    target: {},
    image: { name: 'none', uncompressedBytes: 0 },
    src: 'node',
    movesBytes: false,
    argv: (tool) => (tool.kind === 'node' ? tool.command(['-e', '']) : undefined),
  },
  {
    name: 'ocikit --version',
    section: 'start-up',
    group: 'start-up',
    target: { node: 1.2 },
    image: { name: 'none', uncompressedBytes: 0 },
    src: 'version',
    movesBytes: false,
    argv: (tool) => (tool.kind === 'ocikit' || tool.kind === 'skopeo' ? tool.command(['--version']) : tool.kind === 'crane' ? tool.command(['version']) : undefined),
    note: 'skopeo --version, crane version beside it',
  },
];

export interface StartupResult {
  /** "as set" (NODE_EXTRA_CA_CERTS as the environment has it; absent when it is not set) and "unset" */
  envs: Record<string, CaseResult[]>;
}

/** Time `cases` (startupCases first, then the selected `startup` cases) in each environment, 7 runs per tool. */
export async function runStartup(cases: Case[], tools: Tool[], runner: Runner, log: (s: string) => void): Promise<StartupResult> {
  const out: StartupResult = { envs: {} };
  for (const { key, env } of startupEnvs()) {
    log(`start-up, NODE_EXTRA_CA_CERTS ${key}`);
    const rows: CaseResult[] = [];
    for (const c of cases) {
      rows.push(await runner.run(c, [nodeTool, ...tools], [], { env, runs: 7 }));
    }
    out.envs[key] = rows;
  }
  return out;
}

/** The median of `node -e ""` in environment `key`, seconds. */
export function nodeSeconds(r: StartupResult | undefined, key: 'as set' | 'unset'): number {
  return r?.envs[key]?.find((c) => c.name === 'node -e ""')?.tools.node?.medianSeconds ?? NaN;
}
