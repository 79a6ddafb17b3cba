/**
 * Checking credentials against a registry before `ocikit login` saves them: GET /v2/ with the
 * credentials, through whatever the registry's challenge asks for (Basic, or a Bearer token with no
 * scope, which a token service grants only to a user it authenticated).
 */
import { RegistryClient, dump, type RegistryOptions } from './client.js';
import { registryEntryFor } from './registries-conf.js';

/**
 * Resolve when `registry` accepts `credentials`; E_AUTH when it refuses them, E_NETWORK when it
 * cannot be reached. A registry that needs no authentication at all is accepted too, as docker does.
 * registries.conf applies as to any request: a blocked registry is refused (E_BLOCKED), an insecure
 * one is reached without TLS verification unless opts.tlsVerify says otherwise.
 */
export async function checkLogin(
  registry: string,
  credentials: { username: string; password: string },
  opts: Omit<RegistryOptions, 'credentials' | 'noCreds' | 'registryToken' | 'authFile'> = {},
): Promise<void> {
  const { entry } = await registryEntryFor(registry, `logging in to ${registry}`, opts);
  // A refusal names no flag: the user name and password are what login was given.
  const o = { ...opts, credentials, credsFlag: '' };
  if (o.tlsVerify === undefined && entry?.insecure) o.tlsVerify = false;
  const client = new RegistryClient(registry, o);
  const res = await client.send({ method: 'GET', path: '/v2/', scopes: [], what: `logging in to ${registry}`, ok: [200] });
  await dump(res.body);
}
