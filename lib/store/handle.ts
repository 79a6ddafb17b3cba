/**
 * The store as transports and the copy pipeline are given it: a handle that opens it on first use.
 *
 * Every operation is handed the store, always, the way containers/image hands a destination its
 * BlobInfoCache; what varies is whether it is ever opened. Opening costs a mkdir of its
 * directories, and asking it anything loads SQLite (a native module) and opens the index: work a
 * command that never needs the store (inspect of an oci: or dir: layout, a push whose manifest the
 * registry already shows) should not pay, and a directory it should not leave behind.
 */
import { resolve } from 'node:path';
import { OcikitError } from '../errors.js';
import { BlobStore, type Lease, type StoreHandle } from './blob-store.js';
import { defaultStoreDir } from './location.js';

export type { StoreHandle } from './blob-store.js';

/**
 * A handle on the store at `dir` (default: `defaultStoreDir()`), opened on first use. The owner
 * (the command, the library caller) closes it when done; close() of a handle never opened does
 * nothing, and creates nothing.
 */
export class LazyStore implements StoreHandle {
  /** The store's directory, absolute. Nothing is created there before `get()`. */
  readonly root: string;
  readonly #opts: { durable?: boolean; now?: () => number };
  #store: BlobStore | undefined;
  #closed = false;

  /** `durable: false` (--no-sync) and `now` are handed to BlobStore.open. */
  constructor(dir: string = defaultStoreDir(), opts: { durable?: boolean; now?: () => number } = {}) {
    this.root = resolve(dir);
    this.#opts = opts;
  }

  get(): BlobStore {
    if (this.#closed) throw new OcikitError('E_STORE', `the blob store at ${this.root} is closed`);
    return (this.#store ??= BlobStore.open(this.root, this.#opts));
  }

  opened(): BlobStore | undefined {
    return this.#closed ? undefined : this.#store;
  }

  /** Close the store if it was opened (releasing its leases). Idempotent. */
  close(): void {
    this.#closed = true;
    this.#store?.close();
  }
}

/**
 * One operation's view of the owner's handle (a copy's): the operation's lease (BlobStore.lease)
 * is taken when the store is first opened or found open through it, before any blob is used, so
 * gc keeps every blob the operation uses; an operation that never needs the store takes no lease
 * and opens nothing. release() ends the lease; the store stays open (its owner closes it).
 */
export class LeasedStore implements StoreHandle {
  readonly #inner: StoreHandle;
  #lease: Lease | undefined;

  constructor(inner: StoreHandle) {
    this.#inner = inner;
  }

  get(): BlobStore {
    return this.#leased(this.#inner.get());
  }

  opened(): BlobStore | undefined {
    const s = this.#inner.opened();
    return s && this.#leased(s);
  }

  /** Release the lease, if one was taken. Idempotent. */
  release(): void {
    this.#lease?.release();
    this.#lease = undefined;
  }

  #leased(s: BlobStore): BlobStore {
    this.#lease ??= s.lease();
    return s;
  }
}
