/**
 * ocikit's docker-archive against the real engines: a private dockerd (Debian's docker.io, started
 * here, stopped by PID) loads a multi-image archive and a streamed one, and ocikit reads what that
 * engine's `docker save` writes; `podman load` into a throwaway vfs store loads the same archive.
 * Nothing comes from the internet: the images are ocikit's fixtures.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyImage } from '../../lib/copy/index.js';
import { BlobStore } from '../../lib/store/index.js';
import { parseImageName } from '../../lib/transports/index.js';
import { SUITE_POLICY, ocikit, run } from '../helpers/cli.js';
import { startDockerd, type DockerEngine } from '../helpers/dockerd.js';
import { cliPath, fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../helpers/peers.js';
import { podmanStore } from '../helpers/podman.js';
import { sha } from '../helpers/digest.js';

interface Expected {
  /** The config digest, which docker and podman use as the image ID. */
  id: string;
  diffIDs: string[];
}

/** What an image of an OCI layout fixture must look like once loaded: its config digest and diff IDs. */
function expected(layout: string, arch?: string): Expected {
  const blob = (d: string): Buffer => readFileSync(join(fixture(layout), 'blobs', 'sha256', d.slice(7)));
  const index = JSON.parse(readFileSync(join(fixture(layout), 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  let m = JSON.parse(blob(index.manifests[0]!.digest).toString()) as { manifests?: Array<{ digest: string; platform: { architecture: string } }>; config: { digest: string } };
  if (m.manifests) m = JSON.parse(blob(m.manifests.find((d) => d.platform.architecture === arch)!.digest).toString());
  const cfg = JSON.parse(blob(m.config.digest).toString()) as { rootfs: { diff_ids: string[] } };
  return { id: m.config.digest, diffIDs: cfg.rootfs.diff_ids };
}

/** Build the multi-image archive every engine loads: four tags over three images, one base layer shared. */
async function buildArchive(storeDir: string, archive: string): Promise<void> {
  const store = BlobStore.open(storeDir);
  try {
    await copyImage(parseImageName(`oci:${fixture('hello-oci')}:latest`), parseImageName(`docker-archive:${archive}:hello:v1`), {
      store,
      destCtx: { write: { additionalTags: ['example.com/hello:v2'] } },
    });
    for (const arch of ['amd64', 'arm64']) {
      await copyImage(parseImageName(`oci:${fixture('multiarch-oci')}:latest`), parseImageName(`docker-archive:${archive}:multi:${arch}`), { store, sourceCtx: { platform: { overrideArch: arch } } });
    }
  } finally {
    store.close();
  }
}

const WANT_TAGS: Array<[string, () => Expected]> = [
  ['hello:v1', () => expected('hello-oci')],
  ['example.com/hello:v2', () => expected('hello-oci')],
  ['multi:amd64', () => expected('multiarch-oci', 'amd64')],
  ['multi:arm64', () => expected('multiarch-oci', 'arm64')],
];

describe('docker load and docker save, against a private dockerd', () => {
  let engine: DockerEngine | undefined;
  let dir: string;
  let store: string;
  let archive: string;
  before(async () => {
    dir = tempDir('ocikit-engine-');
    store = join(dir, 'store');
    archive = join(dir, 'multi.tar');
    await buildArchive(store, archive);
    engine = await startDockerd();
  });
  after(async () => {
    await engine?.stop();
  });

  it('docker load takes a multi-image archive: every tag, image IDs equal to the configs, the right diff IDs', () => {
    const out = engine!.docker(['load', '-i', archive]).stdout;
    for (const [tag, want] of WANT_TAGS) {
      assert.match(out, new RegExp(`Loaded image: ${tag.replace(/[.:]/g, '\\$&')}\\n`));
      const [id, layers] = engine!.docker(['image', 'inspect', '--format', '{{.Id}} {{json .RootFS.Layers}}', tag]).stdout.trim().split(' ');
      assert.equal(id, want().id, tag);
      assert.deepEqual(JSON.parse(layers!), want().diffIDs, tag);
    }
  });

  it('docker load reads an archive streamed to /dev/stdout', () => {
    const docker = requirePeer('docker');
    const r = spawnSync(
      'bash',
      [
        '-o',
        'pipefail',
        '-c',
        `"${cliPath}" --policy "${SUITE_POLICY}" --store "${store}" copy -q oci:${fixture('hello-oci')}:latest docker-archive:/dev/stdout:stream/test:1 | "${docker}" -H "${engine!.host}" load`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Loaded image: stream\/test:1/);
    assert.equal(engine!.docker(['image', 'inspect', '--format', '{{.Id}}', 'stream/test:1']).stdout.trim(), expected('hello-oci').id);
  });

  it("ocikit reads the engine's docker save: several images by name and @N, and gzipped through /dev/stdin", () => {
    const saved = join(dir, 'saved.tar');
    engine!.docker(['save', '-o', saved, 'hello:v1', 'multi:arm64']);
    const tags = ocikit(['--store', store, 'list-tags', `docker-archive:${saved}`]);
    assert.equal(tags.code, 0, tags.stderr);
    assert.deepEqual([...JSON.parse(tags.stdout).Tags].sort(), ['hello:v1', 'multi:arm64']);
    const skopeo = requirePeer('skopeo');
    const check = (name: string, want: Expected, label: string): void => {
      const out = join(dir, `from-save-${label}`);
      const r = ocikit(['--store', store, 'copy', '-q', name, `oci:${out}:x`]);
      assert.equal(r.code, 0, `${label}: ${r.stderr}`);
      const m = JSON.parse(run(skopeo, ['inspect', '--raw', `oci:${out}:x`]).stdout) as { config: { digest: string } };
      assert.equal(m.config.digest, want.id, label);
      // skopeo decompresses and names each layer; its digest must be the config's diff ID.
      const d = join(dir, `from-save-${label}-dir`);
      run(skopeo, ['copy', '-q', '--dest-decompress', `oci:${out}:x`, `dir:${d}`]);
      const layers = (JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as { layers: Array<{ digest: string }> }).layers;
      assert.deepEqual(
        layers.map((l) => sha(readFileSync(join(d, l.digest.slice(7))))),
        want.diffIDs,
        label,
      );
    };
    check(`docker-archive:${saved}:hello:v1`, expected('hello-oci'), 'by-name');
    const arm = JSON.parse(tags.stdout).Tags.indexOf('multi:arm64');
    check(`docker-archive:${saved}:@${arm}`, expected('multiarch-oci', 'arm64'), 'by-index');
    // A TMPDIR that does not exist: a temp file would fail the copy, not just be left behind.
    const tmp = join(tempDir('ocikit-engine-tmp-'), 'does-not-exist');
    const docker = requirePeer('docker');
    const out = join(dir, 'from-stdin');
    const r = spawnSync(
      'bash',
      ['-o', 'pipefail', '-c', `"${docker}" -H "${engine!.host}" save multi:amd64 | gzip | "${cliPath}" --policy "${SUITE_POLICY}" --store "${store}" copy -q docker-archive:/dev/stdin oci:${out}:x`],
      {
        encoding: 'utf8',
        env: { ...process.env, TMPDIR: tmp },
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(run(skopeo, ['inspect', '--raw', `oci:${out}:x`]).stdout).config.digest, expected('multiarch-oci', 'amd64').id);
    assert.equal(existsSync(tmp), false, 'the gzipped stream went to the store, not to a temp file');
  });
});

describe('podman load, into a throwaway vfs store', () => {
  it('loads the multi-image archive with every tag under its full name, IDs and diff IDs intact', async () => {
    const dir = tempDir('ocikit-podman-load-');
    const archive = join(dir, 'multi.tar');
    await buildArchive(join(dir, 'store'), archive);
    const p = podmanStore();
    p.podman(['load', '-i', archive]);
    // Full IDs (--no-trunc): the comparison below is equality, not a suffix match.
    const listed = p.podman(['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.Id}}']).stdout.trim().split('\n');
    for (const [tag, want] of WANT_TAGS) {
      const full = tag.includes('/') ? tag : `docker.io/library/${tag}`;
      const line = listed.find((l) => l.startsWith(`${full} `));
      assert.ok(line, `${full} in ${listed.join('; ')}`);
      const fields = line.split(' ');
      assert.equal(fields.length, 2, line);
      const id = fields[1]!.startsWith('sha256:') ? fields[1]! : `sha256:${fields[1]}`;
      assert.match(id, /^sha256:[0-9a-f]{64}$/, `${full}: a full ID, got ${line}`);
      assert.equal(id, want().id, `${full}: ID`);
      const layers = JSON.parse(p.podman(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', full]).stdout) as string[];
      assert.deepEqual(layers, want().diffIDs, full);
    }
  });
});
