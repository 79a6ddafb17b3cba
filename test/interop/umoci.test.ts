/** umoci (an independent OCI implementation) accepts ocikit's oci: layouts and unpacks the same rootfs. */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, tempDir } from '../helpers/paths.js';
import { ocikit, run } from '../helpers/cli.js';
import { requirePeer } from '../../support/peers.js';

describe('umoci reads ocikit layouts', () => {
  let umoci: string;
  let dir: string;
  before(() => {
    umoci = requirePeer('umoci');
    dir = tempDir('ocikit-umoci-');
  });

  for (const from of ['oci', 'dir-v2s2'] as const) {
    it(`stat and unpack an image that went through ${from}`, () => {
      const store = join(dir, 'store');
      let src = `oci:${fixture('hello-oci')}:latest`;
      if (from === 'dir-v2s2') {
        const r = ocikit(['--store', store, 'copy', '-q', '--format', 'v2s2', src, `dir:${join(dir, 'v2s2')}`]);
        assert.equal(r.code, 0, r.stderr);
        src = `dir:${join(dir, 'v2s2')}`;
      }
      const layout = join(dir, `layout-${from}`);
      const r = ocikit(['--store', store, 'copy', '-q', '--format', 'oci', src, `oci:${layout}:img`]);
      assert.equal(r.code, 0, r.stderr);
      const stat = run(umoci, ['stat', '--json', '--image', `${layout}:img`]);
      const history = (JSON.parse(stat.stdout) as { history: Array<{ created_by: string }> }).history;
      assert.deepEqual(
        history.map((h) => h.created_by),
        ['fixture layer 1', 'fixture layer 2'],
      );
      const bundle = join(dir, `bundle-${from}`);
      run(umoci, ['unpack', '--image', `${layout}:img`, bundle]);
      const rootfs = join(bundle, 'rootfs');
      assert.equal(readFileSync(join(rootfs, 'bin', 'hello'), 'utf8'), '#!/bin/sh\necho "$GREETING from an ocikit fixture"\n');
      assert.equal(lstatSync(join(rootfs, 'bin', 'hello')).mode & 0o777, 0o755);
      assert.equal(readFileSync(join(rootfs, 'etc', 'hostname'), 'utf8'), 'fixture\n');
      assert.equal(existsSync(join(rootfs, 'etc', 'motd')), false, 'the whiteout in layer 2 removed etc/motd');
      assert.equal(readlinkSync(join(rootfs, 'usr', 'bin')), '../bin');
      assert.match(readFileSync(join(rootfs, 'var', 'lib', 'data.txt'), 'utf8'), /^line 0 0\nline 1 2654435761\n/);
      const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { env: string[]; args: string[] } };
      assert.ok(config.process.env.includes('GREETING=hello'));
      assert.deepEqual(config.process.args, ['/bin/hello']);
    });
  }
});
