/**
 * Blob transfers in flight, bounded per registry host and shared by every client in the process:
 * a copy from one repository of a host to another takes its reads and writes from one budget, so a
 * registry never sees more than the bound from ocikit however the copy pipeline is configured.
 */

/** Transfers per host at once when the caller does not say. */
export const DEFAULT_PER_HOST = 6;

/** A counting semaphore with FIFO waiters. */
export class Semaphore {
  #free: number;
  readonly #waiters: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`Semaphore size must be a positive integer, got ${size}`);
    this.#free = size;
  }

  /** Wait for a slot; the returned function gives it back (idempotent). */
  async acquire(): Promise<() => void> {
    if (this.#free > 0) {
      this.#free--;
    } else {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      // Hand the slot straight to the next waiter, so no newcomer can overtake it.
      if (next) next();
      else this.#free++;
    };
  }
}

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
