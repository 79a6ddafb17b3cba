/**
 * Asking the user on the terminal: a line (user name) or a secret without echo (password), as
 * skopeo login and `--creds USER` do. Without a terminal on stdin nothing is asked: the caller gets
 * a clear E_USAGE instead of a hang on a pipe.
 *
 * Prompts go to stderr, so stdout stays the command's result (`--json`).
 */
import { OcikitError } from '../lib/errors.js';
import type { Io } from './command.js';

type Input = NonNullable<Io['stdin']>;

function input(io: Io | undefined): Input {
  return io?.stdin ?? (process.stdin as Input);
}

function noTerminal(what: string): OcikitError {
  return new OcikitError('E_USAGE', `${what}, and stdin is not a terminal to ask on`, { hint: 'give it on the command line, or run in a terminal' });
}

/**
 * Read one line from the terminal. `hidden`: raw mode, nothing echoed (a password); else the
 * terminal's own line editing and echo (a user name). Ctrl-C or Ctrl-D on an empty line cancel.
 */
async function readTerminalLine(io: Io | undefined, prompt: string, hidden: boolean): Promise<string> {
  const stdin = input(io);
  const out = io?.stderr ?? process.stderr;
  // Echo off before the prompt shows: an answer typed the moment it appears must not be echoed.
  const raw = hidden && typeof stdin.setRawMode === 'function';
  if (raw) stdin.setRawMode!(true);
  out.write(prompt);
  let line = '';
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer | string): void => {
        const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
        for (const ch of text) {
          if (ch === '\r' || ch === '\n') {
            cleanup();
            resolve(line);
            return;
          }
          if (ch === '\u0003' || (ch === '\u0004' && line === '')) {
            cleanup();
            reject(new OcikitError('E_ABORTED', 'cancelled at the prompt'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
          else if (ch >= ' ') line += ch;
        }
      };
      const onEnd = (): void => {
        cleanup();
        reject(new OcikitError('E_USAGE', 'the terminal closed before an answer was given'));
      };
      const cleanup = (): void => {
        stdin.removeListener('data', onData);
        stdin.removeListener('end', onEnd);
        stdin.pause();
      };
      stdin.on('data', onData);
      stdin.once('end', onEnd);
      stdin.resume();
    });
  } finally {
    if (raw) {
      stdin.setRawMode!(false);
      // Raw mode swallowed the Enter: end the prompt's line ourselves.
      out.write('\n');
    }
  }
}

/** Ask for a secret without echo. `what` says what is missing, for the error when there is no terminal. */
export async function promptHidden(io: Io | undefined, prompt: string, what: string): Promise<string> {
  if (!input(io).isTTY) throw noTerminal(what);
  return readTerminalLine(io, prompt, true);
}

/** Ask for a line with echo (a user name). */
export async function promptLine(io: Io | undefined, prompt: string, what: string): Promise<string> {
  if (!input(io).isTTY) throw noTerminal(what);
  return (await readTerminalLine(io, prompt, false)).trim();
}
