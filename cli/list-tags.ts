/** ocikit list-tags REPOSITORY: tags (or names) known for a repository, as skopeo list-tags. */
import { OcikitError } from '../lib/errors.js';
import { parseImageName } from '../lib/transports/index.js';
import { positionals, type Command } from './command.js';
import { REGISTRY_FLAGS, REGISTRY_HELP, commandStore, repositoryName, transportOptions } from './context.js';

const USAGE = 'ocikit list-tags [options] REPOSITORY-NAME';

export const listTagsCommand: Command = {
  name: 'list-tags',
  usage: USAGE,
  help: `Prints {"Repository": NAME, "Tags": [...]} as skopeo list-tags (on one line with --json).\n\n${REGISTRY_HELP}`,
  flags: { string: [...REGISTRY_FLAGS.string], boolean: [...REGISTRY_FLAGS.boolean] },
  async run(args, g, io) {
    const [name] = positionals(args, 1, USAGE);
    const ref = parseImageName(name!);
    if (!ref.listTags) throw new OcikitError('E_UNSUPPORTED', `list-tags is not supported for the ${ref.transport.name}: transport`);
    const ctx = await transportOptions(args, g, undefined, io);
    // store: names are listed from the store; a registry's or an archive's tags need none.
    const store = commandStore(g);
    let tags: string[];
    try {
      tags = await ref.listTags({ ...ctx, store });
    } finally {
      store.close();
    }
    const repo = ref.dockerReference ? repositoryName(ref.dockerReference) : ref.withinTransport;
    // --json: the same object on one line, for a program to read line by line.
    io.stdout.write(JSON.stringify({ Repository: repo, Tags: tags }, null, g.json ? undefined : 4) + '\n');
    return 0;
  },
};
