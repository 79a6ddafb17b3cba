/** `oci-archive:PATH[:REF|:@N]`: an OCI image layout in a tar file; the grammar of oci: (oci.ts). */
import type { TransportSyntax } from './common.js';
import { formatOciLike, parseOciLike, type OciReference } from './oci.js';

export type OciArchiveReference = OciReference;

/** Parse the part after "oci-archive:"; same rules as parseOciReference. */
export function parseOciArchiveReference(rest: string): OciArchiveReference {
  return parseOciLike('oci-archive', rest);
}

/** Inverse of parseOciArchiveReference. */
export function formatOciArchiveReference(r: OciArchiveReference): string {
  return formatOciLike('oci-archive', r);
}

export const ociArchiveSyntax: TransportSyntax<OciArchiveReference> = { parse: parseOciArchiveReference, format: formatOciArchiveReference };
