/** Where the docker-daemon: transport looks for the daemon, and how it secures tcp:// (pure: no daemon). */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isOcikitError } from '../../lib/errors.js';
import { resolveEndpoint } from '../../lib/transports/docker-daemon/engine.js';
import { tempDir } from '../helpers/paths.js';

describe('docker-daemon: resolveEndpoint', () => {
  let certs: string;
  before(() => {
    certs = tempDir('ocikit-daemon-certs-');
    writeFileSync(join(certs, 'ca.pem'), 'CA');
    writeFileSync(join(certs, 'cert.pem'), 'CERT');
    writeFileSync(join(certs, 'key.pem'), 'KEY');
  });

  it('the flag wins over DOCKER_HOST, which wins over the default socket', async () => {
    assert.deepEqual(await resolveEndpoint({}, {}), { host: 'unix:///var/run/docker.sock', origin: 'http://localhost', socketPath: '/var/run/docker.sock' });
    assert.equal((await resolveEndpoint({}, { DOCKER_HOST: 'unix:///run/d.sock' })).socketPath, '/run/d.sock');
    assert.equal((await resolveEndpoint({ host: 'unix:///x.sock' }, { DOCKER_HOST: 'unix:///run/d.sock' })).socketPath, '/x.sock');
  });

  it('tcp:// is plain HTTP without TLS settings, as the docker CLI treats it', async () => {
    assert.deepEqual(await resolveEndpoint({}, { DOCKER_HOST: 'tcp://10.0.0.5:2375' }), { host: 'tcp://10.0.0.5:2375', origin: 'http://10.0.0.5:2375' });
  });

  it('DOCKER_TLS_VERIFY + DOCKER_CERT_PATH: verified TLS with the client certificate', async () => {
    const e = await resolveEndpoint({}, { DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs });
    assert.deepEqual(e, { host: 'tcp://h:2376', origin: 'https://h:2376', tls: { verify: true, ca: ['CA'], cert: 'CERT', key: 'KEY' } });
  });

  it('DOCKER_CERT_PATH alone: TLS without verifying the daemon (docker does the same); --tls-verify=false turns verification off too', async () => {
    assert.equal((await resolveEndpoint({}, { DOCKER_HOST: 'tcp://h:2376', DOCKER_CERT_PATH: certs })).tls?.verify, false);
    assert.equal((await resolveEndpoint({ tlsVerify: false }, { DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs })).tls?.verify, false);
    // --src-cert-dir (as skopeo's) turns TLS on, verified.
    assert.equal((await resolveEndpoint({ certDir: certs, host: 'tcp://h:2376' }, {})).tls?.verify, true);
  });

  it('a cert directory in containers-certs.d(5) names works too', async () => {
    const d = tempDir('ocikit-daemon-certsd-');
    writeFileSync(join(d, 'ca.crt'), 'CA2');
    writeFileSync(join(d, 'client.cert'), 'C2');
    writeFileSync(join(d, 'client.key'), 'K2');
    assert.deepEqual((await resolveEndpoint({ certDir: d, host: 'tcp://h:2376' }, {})).tls, { verify: true, ca: ['CA2'], cert: 'C2', key: 'K2' });
  });

  it('other schemes, relative socket paths and a cert without its key are refused with one clear error', async () => {
    for (const h of ['ssh://me@h', 'npipe:////./pipe/docker_engine', 'unix://relative.sock', 'localhost:2375']) {
      await assert.rejects(resolveEndpoint({ host: h }, {}), (err) => isOcikitError(err, 'E_USAGE') && (err as Error).message.includes(h));
    }
    const d = tempDir('ocikit-daemon-halfcert-');
    writeFileSync(join(d, 'cert.pem'), 'CERT');
    await assert.rejects(resolveEndpoint({}, { DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: d }), (err) => isOcikitError(err, 'E_BAD_INPUT'));
  });
});
