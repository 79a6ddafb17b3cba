/**
 * The transport table: one list of names and aliases (lib/reference), used both by the parser
 * (splitImageName) and by the lookup of implementations (lib/transports), so the two cannot disagree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOcikitError } from '../../lib/errors.js';
import { KNOWN_TRANSPORTS, TRANSPORT_ALIASES, splitImageName } from '../../lib/reference/index.js';
import { getTransport, parseImageName, registerTransport, transportNames } from '../../lib/transports/index.js';

test('every transport the parser knows has an implementation registered, and no other is', () => {
  assert.deepEqual(transportNames(), [...KNOWN_TRANSPORTS]);
  for (const name of KNOWN_TRANSPORTS) assert.equal(getTransport(name)?.name, name, name);
});

test('every alias the parser accepts finds its transport, and parses as it', () => {
  assert.ok(Object.keys(TRANSPORT_ALIASES).length > 0);
  for (const [alias, target] of Object.entries(TRANSPORT_ALIASES)) {
    assert.equal(splitImageName(`${alias}://x`).transport, target);
    assert.equal(getTransport(alias), getTransport(target), alias);
  }
  const ref = parseImageName('registry://localhost:5000/team/app:v1');
  assert.equal(ref.transport, getTransport('docker'));
  assert.equal(ref.toString(), 'docker://localhost:5000/team/app:v1');
  assert.equal(ref.dockerReference, 'localhost:5000/team/app:v1');
});

test('registering a name the parser does not know, or a name twice, is a bug (E_INTERNAL)', () => {
  const stray = { name: 'tarball', parseReference: () => assert.fail('never parsed') };
  assert.throws(
    () => registerTransport(stray),
    (err) => isOcikitError(err, 'E_INTERNAL') && /KNOWN_TRANSPORTS/.test((err as Error).message),
  );
  assert.throws(
    () => registerTransport(getTransport('oci')!),
    (err) => isOcikitError(err, 'E_INTERNAL') && /twice/.test((err as Error).message),
  );
  assert.equal(getTransport('tarball'), undefined);
  assert.equal(getTransport('constructor'), undefined);
});

test('an unknown transport is E_USAGE from the one parser, listing the known ones', () => {
  assert.throws(
    () => parseImageName('tarball:/x.tar'),
    (err) => isOcikitError(err, 'E_USAGE') && (err as Error).message.includes(`unknown transport "tarball"`) && (err as Error).message.includes(KNOWN_TRANSPORTS.join(', ')),
  );
  // Once an internal error (a property of every object was taken for an alias): `ocikit inspect constructor:x`.
  assert.throws(
    () => parseImageName('constructor:x'),
    (err) => isOcikitError(err, 'E_USAGE') && (err as Error).message.includes(`unknown transport "constructor"`),
  );
});
