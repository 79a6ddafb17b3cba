/** ocikit inspect IMAGE: skopeo's inspect output, --raw, --config. */
import { inspectOutput, ociConfigView, openImage, rawManifestOf } from '../lib/image/index.js';
import { OcikitError } from '../lib/errors.js';
import { parseImageName } from '../lib/transports/index.js';
import { positionals, type Command } from './command.js';
import { REGISTRY_FLAGS, REGISTRY_HELP, openStore, repositoryName, systemContext } from './context.js';

const USAGE = 'ocikit inspect [options] IMAGE-NAME';

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'Inspect an image: its manifest digest, layers, config (as skopeo inspect)',
  usage: USAGE,
  help: `Options:
      --raw        print the raw manifest (or, with --config, the raw config blob)
      --config     print the image config (in OCI form; raw with --raw)
  -n, --no-tags    do not list the repository's tags (docker:// only)

${REGISTRY_HELP}`,
  flags: { boolean: ['raw', 'config', 'no-tags', 'n', ...REGISTRY_FLAGS.boolean], string: ['format', ...REGISTRY_FLAGS.string] },
  async run(args, g, io) {
    const [name] = positionals(args, 1, USAGE);
    if (args.format) throw new OcikitError('E_UNSUPPORTED', 'inspect --format (Go templates) is not supported; use --json output with jq');
    const ref = parseImageName(name!);
    const ctx = systemContext(args, g);
    // Opening the store is a mkdir (its index opens on first use); store: images are read from it.
    const store = openStore(g);
    try {
      if (args.raw && !args.config) {
        const m = await rawManifestOf(ref, { ...ctx, store });
        io.stdout.write(m.bytes);
        return 0;
      }
      const img = await openImage(ref, ctx, store);
      if (args.config && args.raw) {
        io.stdout.write(img.rawConfig);
        return 0;
      }
      if (args.config) {
        io.stdout.write(JSON.stringify(ociConfigView(img.config), null, 4) + '\n');
        return 0;
      }
      const noTags = !!args['no-tags'] || !!args.n;
      let repoTags: string[] = [];
      if (!noTags && ref.listTags && ref.dockerReference && ref.transport.name === 'docker') repoTags = await ref.listTags(ctx);
      const nameOut = ref.dockerReference ? repositoryName(ref.dockerReference) : undefined;
      const out = inspectOutput(img, { ...(nameOut ? { name: nameOut } : {}), repoTags });
      io.stdout.write(JSON.stringify(out, null, 4) + '\n');
      return 0;
    } finally {
      store.close();
    }
  },
};
