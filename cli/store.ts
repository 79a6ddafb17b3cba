/** ocikit store ls|du|verify|gc: look after the blob store. */
import { OcikitError } from '../lib/errors.js';
import { du, gc, ls, verify } from '../lib/store/index.js';
import { type Command } from './command.js';
import { commandStore } from './context.js';

const USAGE = 'ocikit store ls|du|rm REF...|verify [--repair]|gc [--dry-run]';

function human(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export const storeCommand: Command = {
  name: 'store',
  usage: USAGE,
  help: `Subcommands:
  ls               the refs the store remembers (what each copy wrote or read) and their manifest digests
  du               blobs, bytes and refs in the store
  rm REF...        forget refs (as listed by ls), so gc may remove what only they reached
  verify           re-hash every blob and report corrupt or missing ones
      --repair     remove corrupt blobs (they are fetched again by the next copy that needs them)
  gc               remove blobs that no ref reaches
      --dry-run    only say what would be removed`,
  flags: { boolean: ['repair', 'dry-run'] },
  async run(args, g, io) {
    const sub = args._[0] === undefined ? undefined : String(args._[0]);
    if (!sub || (args._.length > 1 && sub !== 'rm')) throw new OcikitError('E_USAGE', `store: expected one subcommand`, { hint: `usage: ${USAGE}` });
    const handle = commandStore(g);
    try {
      const store = handle.get();
      switch (sub) {
        case 'ls': {
          const rows = await ls(store);
          if (g.json) io.stdout.write(JSON.stringify(rows, null, 2) + '\n');
          else for (const r of rows) io.stdout.write(`${r.digest}  ${human(r.totalSize)}  ${r.name}\n`);
          return 0;
        }
        case 'du': {
          const r = du(store);
          if (g.json) io.stdout.write(JSON.stringify({ root: store.root, ...r }) + '\n');
          else io.stdout.write(`${store.root}: ${r.blobs} blobs, ${human(r.bytes)}, ${r.refs} refs\n`);
          return 0;
        }
        case 'rm': {
          const names = args._.slice(1).map(String);
          if (names.length === 0) throw new OcikitError('E_USAGE', 'store rm: name at least one ref', { hint: 'see ocikit store ls' });
          const known = new Set(store.refs().map((r) => r.name));
          const missing = names.filter((n) => !known.has(n));
          if (missing.length) throw new OcikitError('E_NOT_FOUND', `store rm: no such ref: ${missing.join(', ')}`);
          for (const n of names) store.deleteRef(n);
          return 0;
        }
        case 'verify': {
          const r = await verify(store, { repair: !!args.repair });
          if (g.json) io.stdout.write(JSON.stringify(r) + '\n');
          else {
            for (const d of r.corrupt) io.stdout.write(`corrupt: ${d}${args.repair ? ' (removed)' : ''}\n`);
            for (const d of r.missing) io.stdout.write(`missing: ${d}\n`);
            io.stdout.write(`checked ${r.checked} blobs: ${r.corrupt.length} corrupt, ${r.missing.length} missing\n`);
          }
          return r.corrupt.length > 0 && !args.repair ? 1 : 0;
        }
        case 'gc': {
          const r = await gc(store, { dryRun: !!args['dry-run'] });
          if (g.json) io.stdout.write(JSON.stringify(r) + '\n');
          else {
            const tmp = r.tmpRemoved > 0 ? ` and ${r.tmpRemoved} temporary file${r.tmpRemoved === 1 ? '' : 's'} of stopped copies` : '';
            io.stdout.write(`${args['dry-run'] ? 'would remove' : 'removed'} ${r.removed.length} blobs (${human(r.freedBytes)})${tmp}, kept ${r.kept}\n`);
          }
          return 0;
        }
        default:
          throw new OcikitError('E_USAGE', `store: unknown subcommand "${sub}"`, { hint: `usage: ${USAGE}` });
      }
    } finally {
      handle.close();
    }
  },
};
