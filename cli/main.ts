/**
 * The ocikit command line: one table of subcommands, skopeo's flag rules (cli/flags.ts), global
 * flags before or after the command, skopeo's exit codes (0 success, 2 image not found, 1 anything
 * else), and one-line errors (`ocikit: ...`), or one JSON object on stderr under --json.
 */
import { setFlagsFromString } from 'node:v8';
import { OcikitError, escapeControl, exitCodeFor, isOcikitError, redact } from '../lib/errors.js';
import { enableCompileCache } from './compile-cache.js';
import { GLOBAL_HELP, VALUE_GLOBALS, globalOptions, parseFlags, type Command, type Io } from './command.js';
import { parseBool } from './flags.js';
import { didYouMean } from './suggest.js';
import { useExtraCaCerts } from '../lib/registry/http.js';
/**
 * The commands: a name and a summary each, and the module to load when the command runs. Only the
 * command that runs is loaded (with what it imports): `ocikit --version` and `--help` load nothing
 * beyond this file, so they start as fast as node does.
 */
interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: CommandEntry[] = [
  { name: 'copy', summary: 'Copy an image from one location to another, through the blob store', load: async () => (await import('./copy.js')).copyCommand },
  { name: 'sync', summary: 'Copy every image of a repository, a directory tree or a YAML list to a registry, directory or layout', load: async () => (await import('./sync.js')).syncCommand },
  { name: 'inspect', summary: 'Inspect an image: its manifest digest, layers, config (as skopeo inspect)', load: async () => (await import('./inspect.js')).inspectCommand },
  { name: 'manifest-digest', summary: 'Compute the digest of a manifest file', load: async () => (await import('./manifest-digest.js')).manifestDigestCommand },
  { name: 'list-tags', summary: 'List the tags of a repository (docker://, docker-archive:, oci:, oci-archive:, store:)', load: async () => (await import('./list-tags.js')).listTagsCommand },
  { name: 'store', summary: 'List, measure, verify and garbage-collect the blob store', load: async () => (await import('./store.js')).storeCommand },
  { name: 'login', summary: 'Log in to a registry and save the credentials in the auth file', load: async () => (await import('./login.js')).loginCommand },
  { name: 'logout', summary: 'Remove the saved credentials of a registry (or of all, with --all)', load: async () => (await import('./logout.js')).logoutCommand },
  { name: 'delete', summary: 'Delete an image from a registry (or, with --untag, only its tag)', load: async () => (await import('./delete.js')).deleteCommand },
  {
    name: 'standalone-sign',
    summary: 'Sign a manifest file with a GPG key from your keyring (simple signing), without copying',
    load: async () => (await import('./standalone-sign.js')).standaloneSignCommand,
  },
  {
    name: 'standalone-verify',
    summary: 'Verify a simple (GPG) signature of a manifest file; prints the digest it signs',
    load: async () => (await import('./standalone-verify.js')).standaloneVerifyCommand,
  },
  {
    name: 'generate-sigstore-key',
    summary: 'Generate a sigstore key pair: PREFIX.private (encrypted, cosign format) and PREFIX.pub',
    load: async () => (await import('./generate-sigstore-key.js')).generateSigstoreKeyCommand,
  },
  { name: 'serve', summary: 'Serve the blob store as a registry (OCI distribution API)', load: async () => (await import('./serve.js')).serveCommand },
  { name: 'bundle', summary: 'Carry images between sites as OCI layout tars, leaving out what the other side has', load: async () => (await import('./bundle.js')).bundleCommand },
];

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

/** True when the last --json / --json=BOOL on the command line says true (read before parsing, for errors in parsing). */
function wantsJson(argv: string[]): boolean {
  let on = false;
  for (const a of argv) {
    if (a === '--') break;
    if (a === '--json') on = true;
    else if (a.startsWith('--json=')) on = parseBool(a.slice(7)) ?? on;
  }
  return on;
}

/**
 * What a command was doing when it was stopped by --command-timeout: the abort reason, raced
 * against the command. Work that does not watch the signal is left behind; the process entry below
 * exits, which removes staging directories (fs-util's exit hook).
 */
export let timedOut = false;

