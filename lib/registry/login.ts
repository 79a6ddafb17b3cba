/**
 * Checking credentials against a registry before `ocikit login` saves them: GET /v2/ with the
 * credentials, through whatever the registry's challenge asks for (Basic, or a Bearer token with no
 * scope, which a token service grants only to a user it authenticated).
 */
import { RegistryClient, dump, type RegistryOptions } from './client.js';

/**
 * Resolve when `registry` accepts `credentials`; E_AUTH when it refuses them, E_NETWORK when it
 * cannot be reached. A registry that needs no authentication at all is accepted too, as docker does.
 */
export async function checkLogin(
  registry: string,
  credentials: { username: string; password: string },
  opts: Omit<RegistryOptions, 'credentials' | 'noCreds' | 'registryToken' | 'authFile'> = {},
): Promise<void> {
  const client = new RegistryClient(registry, { ...opts, credentials });
  const res = await client.send({ method: 'GET', path: '/v2/', scopes: [], what: `logging in to ${registry}`, ok: [200] });
  await dump(res.body);
}
