/** ocikit list-tags REPOSITORY: tags (or names) known for a repository, as skopeo list-tags. */
import { OcikitError } from '../lib/errors.js';
import { parseImageName } from '../lib/transports/index.js';
import { positionals, type Command } from './command.js';
import { REGISTRY_FLAGS, REGISTRY_HELP, openStore, repositoryName, systemContext } from './context.js';

const USAGE = 'ocikit list-tags [options] REPOSITORY-NAME';

export const listTagsCommand: Command = {
  name: 'list-tags',
  summary: 'List the tags of a repository (docker://, docker-archive:, oci:, oci-archive:, store:)',
  usage: USAGE,
  help: `Prints {"Repository": NAME, "Tags": [...]} as skopeo list-tags.\n\n${REGISTRY_HELP}`,
  flags: { string: [...REGISTRY_FLAGS.string], boolean: [...REGISTRY_FLAGS.boolean] },
  async run(args, g, io) {
    const [name] = positionals(args, 1, USAGE);
    const ref = parseImageName(name!);
    if (!ref.listTags) throw new OcikitError('E_UNSUPPORTED', `list-tags is not supported for the ${ref.transport.name}: transport`);
    // The store (a mkdir; its index opens on first use) is where store: names are listed from.
    const store = openStore(g);
    let tags: string[];
    try {
      tags = await ref.listTags({ ...systemContext(args, g), store });
    } finally {
      store.close();
    }
    const repo = ref.dockerReference ? repositoryName(ref.dockerReference) : ref.withinTransport;
    io.stdout.write(JSON.stringify({ Repository: repo, Tags: tags }, null, 4) + '\n');
    return 0;
  },
};
