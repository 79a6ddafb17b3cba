/** ocikit serve: the store as a registry (OCI distribution API). */
import { readFileSync } from 'node:fs';
import { OcikitError, wrapError } from '../lib/errors.js';
import { AccessPolicy, Htpasswd, RegistryServer, parseMirrorSpec, type ServeOptions } from '../lib/serve/index.js';
import { boolFlag, many, type Command } from './command.js';
import { commandStore, parseDuration } from './context.js';

const USAGE = 'ocikit serve [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE] [--htpasswd FILE [--access FILE] [--auth token|basic]] [--read-only]';

/** "HOST:PORT", ":PORT", "[V6]:PORT" or "PORT". */
export function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(v) ?? (/^(\d{1,5})$/.exec(v) ? [v, undefined, '', v] : null);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port > 65535) throw new OcikitError('E_USAGE', `--listen: expected HOST:PORT (e.g. 127.0.0.1:5000), got ${JSON.stringify(v)}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

function badMirror(v: string): never {
  throw new OcikitError('E_USAGE', `--mirror: expected REGISTRY or REGISTRY=HOST[:PORT] (e.g. docker.io, quay.io=127.0.0.1:5001), got ${JSON.stringify(v)}`);
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw wrapError(err, `reading --${flag} ${path}`);
  }
}

export const serveCommand: Command = {
  name: 'serve',
  usage: USAGE,
  help: `Serves the images in the store (see README "ocikit serve" for which names): pulls by tag and
digest, blobs with Range, tags and catalog with pagination, the OCI 1.1 referrers API, and, unless
--read-only, pushes (monolithic, chunked and resumable across restarts, cross-repository mount) and
deletes; users and per-repository rights, a pull-through mirror, an access log, metrics and a page
to browse it at / in a web browser. Runs until SIGTERM or SIGINT (then stops gracefully).

Options:
      --listen HOST:PORT     address to listen on (default 127.0.0.1:5000; port 0 picks a free one)
      --tls-cert FILE        serve https with this certificate (PEM, chain first); needs --tls-key
      --tls-key FILE         the certificate's private key (PEM)
      --htpasswd FILE        require authentication as a user of this file (bcrypt entries, htpasswd -B)
      --access FILE          who may pull, push and delete which repositories (YAML; see README
                             "ocikit serve"); without it every user may do everything
      --auth token|basic     how clients are asked to log in: Bearer tokens from this server's
                             /token endpoint, one password check per token (default), or Basic
      --token-ttl DURATION   how long a token is valid (default 5m)
      --token-realm URL      the token endpoint's URL as clients reach it (default: this server's
                             /token, by the Host the client used)
      --read-only            refuse pushes and deletes
      --timeout DURATION     disconnect a client silent this long: headers unfinished, body stalled,
                             or not reading (default 30s)
      --gc-grace DURATION    blobs served or pushed this recently are kept by a concurrent
                             ocikit store gc even when no image refers to them yet (default 10m)
      --upload-expiry DURATION  remove an upload session idle this long, with its data (default 1h);
                             until then it survives restarts: the client carries on where it was
      --uploads-per-client N upload sessions one client (a user, or an address when anonymous)
                             may hold at once; more are refused with 429 (default 100)
      --mirror REGISTRY[=HOST[:PORT]]  a pull-through mirror of REGISTRY (repeatable): a pull the
                             store cannot answer, of a name of that registry (docker.io's also
                             without a host: library/busybox), is fetched from it (at HOST:PORT
                             when given), verified, stored and served from then on; credentials
                             from the usual auth files
      --mirror-max-age DURATION  a mirrored tag is checked upstream again when older (default 10m)
      --mirror-tls-verify=false  reach mirrored registries over plain http or without checking
                             their certificates
      --no-sync              do not fsync pushed blobs (faster; a power loss can lose them)
      --log-format text|json one access log line per request on stdout (method, path, status,
                             bytes, duration, user): text (default) or JSON lines
      --metrics              answer GET /metrics in the Prometheus text format (behind the same
                             login; admins only with --access)
      --shutdown-grace DURATION  on SIGTERM or SIGINT, let requests in flight finish for this
                             long (default 30s) while refusing new ones; a second signal exits now
  -q, --quiet                no access log

GET /healthz answers 200 (503 while shutting down or when the store cannot be read), without
credentials.