/** Run the CLI with `argv` (without node and the script); returns the exit code. */
export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const debug = argv.includes('--debug');
  const json = wantsJson(argv);
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
      io.stdout.write((sub ? commandHelp(sub, await sub.load()) : topHelp()) + '\n');
      return 0;
    }
    const entry = COMMANDS.find((c) => c.name === name);
    if (!entry)
      throw new OcikitError('E_USAGE', `unknown command "${name}"`, {
        hint: `${didYouMean(
          name,
          COMMANDS.map((c) => c.name),
        )}see ocikit --help`,
      });
    const cmd = await entry.load();
    const rest = [...argv.slice(0, idx), ...argv.slice(idx + 1)];
    const args = parseFlags(rest, cmd.flags, cmd.name);
    if (args.help) {
      io.stdout.write(commandHelp(entry, cmd) + '\n');
      return 0;
    }
    const g = globalOptions(args);
    if (g.commandTimeoutMs === undefined) return await cmd.run(args, g, io);
    const ctl = new AbortController();
    g.signal = ctl.signal;
    const seconds = g.commandTimeoutMs / 1000;
    const expired = new OcikitError('E_ABORTED', `${cmd.name}: the command timed out after ${seconds} s (--command-timeout)`);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        ctl.abort(expired);
        reject(expired);
      }, g.commandTimeoutMs);
    });
    try {
      return await Promise.race([cmd.run(args, g, io), deadline]);
    } catch (err) {
      // Whatever the aborted work threw, the reason is the deadline.
      throw timedOut ? expired : err;
    } finally {
      clearTimeout(timer);
    }
  } catch (err) {
    io.stderr.write((json ? formatJsonError(err) : formatError(err, debug)) + '\n');
    return exitCodeFor(err);
  }
}

/**
 * The one-line error (`ocikit: message (hint)`), with the stack when --debug. The last line of
 * defence for the terminal: whatever the error (ours, or one from a dependency quoting what a
 * source sent), no control character is printed raw, and the line is one line.
 */
export function formatError(err: unknown, debug: boolean): string {
  const msg = err instanceof Error ? err.message : String(err);
  const hint = isOcikitError(err) && err.hint ? ` (${err.hint})` : '';
  let line = escapeControl(`ocikit: ${msg.replace(/\s*\n\s*/g, ' ')}${hint}`);
  if (debug && err instanceof Error && err.stack) line += '\n' + err.stack.split('\n').map(escapeControl).join('\n');
  return redact(line);
}

/** The error as one JSON object for --json: `{"error":{"code","message","hint"}}` (hint only when there is one). */
export function formatJsonError(err: unknown): string {
  const code = isOcikitError(err) ? err.code : 'E_INTERNAL';
  const message = redact((err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' '));
  const hint = isOcikitError(err) ? err.hint : undefined;
  return JSON.stringify({ error: { code, message, ...(hint ? { hint: redact(hint) } : {}) } });
}

function commandHelp(e: CommandEntry, c: Command): string {
  return `${e.summary}\n\nUsage: ${c.usage}\n\n${c.help}\n\n${GLOBAL_HELP}`;
}

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

/**
 * Run the CLI as the process: `argv` without node and the script. What only the process may do is
 * done here and not in main() (which tests call in-process): V8 flags, signal handlers, the exit code.
 * Called by the CLI's entry (cli/bin.ts), straight away or when the process starts from its V8
 * startup snapshot.
 */
export function start(argv: string[]): void {
  // The launcher kept NODE_EXTRA_CA_CERTS from Node's start-up (build/README.md): it is trusted from
  // here on, read when a TLS connection first needs it, and child processes see it as it was.
  const extraCa = process.env.OCIKIT_NODE_EXTRA_CA_CERTS;
  if (extraCa !== undefined) {
    delete process.env.OCIKIT_NODE_EXTRA_CA_CERTS;
    process.env.NODE_EXTRA_CA_CERTS = extraCa;
    useExtraCaCerts(extraCa);
  }
  // Node 22.1+: cache the compiled code of what main() loads lazily (better-sqlite3's JS, piscina, yaml).
  enableCompileCache();
  // undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it with its baseline
  // compiler and then again, optimised, on a background thread, and a process that is done waits
  // for that second compile before it exits: ~160 ms on every registry command here (push again:
  // 630 -> 470 ms), for no measurable gain in parsing (a 528 MB pull took the same time either way).
  // The CLI's process only: the library never changes V8's flags under its host.
  setFlagsFromString('--liftoff-only');
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
  let settled = false;
  // The event loop emptied while the command still waited (a promise nothing will settle): that
  // is a bug, and it MUST NOT pass for success (Node would exit 0).
  process.once('beforeExit', () => {
    if (settled) return;
    process.stderr.write('ocikit: internal error: the command stopped before it finished (it waited on something that can never happen)\n');
    process.exitCode = 1;
  });
  main(argv).then(
    (code) => {
      settled = true;
      process.exitCode = code;
      // Timed out: stop the work that did not watch the signal (exit hooks remove staging directories).
      if (timedOut) process.exit(code);
    },
    (err) => {
      settled = true;
      process.stderr.write(formatError(err, true) + '\n');
      process.exitCode = 1;
    },
  );
}
