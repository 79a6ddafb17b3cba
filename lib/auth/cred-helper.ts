/**
 * Docker credential helpers: the `docker-credential-NAME` programs named by `credHelpers` and
 * `credsStore` in an auth file. The protocol (docker-credential-helpers): the action is the one
 * argument (get, store, erase); `get` and `erase` read the server URL on stdin, `store` reads
 * `{"ServerURL","Username","Secret"}`; `get` prints the same JSON, or fails with
 * "credentials not found in native keychain".
 *
 * WARNING: a helper's stdout carries a secret. It is parsed and never quoted in an error; its
 * stderr is never quoted either, since a helper may echo what it was given.
 */
import { spawn } from 'node:child_process';
import { OcikitError, quoteUntrusted } from '../errors.js';

/** Credentials a helper returned. `username` "<token>" means `secret` is an identity token. */
export interface HelperCredentials {
  username: string;
  secret: string;
}

const HELPER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const HELPER_TIMEOUT_MS = 30_000;
const MAX_OUTPUT = 64 * 1024;

/** The program a helper name stands for; E_BAD_INPUT for a name that could escape the docker-credential- prefix. */
export function helperProgram(name: string): string {
  if (!HELPER_NAME_RE.test(name)) throw new OcikitError('E_BAD_INPUT', `credential helper name ${quoteUntrusted(name, 64)} is not valid`);
  return `docker-credential-${name}`;
}

interface HelperResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runHelper(name: string, action: 'get' | 'store' | 'erase', input: string): Promise<HelperResult> {
  const prog = helperProgram(name);
  return new Promise((resolve, reject) => {
    // Our own timer rather than spawn's `timeout`: that one is never cleared when the program is
    // missing ('error' without 'exit') and would hold the process open for the full timeout.
    const child = spawn(prog, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), HELPER_TIMEOUT_MS);
    timer.unref();
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += d;
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT') {
        reject(new OcikitError('E_AUTH', `credential helper ${prog} is not installed`, { hint: `install ${prog} or remove it from credHelpers/credsStore in the auth file` }));
      } else {
        reject(new OcikitError('E_AUTH', `running credential helper ${prog}: ${err.code ?? 'failed'}`));
      }
    });
    // A helper that exits before reading stdin makes the write fail with EPIPE: the exit code tells the story.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

function notFound(r: HelperResult): boolean {
  // The helpers' own wording (docker-credential-helpers credentials.NewErrCredentialsNotFound).
  return /credentials not found/i.test(r.stdout) || /credentials not found/i.test(r.stderr);
}

/** Ask helper `name` for the credentials of `serverURL`; undefined when it has none. */
export async function helperGet(name: string, serverURL: string): Promise<HelperCredentials | undefined> {
  const r = await runHelper(name, 'get', serverURL);
  if (r.code !== 0) {
    if (notFound(r)) return undefined;
    throw new OcikitError('E_AUTH', `credential helper ${helperProgram(name)} failed for ${serverURL} (exit ${r.code})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(r.stdout);
  } catch {
    throw new OcikitError('E_AUTH', `credential helper ${helperProgram(name)} printed something that is not JSON for ${serverURL}`);
  }
  const o = v as { Username?: unknown; Secret?: unknown };
  if (typeof o !== 'object' || o === null || typeof o.Username !== 'string' || typeof o.Secret !== 'string') {
    throw new OcikitError('E_AUTH', `credential helper ${helperProgram(name)} answered without Username and Secret for ${serverURL}`);
  }
  if (o.Secret === '') return undefined;
  return { username: o.Username, secret: o.Secret };
}

/** Store credentials for `serverURL` with helper `name`. */
export async function helperStore(name: string, serverURL: string, creds: HelperCredentials): Promise<void> {
  const r = await runHelper(name, 'store', JSON.stringify({ ServerURL: serverURL, Username: creds.username, Secret: creds.secret }));
  if (r.code !== 0) throw new OcikitError('E_AUTH', `credential helper ${helperProgram(name)} could not store credentials for ${serverURL} (exit ${r.code})`);
}

/** Erase the credentials of `serverURL` from helper `name`. Returns false when it had none. */
export async function helperErase(name: string, serverURL: string): Promise<boolean> {
  const r = await runHelper(name, 'erase', serverURL);
  if (r.code === 0) return true;
  if (notFound(r)) return false;
  throw new OcikitError('E_AUTH', `credential helper ${helperProgram(name)} could not erase credentials for ${serverURL} (exit ${r.code})`);
}
