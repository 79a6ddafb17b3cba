/**
 * Serve a blob store as a registry, fetch one manifest from it over HTTP, and stop.
 *
 *   node serve.js STORE-DIR REPOSITORY:TAG
 *   node serve.js ~/.local/share/ocikit team/app:1.2
 *
 * The store serves what was copied into it under a `store:` name (`store:team/app:1.2`), pushed to
 * it or applied from a bundle; `ocikit serve` is the same server with flags.
 */
import { createHash } from 'node:crypto';
import { openStore, RegistryServer } from 'ocikit';

const [dir, image] = process.argv.slice(2);
const colon = image?.lastIndexOf(':') ?? -1;
if (!dir || !image || colon < 0) {
  console.error('usage: serve STORE-DIR REPOSITORY:TAG');
  process.exit(2);
}

const store = openStore(dir);
// Loopback, on a free port; add tls, htpasswd and access for anything else.
const server = await RegistryServer.start({ store, host: '127.0.0.1', port: 0 });
try {
  const url = `${server.url}/v2/${image.slice(0, colon)}/manifests/${image.slice(colon + 1)}`;
  const res = await fetch(url, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' } });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  console.log(`served ${res.headers.get('docker-content-digest')} (${res.headers.get('content-type')})`);
  console.log(`sha256:${createHash('sha256').update(body).digest('hex')}`);
} finally {
  await server.close();
  store.close();
}
