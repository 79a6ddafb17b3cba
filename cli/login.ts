/** ocikit login REGISTRY: check credentials against the registry and save them (as skopeo login). */
import { OcikitError } from '../lib/errors.js';
import { dockerCompatKey, lookupCredentials, storeCredentials } from '../lib/auth/index.js';
import { boolFlag, intFlag, parseDuration, positionals, type Command, type Io } from './command.js';
import { promptHidden, promptLine } from './prompt.js';
import { debugWriter } from './context.js';

const USAGE = 'ocikit login [options] REGISTRY';

/** "docker://host/ns", "https://host/" → "host/ns" / "host": the key credentials are saved under. */
export function registryKey(arg: string): string {
  let s = arg
    .trim()
    .replace(/^docker:\/\//, '')
    .replace(/^https?:\/\//, '')
    .replace(/\/+$/, '');
  if (s === 'index.docker.io' || s.startsWith('index.docker.io/')) s = 'docker.io' + s.slice('index.docker.io'.length);
  if (s === '' || /\s/.test(s) || s.includes('@')) throw new OcikitError('E_USAGE', `invalid registry ${JSON.stringify(arg.slice(0, 100))}`);
  return s;
}

/** Read all of stdin (for --password-stdin), without its final newline. */
async function readStdin(io: Io): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of io.stdin ?? process.stdin) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** `ocikit login`. */
export const loginCommand: Command = {
  name: 'login',
  usage: USAGE,
  help: `Options:
  -u, --username U         user name
  -p, --password P         password (visible to other users in the process list; prefer --password-stdin)
      --password-stdin     read the password from stdin
      --get-login          print the user name saved for REGISTRY and exit
  -v, --verbose            say which auth file was written
Without --username or a password, both are asked for on the terminal (the password without echo).
      --authfile PATH      auth file to write (default $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json)
      --compat-auth-file PATH
                           write the credentials to PATH in Docker's config.json format instead
                           (Docker Hub as https://index.docker.io/v1/; no credential helpers)
      --cert-dir DIR       CA certificates (*.crt) and client certificate (*.cert, *.key)
      --tls-verify=false   allow plain http and certificates that do not verify
      --retry-times N, --retry-delay DURATION
The auth file is written with mode 0600. REGISTRY may name a namespace (host/team) to keep separate credentials for it.`,
  flags: {
    string: ['username', 'password', 'authfile', 'compat-auth-file', 'cert-dir', 'retry-times', 'retry-delay'],
    boolean: ['password-stdin', 'get-login', 'tls-verify', 'verbose'],
    alias: { u: 'username', p: 'password', v: 'verbose' },
  },
  async run(args, g, io) {
    const [arg] = positionals(args, 1, USAGE);
    const key = registryKey(arg!);
    const host = key.split('/')[0]!;
    const path = key.includes('/') ? key.slice(host.length + 1) : undefined;
    const authFile = args.authfile ? String(args.authfile) : undefined;
    const compat = args['compat-auth-file'] ? String(args['compat-auth-file']) : undefined;
    if (compat !== undefined && authFile !== undefined) throw new OcikitError('E_USAGE', 'login: --authfile and --compat-auth-file conflict');
    if (compat !== undefined) dockerCompatKey(key);

    if (args['get-login']) {
      const found = await lookupCredentials(host, path, (compat ?? authFile) ? { authFile: (compat ?? authFile)! } : {});
      if (!found) throw new OcikitError('E_AUTH', `not logged in to ${key}`);
      io.stdout.write(`${found.credentials.username}\n`);
      return 0;
    }

    if (args.password !== undefined && args.password !== '' && args['password-stdin']) throw new OcikitError('E_USAGE', 'login: --password and --password-stdin conflict');
    if (args['password-stdin'] && !args.username) throw new OcikitError('E_USAGE', 'login: --password-stdin needs --username', { hint: 'ocikit login -u USER --password-stdin REGISTRY' });
    // As skopeo: what is not on the command line is asked for on the terminal.
    let username = args.username ? String(args.username) : '';
    if (username === '') username = await promptLine(io, 'Username: ', 'login: no --username given');
    if (username === '') throw new OcikitError('E_USAGE', 'login: the user name is empty');
    let password: string;
    if (args['password-stdin']) password = await readStdin(io);
    else if (args.password !== undefined && args.password !== '') password = String(args.password);
    else password = await promptHidden(io, 'Password: ', 'login: no password given (--password-stdin or --password)');
    if (password === '') throw new OcikitError('E_USAGE', 'login: the password is empty');

    // Loaded here, not at start-up: the registry client (undici) costs ~200 ms to import.
    const { checkLogin } = await import('../lib/registry/index.js');
    const opts: Parameters<typeof checkLogin>[2] = {};
    if (args['tls-verify'] !== undefined) opts.tlsVerify = boolFlag(args, 'tls-verify', true);
    if (args['cert-dir']) opts.certDir = String(args['cert-dir']);
    const rt = intFlag(args, 'retry-times', 0, 100);
    if (rt !== undefined) opts.retryTimes = rt;
    if (args['retry-delay']) opts.retryDelayMs = parseDuration('retry-delay', String(args['retry-delay']));
    if (g.registriesConf) opts.registriesConf = g.registriesConf;
    if (g.debug) opts.debug = debugWriter(io.stderr);
    await checkLogin(host, { username, password }, opts);
    const used = await storeCredentials(key, username, password, compat !== undefined ? { dockerCompat: compat } : authFile ? { authFile } : {});
    if (boolFlag(args, 'verbose', false))
      // Two spaces, as skopeo prints it (Go's Println of "Used: " and the path).
      io.stdout.write(`Used:  ${used}\n`);
    io.stdout.write('Login Succeeded!\n');
    return 0;
  },
};
