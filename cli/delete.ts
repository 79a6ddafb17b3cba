/** ocikit delete IMAGE: delete an image (docker://: by digest, as skopeo delete), or with --untag only its tag. */
import { OcikitError } from '../lib/errors.js';
import { parseImageName } from '../lib/transports/index.js';
import { positionals, type Command } from './command.js';
import { REGISTRY_FLAGS, REGISTRY_HELP, commandStore, transportOptions } from './context.js';
import type { SystemContext } from '../lib/transports/types.js';

const USAGE = 'ocikit delete [options] IMAGE-NAME';

/** `ocikit delete`. */
export const deleteCommand: Command = {
  name: 'delete',
  usage: USAGE,
  help: `Options:
      --untag              remove only the tag and keep the image and its other tags; fails, deleting
                           nothing, where the registry cannot delete a tag alone
Without --untag a tag is resolved to its manifest digest and the manifest is deleted, with every tag
that points at it (that is what a registry's delete does).

${REGISTRY_HELP}`,
  flags: { string: [...REGISTRY_FLAGS.string], boolean: [...REGISTRY_FLAGS.boolean, 'untag'] },
  async run(args, g, io) {
    const [name] = positionals(args, 1, USAGE);
    const ref = parseImageName(name!);
    const ctx = await transportOptions(args, g, undefined, io);
    // store: names are deleted from the store; deleting from a registry creates no store directory.
    const store = commandStore(g);
    try {
      const c: SystemContext = { ...ctx, store };
      if (args.untag) {
        if (!ref.untag) throw new OcikitError('E_UNSUPPORTED', `delete --untag is not supported for the ${ref.transport.name}: transport`);
        await ref.untag(c);
        if (!g.quiet) io.stderr.write(`Removed tag ${ref}\n`);
        return 0;
      }
      if (!ref.delete) throw new OcikitError('E_UNSUPPORTED', `delete is not supported for the ${ref.transport.name}: transport`);
      await ref.delete(c);
      return 0;
    } finally {
      store.close();
    }
  },
};
