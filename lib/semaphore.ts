/** A counting semaphore, shared by the registry client (transfers per host) and the worker pool (CPU-heavy jobs at once). */

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