Prints "listening on URL" on stdout once it accepts connections.`,
  flags: {
    string: [
      'listen',
      'tls-cert',
      'tls-key',
      'htpasswd',
      'access',
      'auth',
      'token-ttl',
      'token-realm',
      'timeout',
      'gc-grace',
      'upload-expiry',
      'uploads-per-client',
      'mirror',
      'mirror-max-age',
      'log-format',
      'shutdown-grace',
    ],
    boolean: ['read-only', 'no-sync', 'mirror-tls-verify', 'metrics'],
    repeatable: ['mirror'],
  },
  async run(args, g, io) {
    if (args._.length > 0) throw new OcikitError('E_USAGE', `serve: unexpected argument ${JSON.stringify(String(args._[0]))}`, { hint: `usage: ${USAGE}` });
    const { host, port } = parseListen(args.listen ? String(args.listen) : '127.0.0.1:5000');
    const certFile = args['tls-cert'] ? String(args['tls-cert']) : undefined;
    const keyFile = args['tls-key'] ? String(args['tls-key']) : undefined;
    if ((certFile === undefined) !== (keyFile === undefined)) throw new OcikitError('E_USAGE', 'serve: --tls-cert and --tls-key go together');
    const opts: Omit<ServeOptions, 'store'> = {
      host,
      port,
      readOnly: !!args['read-only'],
      log: (line) => io.stderr.write(line + '\n'),
    };
    if (certFile && keyFile) opts.tls = { cert: readPem(certFile, 'tls-cert'), key: readPem(keyFile, 'tls-key') };
    if (args.htpasswd) opts.htpasswd = Htpasswd.load(String(args.htpasswd));
    if (args.access) opts.access = AccessPolicy.load(String(args.access), opts.htpasswd?.users ?? new Set());
    if (args.auth !== undefined) {
      const a = String(args.auth);
      if (a !== 'token' && a !== 'basic') throw new OcikitError('E_USAGE', `--auth: expected token or basic, got ${JSON.stringify(a)}`);
      opts.auth = a;
    }
    if (args['token-ttl']) {
      const ms = parseDuration('token-ttl', String(args['token-ttl']));
      if (ms < 10_000) throw new OcikitError('E_USAGE', '--token-ttl: at least 10s');
      opts.tokenTtlSeconds = Math.round(ms / 1000);
    }
    if (args['token-realm']) {
      const r = String(args['token-realm']);
      if (!/^https?:\/\/[^\s"]+$/.test(r)) throw new OcikitError('E_USAGE', `--token-realm: expected an http(s) URL, got ${JSON.stringify(r)}`);
      opts.tokenRealm = r;
    }
    if (args.timeout) opts.timeoutMs = parseDuration('timeout', String(args.timeout));
    if (args['gc-grace']) opts.gcGraceMs = parseDuration('gc-grace', String(args['gc-grace']));
    if (args['upload-expiry']) opts.uploadExpiryMs = parseDuration('upload-expiry', String(args['upload-expiry']));
    if (opts.uploadExpiryMs !== undefined && opts.uploadExpiryMs < 1000) throw new OcikitError('E_USAGE', '--upload-expiry: at least 1s');
    if (args['uploads-per-client'] !== undefined) {
      const n = Number(args['uploads-per-client']);
      if (!Number.isSafeInteger(n) || n < 1) throw new OcikitError('E_USAGE', `--uploads-per-client: expected a positive whole number, got ${JSON.stringify(String(args['uploads-per-client']))}`);
      opts.uploadsPerClient = n;
    }
    const mirrors = many(args, 'mirror').map((m) => parseMirrorSpec(m) ?? badMirror(m));
    if (mirrors.length > 0) {
      opts.mirrors = mirrors;
      opts.mirrorRegistry = { tlsVerify: boolFlag(args, 'mirror-tls-verify', true) };
      if (args['mirror-max-age']) opts.mirrorMaxAgeMs = parseDuration('mirror-max-age', String(args['mirror-max-age']));
    }
    const logFormat = args['log-format'] === undefined ? 'text' : String(args['log-format']);
    if (logFormat !== 'text' && logFormat !== 'json') throw new OcikitError('E_USAGE', `--log-format: expected text or json, got ${JSON.stringify(logFormat)}`);
    opts.logFormat = logFormat;
    if (!g.quiet) opts.accessLog = (line) => io.stdout.write(line + '\n');
    opts.metrics = boolFlag(args, 'metrics', false);
    const graceMs = args['shutdown-grace'] ? parseDuration('shutdown-grace', String(args['shutdown-grace'])) : 30_000;
    if (opts.timeoutMs !== undefined && opts.timeoutMs < 100) throw new OcikitError('E_USAGE', '--timeout: at least 100ms');
    if (opts.gcGraceMs !== undefined && opts.gcGraceMs < 100) throw new OcikitError('E_USAGE', '--gc-grace: at least 100ms');

    const store = commandStore(g, { durable: !boolFlag(args, 'no-sync', false) });
    let server: RegistryServer;
    try {
      server = await RegistryServer.start({ store: store.get(), ...opts });
    } catch (err) {
      store.close();
      throw err;
    }
    io.stdout.write(`listening on ${server.url}\n`);
    // SIGTERM or SIGINT: stop listening, let what is in flight finish, then exit 0; a second
    // signal exits at once. Unfinished uploads stay in the store for the next start; the store's
    // leases of a dead process are ignored by gc.
    for (const sig of ['SIGTERM', 'SIGINT'] as const) for (const l of process.listeners(sig)) process.off(sig, l);
    await new Promise<void>((resolve) => {
      const stop = (sig: NodeJS.Signals): void => {
        if (server.draining) {
          io.stderr.write(`ocikit serve: ${sig} again: exiting now\n`);
          process.exit(sig === 'SIGINT' ? 130 : 143);
        }
        io.stderr.write(`ocikit serve: ${sig}: finishing the requests in flight, refusing new ones\n`);
        void server.shutdown(graceMs).then(resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    store.close();
    return 0;
  },
};
