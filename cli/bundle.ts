/** ocikit bundle create|inventory|apply: incremental bundles for sites without a network between them. */
import { writeFile } from 'node:fs/promises';
import { applyBundle, createBundle, makeInventory, readInventory } from '../lib/bundle/index.js';
import { OcikitError, wrapError } from '../lib/errors.js';
import { parsePlatform } from '../lib/manifest/index.js';
import { WorkerPool } from '../lib/pool/index.js';
import { parseImageName } from '../lib/transports/index.js';
import { isStdoutPath } from '../lib/transports/tar/std-paths.js';
import { many, type Command } from './command.js';
import { COPY_REGISTRY_FLAGS, commandStore, transportOptions } from './context.js';
import { copyPolicy } from './signing.js';

const USAGE = 'ocikit bundle create IMAGE... -o BUNDLE.tar [--since INVENTORY.json] | inventory [-o FILE] | apply BUNDLE.tar';

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

export const bundleCommand: Command = {
  name: 'bundle',
  usage: USAGE,
  help: `Subcommands:
  create IMAGE... -o BUNDLE.tar   one OCI image layout in a tar (what oci-archive: reads) holding the
                                  images' manifests, configs and layers; each image is named by its
                                  docker reference or store: name (docker://busybox:1 ->
                                  docker.io/library/busybox:1); images are checked against the trust policy
      --since INVENTORY.json      leave out every blob this inventory of the receiving store lists
  -a, --all                       take every image of a multi-image index (default: this platform's)
      --platform OS/ARCH[/VAR]    take these images of an index (repeatable)
  inventory [-o FILE]             print (or write) the digests of the blobs this store keeps (what its refs reach), for --since
  apply BUNDLE.tar                verify every blob, store the images as store:NAME (for copy and serve);
                                  a bundle that lacks a blob this store does not have changes nothing

Registry options of create are copy's --src-… ones (--src-creds, --src-tls-verify=false, ...).`,
  flags: {
    string: ['output', 'since', 'platform', ...COPY_REGISTRY_FLAGS.string],
    boolean: ['all', ...COPY_REGISTRY_FLAGS.boolean],
    alias: { o: 'output', a: 'all' },
    repeatable: ['platform'],
  },
  async run(args, g, io) {
    const sub = args._[0] === undefined ? undefined : String(args._[0]);
    const rest = args._.slice(1).map(String);
    switch (sub) {
      case 'inventory': {
        if (rest.length > 0) throw new OcikitError('E_USAGE', 'bundle inventory: no arguments expected', { hint: `usage: ${USAGE}` });
        const store = commandStore(g);
        try {
          const text = JSON.stringify(await makeInventory(store.get())) + '\n';
          if (args.output) await writeFile(String(args.output), text).catch((err) => Promise.reject(wrapError(err, `writing ${String(args.output)}`)));
          else io.stdout.write(text);
        } finally {
          store.close();
        }
        return 0;
      }
      case 'create': {
        if (rest.length === 0) throw new OcikitError('E_USAGE', 'bundle create: name at least one image', { hint: `usage: ${USAGE}` });
        if (!args.output) throw new OcikitError('E_USAGE', 'bundle create: -o BUNDLE.tar is required');
        const images = rest.map((r) => parseImageName(r));
        const since = args.since ? await readInventory(String(args.since)) : undefined;
        const policy = await copyPolicy(g, io);
        const store = commandStore(g);
        const pool = new WorkerPool(g.jobs ? { threads: g.jobs } : {});
        try {
          const res = await createBundle(images, String(args.output), {
            store: store.get(),
            pool,
            ...(since ? { since } : {}),
            copy: {
              sourceCtx: await transportOptions(args, g, 'src', io),
              multiArch: args.all ? 'all' : 'system',
              platforms: many(args, 'platform').map((p) => parsePlatform(p)),
              ...(policy ? { policy } : {}),
              ...(g.jobs ? { jobs: g.jobs } : {}),
            },
            onImage: (name, digest) => {
              if (!g.quiet) io.stderr.write(`taking ${name} (${digest})\n`);
            },
          });
          // The bundle itself may be going to standard output: the summary then goes to stderr.
          const say = isStdoutPath(String(args.output)) ? io.stderr : io.stdout;
          if (g.json) say.write(JSON.stringify(res) + '\n');
          else
            say.write(
              `wrote ${String(args.output)}: ${res.images.length} image${res.images.length === 1 ? '' : 's'}, ${res.blobs} blobs (${mb(res.blobBytes)})${since ? `, left out ${res.leftOut} blobs (${mb(res.leftOutBytes)}) the receiver has` : ''}\n`,
            );
          return 0;
        } finally {
          await policy?.close();
          await pool.close();
          store.close();
        }
      }
      case 'apply': {
        if (rest.length !== 1) throw new OcikitError('E_USAGE', 'bundle apply: name one bundle', { hint: `usage: ${USAGE}` });
        const store = commandStore(g);
        const pool = new WorkerPool(g.jobs ? { threads: g.jobs } : {});
        try {
          const res = await applyBundle(rest[0]!, { store: store.get(), pool });
          if (g.json) io.stdout.write(JSON.stringify(res) + '\n');
          else {
            for (const i of res.images) io.stdout.write(`${i.digest}  store:${i.name}\n`);
            if (!g.quiet)
              io.stderr.write(`applied ${res.images.length} image${res.images.length === 1 ? '' : 's'}: stored ${res.stored} blobs (${mb(res.storedBytes)}), ${res.present} already here\n`);
          }
          return 0;
        } finally {
          await pool.close();
          store.close();
        }
      }
      default:
        throw new OcikitError('E_USAGE', sub ? `bundle: unknown subcommand "${sub}"` : 'bundle: expected a subcommand', { hint: `usage: ${USAGE}` });
    }
  },
};
