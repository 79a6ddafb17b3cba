/** ocikit inspect IMAGE: skopeo's inspect output, --raw, --config. */
import { inspectOutput, ociConfigView, openImage, rawManifestOf, referrersOf } from '../lib/image/index.js';
import { OcikitError } from '../lib/errors.js';
import { parseImageName } from '../lib/transports/index.js';
import { many, positionals, type Command } from './command.js';
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
      --referrers  list the image's OCI 1.1 referrers instead (JSON: digest, artifactType, mediaType,
                   size, annotations), from a registry's referrers API or fallback tag, or an OCI
                   layout's index.json (not in skopeo)
      --artifact-type TYPE
                   with --referrers: only referrers of this artifact type (repeatable)

${REGISTRY_HELP}`,
  flags: { boolean: ['raw', 'config', 'no-tags', 'n', 'referrers', ...REGISTRY_FLAGS.boolean], string: ['format', 'artifact-type', ...REGISTRY_FLAGS.string], repeatable: ['artifact-type'] },
  async run(args, g, io) {
    const [name] = positionals(args, 1, USAGE);
    if (args.format) throw new OcikitError('E_UNSUPPORTED', 'inspect --format (Go templates) is not supported; use --json output with jq');
    const ref = parseImageName(name!);
    const ctx = systemContext(args, g);
    const artifactTypes = many(args, 'artifact-type');
    if (artifactTypes.length > 0 && !args.referrers) throw new OcikitError('E_USAGE', '--artifact-type chooses which referrers to list: it needs --referrers');
    if (args.referrers) {
      if (args.raw || args.config) throw new OcikitError('E_USAGE', '--referrers lists referrers: it does not combine with --raw or --config');
      io.stdout.write(JSON.stringify(await referrersOf(ref, ctx, artifactTypes), null, 4) + '\n');
      return 0;
    }
    if (args.raw && !args.config) {
      const m = await rawManifestOf(ref, ctx);
      io.stdout.write(m.bytes);
      return 0;
    }
    const store = openStore(g);
    try {
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
