/**
 * Blob transfers in flight, bounded per registry host and shared by every client in the process:
 * a copy from one repository of a host to another takes its reads and writes from one budget, so a
 * registry never sees more than the bound from ocikit however the copy pipeline is configured.
 */

import { Semaphore } from '../semaphore.js';

export { Semaphore };

/** Transfers per host at once when the caller does not say. */
export const DEFAULT_PER_HOST = 6;

const perHost = new Map<string, Semaphore>();

/** The semaphore of `host` ("registry.example:5000"). The first caller's size wins for the process. */
export function hostSemaphore(host: string, size = DEFAULT_PER_HOST): Semaphore {
  let s = perHost.get(host);
  if (!s) {
    s = new Semaphore(size);
    perHost.set(host, s);
  }
  return s;
}
