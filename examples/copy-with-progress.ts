/**
 * Copy an image, printing what happens to each blob as it goes.
 *
 *   node copy-with-progress.js SOURCE DESTINATION [STORE-DIR]
 *   node copy-with-progress.js oci:/srv/layout:app-1.2 docker://registry.example.com/app:1.2
 */
import { copyImage, isOcikitError, parseImageName, LazyStore, type ProgressEvent } from 'ocikit';

const [source, destination, storeDir] = process.argv.slice(2);
if (!source || !destination) {
  console.error('usage: copy-with-progress SOURCE DESTINATION [STORE-DIR]');
  process.exit(2);
}

function show(ev: ProgressEvent): void {
  if (ev.type === 'image') console.log(`image: ${ev.blobs} blobs, ${ev.bytes} bytes`);
  // how: 'reused-at-destination', 'from-store', 'read' (a local file) or 'fetched' (a registry, a daemon)
  if (ev.type === 'blob-done') console.log(`blob ${ev.digest}: ${ev.how}${ev.transformed ? `, ${ev.transformed}` : ''}`);
  if (ev.type === 'committed') console.log(`committed ${ev.digest}`);
}

// The store opens on first use: $OCIKIT_STORE, else $XDG_DATA_HOME/ocikit, unless a directory is given.
const store = new LazyStore(storeDir);
try {
  const result = await copyImage(parseImageName(source), parseImageName(destination), { store, onProgress: show });
  console.log(`copied ${result.manifestDigest}: ${result.bytesRead} bytes read, ${result.blobsReused} blobs reused`);
} catch (err) {
  console.error(isOcikitError(err) ? `${err.code}: ${err.message}` : err);
  process.exitCode = 1;
} finally {
  store.close();
}
