/**
 * BlobLedger (types.ts): what the copies of one operation learn together about the blobs their
 * destinations hold. A sync makes one for all its images, so a layer twenty tags share is checked,
 * mounted or uploaded once per destination repository, and then known; a destination given none
 * keeps its own (the instances of one index share layers too).
 */
import type { Digest } from '../digest/index.js';
import type { BlobLedger } from './types.js';

interface Entry {
  answer: Promise<boolean>;
  settle: (present: boolean) => void;
}

/** The in-memory BlobLedger. Nothing outlives it: it is made per operation, never per process. */
export class MemoryBlobLedger implements BlobLedger {
  readonly #entries = new Map<string, Entry>();

  claim(scope: string, digest: Digest): Promise<boolean> | undefined {
    const key = `${scope}\n${digest}`;
    const known = this.#entries.get(key);
    if (known) return known.answer;
    let settle!: (present: boolean) => void;
    const answer = new Promise<boolean>((resolve) => (settle = resolve));
    this.#entries.set(key, { answer, settle });
    return undefined;
  }

  settle(scope: string, digest: Digest, present: boolean): void {
    const key = `${scope}\n${digest}`;
    const e = this.#entries.get(key);
    if (!e) return;
    // Absent after all (the upload failed, the copy stopped): forgotten, so the next one to ask owns the question.
    if (!present) this.#entries.delete(key);
    e.settle(present);
  }
}
