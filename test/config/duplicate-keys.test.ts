/**
 * A key given twice in one object of a configuration file is refused, naming the file, the line and
 * the key: policy.json (skopeo refuses too; JSON.parse kept the last value, so a reviewer reading the
 * first saw another policy than the one enforced), auth.json, registries.d and sync YAML.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readAuthFile } from '../../lib/auth/index.js';
import { isOcikitError } from '../../lib/errors.js';
import { loadRegistriesConfig, parsePolicy } from '../../lib/signature/index.js';
import { parseSyncConfig } from '../../lib/sync/index.js';
import { ocikit } from '../helpers/cli.js';
import { fixture, tempDir } from '../helpers/paths.js';

async function refused(fn: () => unknown, want: RegExp): Promise<void> {
  await assert.rejects(
    async () => fn(),
    (err: unknown) => {
      assert.ok(isOcikitError(err, 'E_BAD_INPUT'), String(err));
      assert.match((err as Error).message, want);
      return true;
    },
  );
}

describe('duplicate keys in configuration files', () => {
  it('policy.json: "default" twice, or one scope twice, is refused with the line and key; without them it parses', async () => {
    const accept = '[{"type": "insecureAcceptAnything"}]';
    await refused(() => parsePolicy(`{\n  "default": [{"type": "reject"}],\n  "default": ${accept}\n}\n`, '/etc/p.json'), /reading trust policy \/etc\/p\.json: line 3: duplicate key "default"/);
    const scopes = `{\n "default": ${accept},\n "transports": {\n  "docker": {\n   "quay.io/a": [{"type": "reject"}],\n   "quay.io/b": ${accept},\n   "quay.io/a": ${accept}\n  }\n }\n}`;
    await refused(() => parsePolicy(scopes, 'p.json'), /line 7: duplicate key "quay\.io\/a"/);
    // Equal keys in different objects, and escaped equal keys, are told apart correctly.
    assert.ok(parsePolicy(`{"default": ${accept}, "transports": {"docker": {"default": ${accept}}, "oci": {"": ${accept}}}}`));
    await refused(() => parsePolicy(`{"default": ${accept}, "\\u0064efault": ${accept}}`), /line 1: duplicate key "default"/);
  });

  it('policy.json through the CLI: copy refuses before reading the image, one line, exit 1', () => {
    const dir = tempDir('ocikit-dupkeys-');
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, '{\n  "default": [{"type": "reject"}],\n  "default": [{"type": "insecureAcceptAnything"}]\n}\n');
    const r = ocikit(['--policy', policy, 'copy', '-q', `oci:${fixture('hello-oci')}:latest`, `dir:${join(dir, 'out')}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${policy.replace(/[.]/g, '\\.')}: line 3: duplicate key "default"`));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  it('auth.json: a registry given twice is refused with the line and key, and no secret is quoted', async () => {
    const dir = tempDir('ocikit-dupkeys-');
    const path = join(dir, 'auth.json');
    const secret = Buffer.from('me:s3cret-value').toString('base64');
    writeFileSync(path, `{\n  "auths": {\n    "r.example.com": {"auth": "${secret}"},\n    "r.example.com": {"auth": "${secret}"}\n  }\n}\n`);
    await assert.rejects(readAuthFile(path), (err: Error) => {
      assert.match(err.message, /auth\.json: line 4: duplicate key "r\.example\.com"/);
      assert.doesNotMatch(err.message, new RegExp(secret));
      return true;
    });
  });

  it('registries.d: a namespace twice in one file is refused with the file, line and key', async () => {
    const dir = tempDir('ocikit-dupkeys-');
    const d = join(dir, 'registries.d');
    mkdirSync(d);
    writeFileSync(join(d, 'a.yaml'), 'docker:\n  r.example.com:\n    lookaside: file:///a\n  r.example.com:\n    lookaside: file:///b\n');
    await refused(() => loadRegistriesConfig(d), /a\.yaml: line 4: duplicate key "r\.example\.com"/);
  });

  it('sync YAML: a key twice is refused with the file, line and key', async () => {
    await refused(() => parseSyncConfig('r.example.com:\n  images:\n    app: ["1"]\n  tls-verify: false\n  images:\n    app: ["2"]\n', 'sync.yaml'), /sync\.yaml:5: duplicate key "images"/);
  });
});
