/**
 * The signature cases of the bench (issue 12): what verifying a signed image costs on copy.
 *
 * The big image is copied once to dir: and signed there by skopeo (--sign-by, a key made in a
 * throwaway GNUPGHOME under bench/work). Two cases copy it to oci: with each tool: once without any
 * policy check (--insecure-policy) and once under a signedBy policy that must verify the signature;
 * the difference of the two medians is the verification cost. Besides, the policy check alone is
 * timed in process (PolicyContext.check on the dir: source): the first check (which imports the key
 * into a throwaway keyring) and the following ones.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PolicyContext, parsePolicy } from '../lib/signature/index.js';
import { parseImageName } from '../lib/transports/index.js';
import { LazyStore } from '../lib/store/index.js';
import { digestBytes } from '../lib/digest/index.js';
import { copyCase, once, type Case } from './case.js';

/** The policy check alone, in process: milliseconds of the first check and the median of the next ones. */
export interface PolicyCheckTiming {
  firstMs: number;
  warmMedianMs: number;
  runs: number;
}

function must(prog: string, args: string[], env: NodeJS.ProcessEnv, what: string): string {
  const r = spawnSync(prog, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${what}: ${r.stderr}`);
  return r.stdout;
}

/**
 * The two cases; their prepare() signs a dir: copy of `big` and times the check in process
 * (`check()` gives that timing afterwards).
 */
export function signatureCases(
  big: { ref: string; name: string; uncompressedBytes: number },
  workDir: string,
  log: (s: string) => void,
): { cases: Case[]; check: () => PolicyCheckTiming | undefined; cleanup: () => void } {
  const base = join(workDir, 'signature');
  const signed = join(base, `${big.name}-signed`);
  const policy = join(base, 'policy.json');
  let check: PolicyCheckTiming | undefined;
  const prepare = once(async () => {
    check = await signAndCheck(big, base, signed, policy, log);
  });
  // The same copy twice: once without a policy check, once verifying the signature first.
  const signedCopy = (name: string, note: string, policyFile?: string): Case =>
    copyCase({
      name,
      section: 'more',
      group: 'signature',
      target: {},
      image: big,
      src: `dir:${signed}`,
      prepare,
      dst: (run) => `oci:${run.dir}/out:latest`,
      ocikitFlags: ['--remove-signatures'],
      skopeoFlags: ['--remove-signatures'],
      ...(policyFile ? { policy: policyFile } : {}),
      note,
    });
  const cases: Case[] = [
    signedCopy('signed dir->oci, no policy check', '--insecure-policy: the baseline of the next case'),
    signedCopy('signed dir->oci, signedBy verified', 'the same copy, the GPG signature verified first', policy),
  ];
  return {
    cases,
    check: () => check,
    cleanup: () => {
      spawnSync('gpgconf', ['--homedir', join(base, 'g'), '--kill', 'all']);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Sign a dir: copy of `big` at `signed` with a throwaway key, write the policy, time the check in process. */
async function signAndCheck(big: { ref: string; name: string }, base: string, signed: string, policy: string, log: (s: string) => void): Promise<PolicyCheckTiming> {
  rmSync(base, { recursive: true, force: true });
  const gnupg = join(base, 'g');
  mkdirSync(gnupg, { recursive: true });
  chmodSync(gnupg, 0o700);
  const env = { GNUPGHOME: gnupg };
  must('gpg', ['--batch', '--passphrase', '', '--pinentry-mode', 'loopback', '--quick-gen-key', 'Bench <bench@example.com>', 'ed25519', 'sign', 'never'], env, 'making a bench key');
  const fpr = must('gpg', ['--batch', '--with-colons', '--list-keys'], env, 'listing the bench key')
    .split('\n')
    .find((l) => l.startsWith('fpr:'))!
    .split(':')[9]!;
  const pub = join(base, 'bench.gpg');
  const exp = spawnSync('gpg', ['--batch', '--export', fpr], { env: { ...process.env, ...env } });
  writeFileSync(pub, exp.stdout);
  log(`signing a dir: copy of ${big.name} with skopeo --sign-by`);
  must('skopeo', ['--insecure-policy', 'copy', '-q', '--sign-by', fpr, '--sign-identity', `bench.example.com/${big.name}:latest`, big.ref, `dir:${signed}`], env, 'signing the bench image');
  const policyJson = {
    default: [{ type: 'reject' }],
    transports: { dir: { '': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: pub, signedIdentity: { type: 'exactReference', dockerReference: `bench.example.com/${big.name}:latest` } }] } },
  };
  writeFileSync(policy, JSON.stringify(policyJson));

  // The check alone, in process.
  const ref = parseImageName(`dir:${signed}`);
  // A dir: source never opens the store it is handed.
  const src = await ref.newSource({ store: new LazyStore(join(base, 'store')) });
  const ctx = new PolicyContext(parsePolicy(JSON.stringify(policyJson)), policy);
  const times: number[] = [];
  try {
    const digest = digestBytes((await src.getManifest()).bytes);
    for (let i = 0; i < 11; i++) {
      const t0 = process.hrtime.bigint();
      await ctx.check(src, [{ digest }]);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    await ctx.close();
    await src.close();
  }
  const warm = times.slice(1).sort((a, b) => a - b);
  const check = { firstMs: times[0]!, warmMedianMs: warm[warm.length >> 1]!, runs: warm.length };
  log(`policy check in process: first ${check.firstMs.toFixed(1)} ms (imports the key), then median ${check.warmMedianMs.toFixed(1)} ms`);
  return check;
}
