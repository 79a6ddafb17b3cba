#!/usr/bin/env node
/**
 * The ocikit command line: one table of subcommands, minimist flags, skopeo's exit codes
 * (0 success, 2 image not found, 1 anything else), and one-line errors (`ocikit: ...`).
 */
import { OcikitError, exitCodeFor, isOcikitError, redact } from '../lib/errors.js';
import { GLOBAL_HELP, parseFlags, intFlag, type Command, type GlobalOptions, type Io } from './command.js';
import { copyCommand } from './copy.js';
import { inspectCommand } from './inspect.js';
import { manifestDigestCommand } from './manifest-digest.js';
import { storeCommand } from './store.js';
import { listTagsCommand } from './list-tags.js';
import { loginCommand } from './login.js';
import { logoutCommand } from './logout.js';
import { deleteCommand } from './delete.js';
import { signatureGlobals } from './signing.js';
import { standaloneSignCommand } from './standalone-sign.js';
import { standaloneVerifyCommand } from './standalone-verify.js';
import { generateSigstoreKeyCommand } from './generate-sigstore-key.js';
import { serveCommand } from './serve.js';
import { bundleCommand } from './bundle.js';

const COMMANDS: Command[] = [copyCommand, inspectCommand, manifestDigestCommand, listTagsCommand, storeCommand, loginCommand, logoutCommand, deleteCommand, standaloneSignCommand, standaloneVerifyCommand, generateSigstoreKeyCommand, serveCommand, bundleCommand];

function topHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'ocikit: copy, convert and inspect container images (skopeo-compatible flags)',
    '',
    'Usage: ocikit [global options] COMMAND [options] ARGS',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    GLOBAL_HELP,
    '',
    'Image names are TRANSPORT:REFERENCE, as containers-transports(5): dir:PATH, oci:PATH[:REF|:@N],',
    'oci-archive:PATH[:REF], docker-archive:PATH[:NAME:TAG|:@N], docker://NAME[:TAG|@DIGEST],',
    'docker-daemon:NAME:TAG, containers-storage:[[DRIVER@]ROOT[+RUNROOT]]NAME, store:NAME[:TAG|@DIGEST].',
    'Run "ocikit COMMAND --help" for a command\'s options.',
  ].join('\n');
}

/** Run the CLI with `argv` (without node and the script); returns the exit code. */
export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    // The subcommand is the first argument that is not a flag (global flags may come before it).
    const idx = findCommandIndex(argv);
    if (idx < 0) {
      if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
        io.stdout.write(topHelp() + '\n');
        return argv.length === 0 ? 1 : 0;
      }
      if (argv.includes('--version') || argv.includes('-v')) {
        io.stdout.write('ocikit version 0.1.0\n');
        return 0;
      }
      throw new OcikitError('E_USAGE', 'no command given', { hint: 'see ocikit --help' });
    }
    const name = argv[idx]!;
    if (name === 'help') {
      const sub = COMMANDS.find((c) => c.name === argv[idx + 1]);
      io.stdout.write((sub ? commandHelp(sub) : topHelp()) + '\n');
      return 0;
    }
    const cmd = COMMANDS.find((c) => c.name === name);
    if (!cmd) throw new OcikitError('E_USAGE', `unknown command "${name}"`, { hint: 'see ocikit --help' });
    const rest = [...argv.slice(0, idx), ...argv.slice(idx + 1)];
    const args = parseFlags(rest, cmd.flags, cmd.name);
    if (args.help) {
      io.stdout.write(commandHelp(cmd) + '\n');
      return 0;
    }
    const g: GlobalOptions = {
      debug: !!args.debug,
      quiet: !!args.quiet,
      json: !!args.json,
      store: args.store || undefined,
      jobs: intFlag(args, 'jobs', 1, 256),
      overrideOS: args['override-os'] || undefined,
      overrideArch: args['override-arch'] || undefined,
      overrideVariant: args['override-variant'] || undefined,
      ...signatureGlobals(args),
    };
    return await cmd.run(args, g, io);
  } catch (err) {
    io.stderr.write(formatError(err, debug) + '\n');
    return exitCodeFor(err);
  }
}

/** The one-line error (`ocikit: message (hint)`), with the stack when --debug. */
export function formatError(err: unknown, debug: boolean): string {
  const msg = err instanceof Error ? err.message : String(err);
  const hint = isOcikitError(err) && (err as OcikitError).hint ? ` (${(err as OcikitError).hint})` : '';
  let line = `ocikit: ${msg.replace(/\s*\n\s*/g, ' ')}${hint}`;
  if (debug && err instanceof Error && err.stack) line += '\n' + err.stack;
  return redact(line);
}

function commandHelp(c: Command): string {
  return `${c.summary}\n\nUsage: ${c.usage}\n\n${c.help}\n\n${GLOBAL_HELP}`;
}

const VALUE_GLOBALS = new Set(['--store', '--jobs', '--override-os', '--override-arch', '--override-variant', '--policy', '--registries.d']);
function findCommandIndex(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('-')) {
      if (VALUE_GLOBALS.has(a)) i++;
      continue;
    }
    return i;
  }
  return -1;
}

// Run when executed directly (not when imported by tests).
const invokedAs = process.argv[1] ?? '';
if (invokedAs.endsWith('main.js') || invokedAs.endsWith('ocikit')) {
  const onSignal = (sig: NodeJS.Signals): void => {
    // process.exit runs the exit hooks that remove staging directories: nothing half-written stays.
    process.stderr.write(`ocikit: interrupted (${sig})\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(formatError(err, true) + '\n');
      process.exitCode = 1;
    },
  );
}
