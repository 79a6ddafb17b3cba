/**
 * Print what `skopeo inspect` prints for an image: digest, platform, layers, labels.
 *
 *   node inspect.js IMAGE
 *   node inspect.js oci:/srv/layout:app-1.2
 */
import { inspectOutput, openImage, parseImageName, LazyStore } from 'ocikit';

const name = process.argv[2];
if (!name) {
  console.error('usage: inspect IMAGE');
  process.exit(2);
}

// A layout or a directory is read in place: the store is never opened for it.
const store = new LazyStore();
try {
  const image = await openImage(parseImageName(name), { store });
  const out = inspectOutput(image, {});
  console.log(JSON.stringify({ Digest: out.Digest, Platform: `${out.Os}/${out.Architecture}`, Layers: out.Layers, Config: image.manifest.value.config.digest }, null, 2));
} finally {
  store.close();
}
