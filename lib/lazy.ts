/**
 * Loading the heavier dependencies on first use, not at import: a command pays for a native module
 * or a large package only if it uses it (`ocikit --version` loads none of them). Each loader is
 * synchronous (createRequire; these packages are CommonJS) and cached by Node's module cache.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** zstd-napi (native): zstd streams. */
export function zstd(): typeof import('zstd-napi') {
  return require('zstd-napi') as typeof import('zstd-napi');
}

/** minimist: the command-line parser (cli/flags.ts). */
export function minimist(): typeof import('minimist') {
  return require('minimist') as typeof import('minimist');
}

/** node:worker_threads' threadId: for temp names, so that parsing and reading never load the module. */
export function threadId(): number {
  return (require('node:worker_threads') as typeof import('node:worker_threads')).threadId;
}

/** tar-stream: the streaming tar parser and packer. */
export function tarStream(): typeof import('tar-stream') {
  return require('tar-stream') as typeof import('tar-stream');
}
