/**
 * `npm run build`'s second step, after tsc: bundle the CLI and the worker with esbuild, then build
 * the start-up snapshot and the launcher (build/snapshot.ts). See build/README.md.
 *
 *   dist/bin/ocikit.cjs   the whole CLI in one CommonJS file: every module of ocikit, minimist, and
 *                         the part of undici the registry client uses (build/undici-lite.cjs); the
 *                         other packages stay in node_modules and load when used (lib/lazy.ts)
 *   dist/bin/worker.cjs   the worker threads' module (workers/entry.ts), likewise
 *
 * CommonJS, not ES modules: Node starts an ES module entry several milliseconds later than a
 * CommonJS one (its module loader), and only a CommonJS script can be the entry of a snapshot.
 */
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { buildSnapshot } from './snapshot.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'dist', 'bin');

/** Packages the CLI bundle carries; every other package is loaded from node_modules when used. */
const CARRIED = ['minimist', 'smol-toml', 'undici'];

/**
 * Stand-ins for two built-ins undici's dispatcher modules require when they load, so that undici
 * can be part of the snapshot (node:http cannot: it opens a handle as it loads) and costs nothing
 * it does not use:
 * - node:http: undici reads `maxHeaderSize` (the default header limit; Node's default, 16 KiB, is
 *   given here) and `IncomingMessage` (to tell a server request used as a body from other streams:
 *   ocikit never sends one through undici, so a class nothing is an instance of serves);
 * - node:http2: only HTTP/2 connections use it, and ocikit's dispatchers do not allow HTTP/2;
 *   undici already treats a missing node:http2 as "no HTTP/2".
 */
const STUBS: Record<string, string> = {
  http: 'module.exports = { maxHeaderSize: 16384, IncomingMessage: class IncomingMessage {} };',
  http2: "throw new Error('HTTP/2 is not part of the ocikit CLI');",
};

const packages: Plugin = {
  name: 'ocikit-packages',
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, () => ({ path: join(root, 'build', 'undici-lite.cjs') }));
    b.onResolve({ filter: /^(node:)?http2?$/ }, (args) => {
      if (!/[\\/]node_modules[\\/]undici[\\/]/.test(args.importer)) return undefined;
      return { path: args.path.replace(/^node:/, ''), namespace: 'ocikit-stub' };
    });
    b.onLoad({ filter: /.*/, namespace: 'ocikit-stub' }, (args) => ({ contents: STUBS[args.path]!, loader: 'js' }));
    // Parts of undici that only some requests need, read from node_modules when first needed.
    b.onResolve({ filter: /llhttp(_simd)?-wasm\.js$|web[\\/]fetch[\\/]body\.js$/ }, (args) => {
      if (!/[\\/]node_modules[\\/]undici[\\/]/.test(args.importer)) return undefined;
      const rel = join(dirname(args.importer), args.path)
        .split(/[\\/]node_modules[\\/]/)
        .pop()!;
      return { path: rel.replace(/\\/g, '/'), namespace: 'ocikit-runtime' };
    });
    // A package left outside the bundle is required at run time from the bundle's location, through a
    // require made then: the snapshot's own require (the builder's) loads only built-ins.
    b.onLoad({ filter: /.*/, namespace: 'ocikit-runtime' }, (args) => ({
      contents: `module.exports = require('node:module').createRequire(__ocikitBundleUrl)(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
    // Bare names: built-ins and packages other than the carried ones stay outside the bundle.
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0]!;
      if (args.path.startsWith('node:') || builtinModules.includes(name)) return { path: args.path, external: true };
      if (CARRIED.includes(name)) return undefined;
      return { path: args.path, namespace: 'ocikit-runtime' };
    });
  },
};

const common = {
  bundle: true,
  format: 'cjs' as const,
  platform: 'node' as const,
  target: 'node20',
  logLevel: 'warning' as const,
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [packages],
  define: { OCIKIT_BUNDLED: 'true', 'import.meta.url': '__ocikitBundleUrl' },
  // import.meta.url of every bundled module is the bundle's own URL; the snapshot's start sets it
  // again to where the bundle is then (cli/bin.ts).
  banner: { js: 'var __ocikitBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
};

await build({ ...common, entryPoints: [join(root, 'dist', 'cli', 'bin.js')], outfile: join(out, 'ocikit.cjs') });
await build({ ...common, entryPoints: [join(root, 'dist', 'workers', 'entry.js')], outfile: join(out, 'worker.cjs') });
buildSnapshot(out, { verbose: true });
