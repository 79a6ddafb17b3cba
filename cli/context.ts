/** Shared CLI plumbing: opening the store and building transport contexts from flags. */
import type minimist from 'minimist';
import { BlobStore, defaultStoreDir } from '../lib/store/index.js';
import type { SystemContext } from '../lib/transports/types.js';
import type { GlobalOptions } from './command.js';

export function openStore(g: GlobalOptions): BlobStore {
  return BlobStore.open(g.store ?? defaultStoreDir());
}

/** The context for one side of a copy ('src' or 'dest'), or for a single image (side undefined). */
export function systemContext(args: minimist.ParsedArgs, g: GlobalOptions, _side?: 'src' | 'dest'): SystemContext {
  const ctx: SystemContext = {};
  if (g.overrideOS) ctx.overrideOS = g.overrideOS;
  if (g.overrideArch) ctx.overrideArch = g.overrideArch;
  if (g.overrideVariant) ctx.overrideVariant = g.overrideVariant;
  void args;
  return ctx;
}

/** "host/repo:tag@digest" -> "host/repo". */
export function repositoryName(dockerRef: string): string {
  const at = dockerRef.indexOf('@');
  let s = at >= 0 ? dockerRef.slice(0, at) : dockerRef;
  const colon = s.lastIndexOf(':');
  if (colon > s.lastIndexOf('/')) s = s.slice(0, colon);
  return s;
}
