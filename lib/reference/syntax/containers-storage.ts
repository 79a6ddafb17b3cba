/**
 * `containers-storage:[[DRIVER@]ROOT[+RUNROOT][:OPTIONS]]{ID|NAME[@ID]}`: an image in the store podman,
 * buildah and CRI-O share.
 */
import { isImageId, quote, withDefaultTag, type DockerReference } from '../docker.js';
import { dockerRefIn, usage, type TransportSyntax } from './common.js';

/**
 * `containers-storage:[[DRIVER@]ROOT[+RUNROOT][:OPTIONS]]REF` (the outer brackets are literal).
 * Store fields are absent when not written (the store's defaults apply). At least one of `ref`
 * and `id` is set.
 */
export interface StorageReference {
  driver?: string;
  root?: string;
  runRoot?: string;
  /** Driver options, split at ",". */
  options?: string[];
  /** Tagged ("latest" filled in) and/or digested; both are allowed here. */
  ref?: DockerReference;
  /**
   * An image ID: 64 hex characters, or (after "@") a prefix of at least 3.
   * WARNING: a prefix is not resolved here; the transport MUST resolve it against the store and fail
   * unless exactly one image matches.
   */
  id?: string;
}

const SHORT_ID_RE = /^[a-f0-9]{3,64}$/;

type StoreSpec = Pick<StorageReference, 'driver' | 'root' | 'runRoot' | 'options'>;

const specKey = (s: StoreSpec): string => JSON.stringify([s.driver, s.root, s.runRoot, s.options]);

/** The inside of "[...]": DRIVER@ cut at the first "@", :OPTIONS at the first ":", +RUNROOT at the first "+". */
function parseStoreSpec(image: string, spec: string): StoreSpec {
  const out: StoreSpec = {};
  if (spec === '') throw usage(image, 'the store specifier "[]" is empty');
  const at = spec.indexOf('@');
  if (at !== -1) {
    const driver = spec.slice(0, at);
    spec = spec.slice(at + 1);
    if (driver === '') throw usage(image, 'the store specifier has an empty driver before "@"');
    if (spec === '') throw usage(image, 'the store specifier has nothing after "DRIVER@"');
    out.driver = driver;
  }
  const colon = spec.indexOf(':');
  if (colon !== -1) {
    out.options = spec.slice(colon + 1).split(',');
    spec = spec.slice(0, colon);
  }
  const plus = spec.indexOf('+');
  const root = plus === -1 ? spec : spec.slice(0, plus);
  const runRoot = plus === -1 ? '' : spec.slice(plus + 1);
  // containers/image treats an empty root or run root as "not given", and requires absolute paths otherwise.
  if (root !== '') {
    if (!root.startsWith('/')) throw usage(image, `the store root ${quote(root)} is not an absolute path`);
    out.root = root;
  }
  if (runRoot !== '') {
    if (!runRoot.startsWith('/')) throw usage(image, `the store run root ${quote(runRoot)} is not an absolute path`);
    out.runRoot = runRoot;
  }
  return out;
}

/**
 * Parse the part after "containers-storage:" following containers/image storage_transport.go:
 * 1. an optional store spec "[...]" up to the first "]": DRIVER@ cut at the first "@" (neither side
 *    may then be empty), :OPTIONS cut at the first ":", +RUNROOT cut at the first "+"; ROOT and
 *    RUNROOT, when given, MUST be absolute;
 * 2. a trailing "@ID" is peeled off unless it looks like a digest (contains ":");
 * 3. the rest, if any, is a docker reference (Hub defaults, "latest" when it has no tag or digest);
 *    a bare 64-hex string is an ID.
 * Unlike containers/image, a bare ID prefix ("abc123" without "@") is read as a name: telling the two
 * apart needs the store. Write "@abc123".
 * Throws E_USAGE for an empty reference, a malformed store spec, a relative root, or a bad name or ID.
 */
export function parseStorageReference(rest: string): StorageReference {
  const image = `containers-storage:${rest}`;
  let out: StorageReference = {};
  let ref = rest;
  // === 1. store spec
  if (ref.startsWith('[')) {
    const close = ref.indexOf(']');
    if (close < 1) throw usage(image, 'the store specifier "[..." does not end with "]"');
    out = parseStoreSpec(image, ref.slice(1, close));
    ref = ref.slice(close + 1);
  }
  if (ref === '') throw usage(image, 'no image name or ID was given');
  // === 2. trailing @ID (a digest, which contains ":", stays with the name)
  const lastAt = ref.lastIndexOf('@');
  if (lastAt !== -1) {
    const possibleId = ref.slice(lastAt + 1);
    if (possibleId === '') throw usage(image, 'empty digest or image ID after "@"');
    if (!possibleId.includes(':')) {
      if (!SHORT_ID_RE.test(possibleId)) {
        throw usage(image, `${quote(possibleId)} does not look like an image ID (hex, at least 3 characters) or a digest`);
      }
      out.id = possibleId;
      ref = ref.slice(0, lastAt);
    }
  } else if (isImageId(ref)) {
    // A full ID alone; it cannot be a name (distribution/reference refuses 64-hex names).
    out.id = ref;
    ref = '';
  }
  // === 3. the name
  if (ref !== '') out.ref = withDefaultTag(dockerRefIn(image, ref));
  if (out.ref === undefined && out.id === undefined) throw usage(image, 'no image name or ID was given');
  return out;
}

/**
 * Inverse of parseStorageReference: "[DRIVER@ROOT+RUNROOT:OPTS]NAME@ID" with only the parts present
 * (containers/image always writes the store's full spec; ours leaves unwritten defaults unwritten).
 * Throws E_USAGE when a store field holds a character the syntax cannot express.
 */
export function formatStorageReference(r: StorageReference): string {
  let spec = '';
  const given: StoreSpec = {};
  if (r.driver !== undefined) given.driver = r.driver;
  if (r.root !== undefined) given.root = r.root;
  if (r.runRoot !== undefined) given.runRoot = r.runRoot;
  if (r.options !== undefined) given.options = [...r.options];
  if (Object.keys(given).length > 0) {
    const inner = `${r.driver !== undefined ? `${r.driver}@` : ''}${r.root ?? ''}${r.runRoot !== undefined ? `+${r.runRoot}` : ''}${r.options !== undefined ? `:${r.options.join(',')}` : ''}`;
    spec = `[${inner}]`;
    // The separators are first-occurrence cuts, so a field holding "@", ":", "+", "," or "]" may not
    // come back as itself: parse what we wrote and insist on getting the same fields.
    const image = `containers-storage:${spec}`;
    const back = inner.includes(']') ? undefined : parseStoreSpec(image, inner);
    if (back === undefined || specKey(back) !== specKey(given)) {
      throw usage(image, 'the store specifier holds a character the syntax cannot express ("@", ":", "+", "," or "]" in the wrong place)');
    }
  }
  if (r.ref === undefined && r.id === undefined) throw usage(`containers-storage:${spec}`, 'no image name or ID was given');
  if (r.id !== undefined && !SHORT_ID_RE.test(r.id)) throw usage(`containers-storage:${spec}@${r.id}`, 'the image ID is not 3 to 64 hex characters');
  let s = spec;
  if (r.ref !== undefined) s += withDefaultTag(r.ref).toString();
  if (r.id !== undefined) s += `@${r.id}`;
  return s;
}

export const containersStorageSyntax: TransportSyntax<StorageReference> = { parse: parseStorageReference, format: formatStorageReference };
