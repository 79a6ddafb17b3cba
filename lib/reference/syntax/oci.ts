/**
 * `oci:PATH[:REF|:@N]`: an OCI image layout directory. `oci-archive:` (oci-archive.ts) writes the
 * same thing after its own name, so the grammar is here once, parameterised by the transport.
 */
import { quote } from '../docker.js';
import { parseSourceIndex, usage, type TransportSyntax } from './common.js';

/**
 * `oci:PATH[:REF|:@N]` and `oci-archive:PATH[:REF|:@N]`. At most one of `ref` and `index` is set;
 * neither means "the only image in the layout".
 */
export interface OciReference {
  path: string;
  /** The `org.opencontainers.image.ref.name` annotation to select or write. */
  ref?: string;
  /** Zero-based position in index.json's manifests; for sources only. */
  index?: number;
}

// image-spec annotations.md, org.opencontainers.image.ref.name, as containers/image checks it.
const OCI_REF_COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const OCI_REF_RE = new RegExp(`^${OCI_REF_COMPONENT}(?:/${OCI_REF_COMPONENT})*$`);

/** True when `s` is a valid OCI `org.opencontainers.image.ref.name` ("latest", "v1.0", "example.com/app:1"). */
export function isValidOciRefName(s: string): boolean {
  return OCI_REF_RE.test(s);
}

/**
 * On Linux containers/image splits at the FIRST colon: the path cannot contain ":", everything after it
 * is the reference. (Windows drive letters are not handled; ocikit targets POSIX systems.)
 */
export function parseOciLike(transport: 'oci' | 'oci-archive', rest: string): OciReference {
  const image = `${transport}:${rest}`;
  const colon = rest.indexOf(':');
  const path = colon === -1 ? rest : rest.slice(0, colon);
  const tail = colon === -1 ? '' : rest.slice(colon + 1);
  if (path === '') throw usage(image, 'the path is empty');
  if (tail === '') return { path };
  if (tail.startsWith('@')) return { path, index: parseSourceIndex(image, tail) };
  if (!isValidOciRefName(tail)) {
    throw usage(image, `${quote(tail)} is not a valid OCI reference name`, {
      hint: 'a reference name is components of letters and digits joined by one of - . _ : @ + or --, separated by /',
    });
  }
  return { path, ref: tail };
}

export function formatOciLike(transport: 'oci' | 'oci-archive', r: OciReference): string {
  const image = `${transport}:${r.path}`;
  if (r.path === '') throw usage(image, 'the path is empty');
  if (r.path.includes(':')) throw usage(image, `the path contains a colon, which ${transport}: cannot express`);
  if (r.ref !== undefined && r.index !== undefined) throw usage(image, 'a reference name and a source index cannot both be given');
  if (r.ref !== undefined && r.ref !== '') {
    if (!isValidOciRefName(r.ref)) throw usage(`${image}:${r.ref}`, `${quote(r.ref)} is not a valid OCI reference name`);
    return `${r.path}:${r.ref}`;
  }
  if (r.index !== undefined) {
    if (!Number.isSafeInteger(r.index) || r.index < 0) throw usage(image, `source index ${r.index} is not a non-negative integer`);
    return `${r.path}:@${r.index}`;
  }
  return r.path;
}

/**
 * Parse the part after "oci:": `PATH`, `PATH:REF` or `PATH:@N`, split at the first colon.
 * An empty REF ("PATH:") is the same as none. Throws E_USAGE for an empty path, an invalid REF or a
 * bad index.
 */
export function parseOciReference(rest: string): OciReference {
  return parseOciLike('oci', rest);
}

/** Inverse of parseOciReference. */
export function formatOciReference(r: OciReference): string {
  return formatOciLike('oci', r);
}

export const ociSyntax: TransportSyntax<OciReference> = { parse: parseOciReference, format: formatOciReference };
