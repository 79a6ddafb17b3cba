/**
 * Blob transfers in flight, bounded per registry host and direction, and shared by every client in
 * the process: however many copies run at once (sync, a library caller), a registry never sees more
 * than DEFAULT_PER_HOST downloads and DEFAULT_PER_HOST uploads from ocikit.
 *
 * WHY TWO BOUNDS, NOT ONE: a blob relayed from one repository of a host to another (lib/copy/blob.ts)
 * holds its download's slot while its upload waits for a slot. With one bound for both directions,
 * as many relays as slots took every slot with downloads, no upload could start, and the copy
 * stopped forever. With a bound per direction the waits run one way only: a download may wait for an
 * upload slot, but an upload never waits for a download slot (its bytes come from a file, or from a
 * download that already holds its own), so every upload holding a slot can finish, and no cycle of
 * waits can form, for any number of layers, copies or --jobs. (skopeo has no per-host bound at all:
 * each of its parallel blob copies holds a download and an upload, the same two-way shape.)
 */

import { Semaphore } from '../semaphore.js';

export { Semaphore };

/** Transfers per host and direction at once when the caller does not say. */
export const DEFAULT_PER_HOST = 6;

/** Which way the bytes of a transfer go. */
export type TransferDirection = 'download' | 'upload';

const perHost = new Map<string, Semaphore>();

/**
 * The semaphore of `direction` transfers to `host` ("registry.example:5000"). The first caller's
 * size wins for the process. WARNING: an upload MUST NOT wait for a download slot (see the module
 * comment); a download may wait for an upload slot.
 */
export function hostSemaphore(host: string, direction: TransferDirection, size = DEFAULT_PER_HOST): Semaphore {
  const key = `${direction} ${host}`;
  let s = perHost.get(key);
  if (!s) {
    s = new Semaphore(size);
    perHost.set(key, s);
  }
  return s;
}
