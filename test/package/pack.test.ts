/**
 * The package as users get it: `npm pack` of this tree, installed into an empty project. The
 * tarball holds what a user needs (the library, the CLI's bundle and launcher, README, LICENSE) and
 * nothing else; its install step builds the start-up snapshot for the installing Node; the command
 * and a strict TypeScript consumer of the library work from the installed copy.
 *
 * The pack runs in a copy of the files it packs, so that its prepack/postpack steps (which rewrite
 * dist/bin's launcher) never touch this tree while other tests run the CLI. The project gets the
 * production packages the lockfile lists copied from this tree's node_modules before the install
 * (npm then keeps them, compiled as they are, and installs offline): the test needs no network and
 * no native rebuild.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fixture, repoRoot, tempDir } from '../helpers/paths.js';

const HELLO_DIGEST = 'sha256:0f84579c704be60c6d3004afdf7a54631e413c026e4b8cf2dbb90aee9a3495f7';

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** npm of this Node (the one .ci/run puts first on PATH). */
const npm = join(dirname(process.execPath), 'npm');

describe('the npm package', () => {
  let tarball: string;
  let app: string;
  let files: string[];

  before(() => {
    const work = tempDir('ocikit-pack-');
    const src = join(work, 'src');
    mkdirSync(join(src, 'dist'), { recursive: true });
    for (const f of ['package.json', 'README.md', 'LICENSE']) cpSync(join(repoRoot, f), join(src, f));
    for (const d of ['lib', 'workers', 'bin', 'build', 'test', 'bench']) cpSync(join(repoRoot, 'dist', d), join(src, 'dist', d), { recursive: true, preserveTimestamps: true });
    run(existsSync(npm) ? npm : 'npm', ['pack', '--silent', '--pack-destination', work], src);
    tarball = join(
      work,
      readdirSync(work).find((f) => f.endsWith('.tgz'))!,
    );
    files = run('tar', ['-tzf', tarball], work)
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));

    app = join(work, 'app');
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    for (const [p, v] of Object.entries(lock.packages)) {
      if (!p.startsWith('node_modules/') || v.dev || !existsSync(join(repoRoot, p))) continue;
      mkdirSync(dirname(join(app, p)), { recursive: true });
      cpSync(join(repoRoot, p), join(app, p), { recursive: true });
    }
    run(existsSync(npm) ? npm : 'npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', tarball], app);
  });

  it('holds the library, the CLI and its docs, and no tests, bench, fixtures or source maps', () => {
    for (const want of [
      'package.json',
      'README.md',
      'LICENSE',
      'dist/lib/index.js',
      'dist/lib/index.d.ts',
      'dist/workers/entry.js',
      'dist/bin/ocikit',
      'dist/bin/ocikit.cjs',
      'dist/bin/worker.cjs',
      'dist/build/snapshot.js',
    ]) {
      assert.ok(files.includes(want), `${want} is in the package`);
    }
    const unwanted = files.filter(
      (f) => /^(test|bench|fixtures|\.ci|lib|cli|workers|build)\//.test(f) || /^dist\/(test|bench|fixtures|cli)\//.test(f) || f.endsWith('.map') || /ocikit\.(blob|stamp)$/.test(f),
    );
    assert.deepEqual(unwanted, []);
  });

  it('ships a launcher that records no machine, and the install step builds this Node its snapshot', () => {
    const shipped = run('tar', ['-xzOf', tarball, 'package/dist/bin/ocikit'], dirname(tarball));
    assert.match(shipped, /^node=''$/m);
    assert.match(shipped, /^bin=''$/m);
    const bin = join(app, 'node_modules', 'ocikit', 'dist', 'bin');
    assert.ok(existsSync(join(bin, 'ocikit.blob')), 'the install step built a snapshot');
    const installed = readFileSync(join(bin, 'ocikit'), 'utf8');
    assert.ok(installed.includes(`node='${process.execPath}'`), installed.split('\n').slice(0, 6).join('\n'));
  });

  it('the command converts an image from the installed package', () => {
    const out = join(tempDir('ocikit-pack-out-'), 'img');
    const ocikit = join(app, 'node_modules', '.bin', 'ocikit');
    run(ocikit, ['--insecure-policy', '--store', join(app, 'store'), 'copy', '-q', `oci:${fixture('hello-oci')}:latest`, `oci:${out}:x`], app);
    assert.equal(run(ocikit, ['inspect', '--format', '{{.Digest}}', `oci:${out}:x`], app).trim(), HELLO_DIGEST);
  });

  it('a strict TypeScript consumer compiles against the installed declarations and runs', () => {
    // What any TypeScript consumer of a Node library has.
    mkdirSync(join(app, 'node_modules', '@types'), { recursive: true });
    if (!existsSync(join(app, 'node_modules', '@types', 'node'))) symlinkSync(join(repoRoot, 'node_modules', '@types', 'node'), join(app, 'node_modules', '@types', 'node'));
    writeFileSync(
      join(app, 'consumer.ts'),
      [
        "import { copyImage, openStore, parseImageName, isOcikitError, LazyStore, type CopyResult, type StoreHandle, type TransportOptions } from 'ocikit';",
        `const store = openStore(${JSON.stringify(join(app, 'consumer-store'))});`,
        'try {',
        `  const r: CopyResult = await copyImage(parseImageName(${JSON.stringify(`oci:${fixture('hello-oci')}:latest`)}), parseImageName(${JSON.stringify(`dir:${join(app, 'consumer-out')}`)}), { store });`,
        '  console.log(r.manifestDigest);',
        '} catch (err) {',
        "  console.error(isOcikitError(err) ? err.code : 'unexpected');",
        '  process.exitCode = 1;',
        '} finally {',
        '  store.close();',
        '}',
        // The grouped context and the store handle, as a library caller writes them (compiled, not run).
        'export function pushLazily(): Promise<unknown> {',
        `  const lazy = new LazyStore(${JSON.stringify(join(app, 'lazy-store'))});`,
        '  const handle: StoreHandle = lazy;',
        "  const destCtx: TransportOptions = { registry: { tlsVerify: false, credentials: { username: 'u', password: 'p' } }, write: { noSync: true }, events: { signal: AbortSignal.timeout(1000), onStatus: (line: string) => void line } };",
        "  return copyImage(parseImageName('oci:/a:b'), parseImageName('docker://registry.example/app:1'), { store: handle, sourceCtx: { platform: { overrideArch: 'arm64' } }, destCtx }).finally(() => lazy.close());",
        '}',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, skipLibCheck: false, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', types: ['node'], outDir: 'out' },
        files: ['consumer.ts'],
      }),
    );
    run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], app);
    assert.equal(run(process.execPath, [join(app, 'out', 'consumer.js')], app).trim(), HELLO_DIGEST);
  });
});
