/** ocikit logout REGISTRY | --all: remove saved credentials (as skopeo logout). */
import { OcikitError } from '../lib/errors.js';
import { removeAllCredentials, removeCredentials } from '../lib/auth/index.js';
import { type Command } from './command.js';
import { registryKey } from './login.js';

const USAGE = 'ocikit logout [options] REGISTRY | ocikit logout --all';

/** `ocikit logout`. */
export const logoutCommand: Command = {
  name: 'logout',
  usage: USAGE,
  help: `Options:
  -a, --all                remove the credentials of every registry in the auth file
      --authfile PATH      auth file to edit (default $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json)
      --compat-auth-file PATH
                           edit PATH, a Docker-format config.json, instead (no credential helpers)
      --tls-verify[=false] accepted for skopeo's command lines; logout does not contact the registry`,
  flags: { string: ['authfile', 'compat-auth-file'], boolean: ['all', 'tls-verify'], alias: { a: 'all' } },
  async run(args, _g, io) {
    const authFile = args.authfile ? String(args.authfile) : undefined;
    const compat = args['compat-auth-file'] ? String(args['compat-auth-file']) : undefined;
    if (compat !== undefined && authFile !== undefined) throw new OcikitError('E_USAGE', 'logout: --authfile and --compat-auth-file conflict');
    const opts = compat !== undefined ? { dockerCompat: compat } : authFile ? { authFile } : {};
    const pos = args._.map(String);
    if (args.all) {
      if (pos.length) throw new OcikitError('E_USAGE', 'logout: --all takes no REGISTRY', { hint: `usage: ${USAGE}` });
      await removeAllCredentials(opts);
      io.stdout.write('Removed login credentials for all registries\n');
      return 0;
    }
    if (pos.length !== 1) throw new OcikitError('E_USAGE', `logout: expected 1 argument, got ${pos.length}`, { hint: `usage: ${USAGE}` });
    const key = registryKey(pos[0]!);
    if (!(await removeCredentials(key, opts))) throw new OcikitError('E_AUTH', `not logged in to ${key}`);
    io.stdout.write(`Removed login credentials for ${key}\n`);
    return 0;
  },
};
