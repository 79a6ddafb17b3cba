/**
 * sync --referrers: each synced image takes its OCI 1.1 referrers along (as copy --referrers),
 * the source's fallback tags are not synced as images of their own, and a run after new
 * referrers appeared at the source carries them too (the image is not skipped).
 * Against Debian's docker-registry 2.8: no referrers API, so the fallback tag schema.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { closeDispatchers } from '../../lib/registry/index.js';
import { ocikit, run, POLICY_ARGS } from '../helpers/cli.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { startRegistry, type RegistryHandle } from '../../support/registry.js';
import { OCI_INDEX, artifact, blob, getManifest, pushBuilt, pushManifest, tags, type Built, type Desc } from '../helpers/artifacts.js';
import { sha } from '../../support/digest.js';

let reg: RegistryHandle;
let dir: string;

before(async () => {
  dir = tempDir('ocikit-sync-referrers-');
  reg = await startRegistry();
});

after(async () => {
  await closeDispatchers();
  await reg.stop();
});

const entry = (m: Built, artifactType: string): Desc => ({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, artifactType });

/** Write the fallback tag of `subject` in `repo` as another client would: an index of `entries`. */
async function writeFallback(repo: string, subject: Desc, entries: Desc[]): Promise<void> {
  await pushManifest(reg.host, repo, subject.digest.replace(':', '-'), Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries })), OCI_INDEX);
}

describe('sync --referrers', () => {
  it("carries each image's referrers, never syncs a fallback tag as an image, and picks up referrers added since the last run", async () => {
    const store = join(dir, 'store');
    run(requirePeer('skopeo'), [...POLICY_ARGS, 'copy', '-q', '--dest-tls-verify=false', `oci:${fixture('hello-oci')}:latest`, `docker://${reg.host}/src/app:v1`]);
    const top = await getManifest(reg.host, 'src/app', 'v1');
    const image: Desc = { mediaType: top.type!, digest: sha(top.bytes), size: top.bytes.length };
    const sbom = artifact({ artifactType: 'application/spdx+json', layers: [blob('application/spdx+json', '{"spdxVersion":"SPDX-2.3"}')], subject: image });
    await pushBuilt(reg.host, 'src/app', sbom);
    await writeFallback('src/app', image, [entry(sbom, 'application/spdx+json')]);
    assert.deepEqual((await tags(reg.host, 'src/app')).sort(), [image.digest.replace(':', '-'), 'v1']);

    const sync = (): { code: number; report: { images: Array<{ source: string; status: string }> }; stderr: string } => {
      const r = ocikit([
        '--store',
        store,
        '--json',
        'sync',
        '--referrers',
        '--src',
        'docker',
        '--dest',
        'docker',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        `${reg.host}/src/app`,
        `${reg.host}/mirror`,
      ]);
      return { code: r.code, report: JSON.parse(r.stdout || '{"images":[]}') as { images: Array<{ source: string; status: string }> }, stderr: r.stderr };
    };
    let r = sync();
    assert.equal(r.code, 0, r.stderr);
    // One image synced: the fallback tag went along with it, not as an image of its own.
    assert.deepEqual(
      r.report.images.map((i) => [i.source, i.status]),
      [[`docker://${reg.host}/src/app:v1`, 'copied']],
    );
    const listed = (): string[] =>
      (JSON.parse(ocikit(['--store', store, 'inspect', '--tls-verify=false', '--referrers', `docker://${reg.host}/mirror/app:v1`]).stdout) as Desc[]).map((d) => d.digest).sort();
    assert.deepEqual(listed(), [sbom.digest]);
    assert.equal(sha((await getManifest(reg.host, 'mirror/app', sbom.digest)).bytes), sbom.digest, 'the SBOM manifest arrived byte for byte');

    // A signature added at the source since: the next run carries it (the image is copied again, not skipped).
    const sig = artifact({ artifactType: 'application/vnd.example.signature.v1', layers: [blob('application/octet-stream', 'a signature')], subject: image });
    await pushBuilt(reg.host, 'src/app', sig);
    await writeFallback('src/app', image, [entry(sbom, 'application/spdx+json'), entry(sig, 'application/vnd.example.signature.v1')]);
    r = sync();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.report.images.map((i) => i.status),
      ['copied'],
    );
    assert.deepEqual(listed(), [sbom.digest, sig.digest].sort());
    assert.deepEqual((await tags(reg.host, 'mirror/app')).sort(), [image.digest.replace(':', '-'), 'v1']);
  });

  it('--artifact-type without --referrers is a usage error', () => {
    const r = ocikit(['--store', join(dir, 'store'), 'sync', '--artifact-type', 'application/spdx+json', '--src', 'docker', '--dest', 'docker', `${reg.host}/src/app`, `${reg.host}/mirror`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ocikit: --artifact-type chooses which referrers to copy: it needs --referrers\n$/);
  });
});
