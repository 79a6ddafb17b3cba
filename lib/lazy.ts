/**
 * Every package ocikit uses is loaded here, on first use, not when a module that needs it is
 * imported: a command pays for a native module or a large package only if it uses it (`ocikit
 * --version` loads none of them), and no module's top level touches a package.
 *
 * That second rule is what lets the CLI start from a V8 startup snapshot (cli/bin.ts): the
 * snapshot holds ocikit's own code, already initialised, and nothing that cannot be serialised —
 * native addons, and whatever opens handles when it loads (node:http, which undici needs). In the
 * CLI's bundle (build/bundle.ts) these `require` calls resolve against the installed package's
 * node_modules at run time, except for the packages the bundle carries itself (minimist, smol-toml
 * for registries.conf, and the parts of undici the registry client uses).
 *
 * Each loader is synchronous (these packages are CommonJS) and cached by Node's module cache.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

let req: NodeRequire | undefined;
const carried = new Map<string, unknown>();

/**
 * The CLI's bundle hands over the packages it carries itself (cli/bin.ts): those are taken from
 * here instead of node_modules.
 */
export function carryPackages(packages: Record<string, unknown>): void {
  for (const [id, value] of Object.entries(packages)) carried.set(id, value);
}

/** A package: carried by the bundle, else from node_modules with this module's require, made on first use. */
function load<T>(id: string): T {
  if (carried.has(id)) return carried.get(id) as T;
  req ??= createRequire(import.meta.url);
  return req(id) as T;
}

/** zstd-napi (native): zstd streams. */
export function zstd(): typeof import('zstd-napi') {
  return load('zstd-napi');
}

/** minimist: the command-line parser (cli/flags.ts). */
export function minimist(): typeof import('minimist') {
  return load('minimist');
}

/**
 * node:worker_threads, loaded when a worker or a channel to one is first needed. Not in the CLI's
 * snapshot: the module keeps process state made at load (a shared counter for workers' cwd) that a
 * snapshot does not restore, and workers started from such a process fail.
 */
export function workerThreads(): typeof import('node:worker_threads') {
  return load('node:worker_threads');
}

/** node:http: its STATUS_CODES for error messages (undici, the HTTP client, needs no node:http). */
export function http(): typeof import('node:http') {
  return load('node:http');
}

/**
 * node:tls, loaded when a TLS connection or its CA list is first needed. Not in the CLI's snapshot:
 * it loads a binding (js_stream) whose native functions a snapshot cannot refer to.
 */
export function tls(): typeof import('node:tls') {
  return load('node:tls');
}

/** This thread's id: for temp names, so that parsing and reading never load node:worker_threads. */
export function threadId(): number {
  return workerThreads().threadId;
}

/** tar-stream: the streaming tar parser and packer. */
export function tarStream(): typeof import('tar-stream') {
  return load('tar-stream');
}

/**
 * What ocikit uses of undici: the Agent and the proxy agent. Requests go through
 * `dispatcher.request(options)` (undici's Dispatcher API), so nothing needs undici's top-level
 * `request` helper. In the CLI's bundle this is a cut-down build of undici (build/undici-lite.cjs).
 */
export type Undici = Pick<typeof import('undici'), 'Agent' | 'EnvHttpProxyAgent'>;
export function undici(): Undici {
  return load('undici');
}

/** better-sqlite3 (native): the store's index (lib/store/index-db.ts). */
export function sqlite(): typeof import('better-sqlite3') {
  return load('better-sqlite3');
}

/**
 * Where npm's build of better-sqlite3's addon is, for its `nativeBinding` option; undefined when it
 * is elsewhere (better-sqlite3 then searches with the `bindings` package, which looks in a dozen
 * places and parses a stack trace to find its own directory: several milliseconds per command).
 */
export function sqliteAddon(): string | undefined {
  req ??= createRequire(import.meta.url);
  try {
    const file = join(dirname(req.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

/** yaml: registries.d files and sync's YAML. */
export function yaml(): typeof import('yaml') {
  return load('yaml');
}

/** smol-toml: registries.conf (containers-registries.conf(5)). */
export function toml(): typeof import('smol-toml') {
  return load('smol-toml');
}

/** semver: images-by-semver in sync's YAML. */
export function semver(): typeof import('semver') {
  return load('semver');
}

/** tweetnacl: the secretbox of an encrypted sigstore private key. */
export function nacl(): typeof import('tweetnacl') {
  return load('tweetnacl');
}

/** bcryptjs: htpasswd entries (serve --htpasswd). */
export function bcrypt(): { compare(password: string, hash: string): Promise<boolean> } {
  return load('bcryptjs');
}

/** piscina: the worker pool (lib/pool). */
export function piscina(): typeof import('piscina') {
  return load('piscina');
}

/**
 * jose: JWE for ocicrypt's `jwe` key wrapping (lib/ocicrypt). The 5.x line: its CommonJS build
 * loads with require on every Node ocikit supports (6.x is ES modules only).
 */
export function jose(): typeof import('jose') {
  return load('jose');
}

/**
 * node-forge: PKCS#7 enveloped data for ocicrypt's `pkcs7` key wrapping (lib/ocicrypt), and RSA
 * PKCS#1 v1.5 key transport, which ocicrypt uses and node:crypto no longer decrypts.
 */
export function forge(): typeof import('node-forge') {
  return load('node-forge');
}
