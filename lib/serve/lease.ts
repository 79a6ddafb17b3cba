/**
 * How a running server keeps `store gc` (another process, any time) from removing what it serves
 * or what is being pushed, without keeping everything forever.
 *
 * gc keeps every blob used since the oldest live lease began (lib/store/README.md). A lease held
 * from start-up to exit would keep every blob ever served; none would let gc remove a layer
 * between its upload and the manifest that refers to it. So the server rolls its leases: it takes
 * a new one every grace/2 and releases those older than 1.5 × grace, so that at every moment a
 * lease older than `grace` is held — every blob served, pushed or checked in the last `grace` is
 * kept — and gc can collect what was last used before that. While a push is in progress (an
 * upload session open, or one finished less than `grace` ago, its manifest not yet come) no lease
 * is released at all.
 *
 * A blob being sent is safe however long that takes: it is read through a descriptor opened
 * when the request began, and an unlinked file stays readable through it.
 */
import type { BlobStore, Lease } from '../store/index.js';

export class GcLease {
  readonly #held: Array<{ lease: Lease; started: number }> = [];
  readonly #timer: NodeJS.Timeout;
  #lastPush = 0;
  #pushesOpen = 0;

  constructor(
    private readonly store: BlobStore,
    readonly graceMs: number,
  ) {
    this.#take();
    this.#timer = setInterval(() => this.#roll(), Math.max(50, Math.floor(graceMs / 2)));
    this.#timer.unref();
  }

  /** The server's open upload sessions changed: `open` are in progress now. */
  pushes(open: number): void {
    this.#pushesOpen = open;
    this.#lastPush = Date.now();
  }

  #take(): void {
    this.#held.push({ lease: this.store.lease(), started: Date.now() });
  }

  #roll(): void {
    try {
      this.#take();
    } catch {
      // The store is busy or closing: keep the leases held; try again at the next tick.
      return;
    }
    const now = Date.now();
    if (this.#pushesOpen > 0 || now - this.#lastPush < this.graceMs) return;
    while (this.#held.length > 1 && this.#held[0]!.started < now - 1.5 * this.graceMs) this.#held.shift()!.lease.release();
  }

  /** Release every lease (the server is closing). */
  close(): void {
    clearInterval(this.#timer);
    for (const h of this.#held.splice(0)) h.lease.release();
  }
}
