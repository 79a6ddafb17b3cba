/**
 * The entry of the `ocikit` command. build/bundle.ts bundles it, with all of ocikit, into
 * dist/bin/ocikit.cjs and then builds a V8 startup snapshot of that bundle (dist/bin/ocikit.blob);
 * the launcher (dist/bin/ocikit, a shell script) starts the snapshot when it was built by the
 * Node that runs it, and the bundle otherwise. See build/README.md.
 *
 * Run normally (`node ocikit.cjs ARGS`), this calls start() at once. Run by `node --build-snapshot`,
 * it instead loads what every command needs (the modules of the common commands, the node:
 * built-ins they use, the packages the bundle carries) and runs a few commands against a fixture in
 * a temporary directory, so that their code is compiled, then names the function the snapshot
 * starts with. A process started from the snapshot begins there with that heap: no module to
 * find, read, compile or run, which is most of what a short command used to spend.
 *
 * WHAT MUST NOT BE IN THE SNAPSHOT: anything that holds a handle or reads the environment when it
 * is loaded — node:http (which undici needs: the bundle carries a build of undici that loads it
 * only when used), native addons (better-sqlite3, zstd-napi: loaded from node_modules at run time,
 * lib/lazy.ts), and values read from process.env, the working directory or the time at module
 * level (none of ocikit's modules do: a rule of the house, checked by test/cli/launcher.test.ts).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startupSnapshot } from 'node:v8';
import minimist from 'minimist';
import * as smolToml from 'smol-toml';
import * as undici from 'undici';
// Built-ins the commands use, loaded into the snapshot (a built-in loaded after start costs its compile).
import 'node:fs/promises';
import 'node:stream/promises';
import 'node:zlib';
import 'node:readline';
import 'node:child_process';
import 'node:timers/promises';
import { carryPackages } from '../lib/lazy.js';
import { COMMANDS, main, start } from './main.js';

/** Defined (true) by the bundler for the bundled CLI; undefined when this file runs unbundled. */
declare const OCIKIT_BUNDLED: boolean | undefined;
/** The bundle's own location, a variable of the bundle (build/bundle.ts): where its packages and worker are. */
declare let __ocikitBundleUrl: string;

carryPackages({ minimist, undici, 'smol-toml': smolToml });

if (startupSnapshot.isBuildingSnapshot()) {
  // The builder runs the event loop until it is empty, then writes the heap: the warm-up may take turns.
  void warmUp();
  startupSnapshot.setDeserializeMainFunction(() => {
    // The launcher runs `node --snapshot-blob BLOB -- DIR ARGS...`: DIR is where the bundle is now.
    const [, dir = '', ...args] = process.argv;
    const bundle = `${dir}/ocikit.cjs`;
    if (typeof OCIKIT_BUNDLED !== 'undefined') __ocikitBundleUrl = pathToFileURL(bundle).href;
    process.argv.splice(1, 1, bundle);
    start(args);
  });
} else {
  start(process.argv.slice(2));
}

/**
 * Whether the warm-up may read files. Not on Node 26: its node:fs/promises uses explicit resource
 * management (`using`), and V8 crashes (a segmentation fault, in most runs) creating a disposable
 * stack while it builds a snapshot. The snapshot is then built without compiled file-reading code.
 */
const FILE_WARM_UP = Number(process.versions.node.split('.')[0]) < 26;

/**
 * Load every command's modules but serve's (it needs node:http), and run what most commands run so
 * that the snapshot holds it compiled: help, and inspect and manifest-digest of a tiny image written
 * to a temporary directory (removed again: the snapshot remembers no file). Nothing here opens the
 * store: SQLite is a native addon, which a snapshot cannot hold.
 */
async function warmUp(): Promise<void> {
  for (const c of COMMANDS) if (c.name !== 'serve') await c.load();
  const sink = { write: () => true } as unknown as NodeJS.WritableStream;
  const io = { stdout: sink, stderr: sink };
  await main(['--help'], io);
  await main(['copy', '--help'], io);
  // Every docker:// reference reads registries.conf where there is one: its parser, compiled.
  smolToml.parse('[[registry]]\nprefix = "a.example"\nlocation = "b.example"\ninsecure = true\n[[registry.mirror]]\nlocation = "c.example"\n');
  if (!FILE_WARM_UP) return;
  const dir = mkdtempSync(join(tmpdir(), 'ocikit-snapshot-'));
  try {
    const layout = join(dir, 'layout');
    const blob = (bytes: string): { digest: string; size: number } => {
      const hex = createHash('sha256').update(bytes).digest('hex');
      writeFileSync(join(layout, 'blobs', 'sha256', hex), bytes);
      return { digest: `sha256:${hex}`, size: Buffer.byteLength(bytes) };
    };
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const layer = blob('');
    const config = blob(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] }, config: {} }));
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
    });
    const m = blob(manifest);
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'w' } }] }),
    );
    writeFileSync(join(dir, 'manifest.json'), manifest);
    for (const argv of [
      ['inspect', `oci:${layout}:w`],
      ['inspect', '--raw', `oci:${layout}:w`],
      ['inspect', '--config', `oci:${layout}:w`],
      ['manifest-digest', join(dir, 'manifest.json')],
    ]) {
      await main(argv, io);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
