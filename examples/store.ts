/**
 * List a blob store's refs, forget some, and collect the garbage (what `ocikit store ls|rm|gc` does).
 *
 *   node store.js STORE-DIR [REF-TO-FORGET...]
 */
import { gc, ls, openStore } from 'ocikit';

const [dir, ...forget] = process.argv.slice(2);
if (!dir) {
  console.error('usage: store STORE-DIR [REF-TO-FORGET...]');
  process.exit(2);
}

const store = openStore(dir);
try {
  for (const ref of await ls(store)) console.log(`${ref.name} ${ref.digest} ${ref.totalSize} bytes`);
  for (const name of forget) store.deleteRef(name);
  const result = await gc(store);
  console.log(`gc: removed ${result.removed.length} blobs (${result.freedBytes} bytes), kept ${result.kept}`);
  for (const d of result.removed) console.log(`removed ${d}`);
} finally {
  store.close();
}
