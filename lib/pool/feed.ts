/**
 * Feeding a stream that exists only on the main thread (a registry download, a member of an
 * archive read from a pipe) to a worker job, as the job's `{kind: 'port'}` input.
 *
 * Bytes are copied once into 1 MiB ArrayBuffers, which are then transferred (moved, not copied)
 * to the worker. At most `window` chunks are unacknowledged at a time: the worker acknowledges a
 * chunk when its pipeline takes it, so a slow job pauses the download instead of buffering it.
 */
import type { MessagePort } from 'node:worker_threads';
import { workerThreads } from '../lazy.js';
import type { Readable } from 'node:stream';
import type { FeedAck, FeedMessage } from '../../workers/protocol.js';

const CHUNK = 1 << 20;

/** A port pair: `port` goes to the worker (transfer it with the job), `done` settles when feeding ends. */
export interface Feed {
  /** The worker's end; pass it in the job's input and in the transfer list. */
  port: MessagePort;
  /** Resolves when the stream was fed whole or feeding stopped; never rejects (the job reports errors). */
  done: Promise<void>;
  /** Stop feeding (the job ended): the source stream is destroyed if it was not finished. */
  stop(): void;
}

/** Start feeding `stream` into a new port (see the module comment). */
export function feedStream(stream: Readable, window = 4): Feed {
  const { port1: ours, port2: theirs } = new (workerThreads().MessageChannel)();
  let acked = 0;
  let posted = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  const nudge = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  // Buffers the worker gave back: reused, so a download allocates a window's worth, not its size.
  const free: ArrayBuffer[] = [];
  const fresh = (): Buffer => {
    const ab = free.pop();
    return ab ? Buffer.from(ab) : Buffer.allocUnsafeSlow(CHUNK);
  };
  ours.on('message', (m: FeedAck) => {
    if (m.type === 'ack') {
      acked++;
      if (m.data && m.data.byteLength === CHUNK && free.length < window) free.push(m.data);
      nudge();
    }
  });
  ours.on('close', () => {
    stopped = true;
    nudge();
  });
  const send = (m: FeedMessage, transfer?: ArrayBuffer[]): void => {
    if (!stopped) ours.postMessage(m, transfer);
  };

  const done = (async (): Promise<void> => {
    let cur = fresh();
    let n = 0;
    const flush = async (): Promise<void> => {
      while (!stopped && posted - acked >= window) await new Promise<void>((r) => (wake = r));
      if (stopped) return;
      // An exact-size buffer for a short chunk, so the worker sees exactly the bytes (and a transfer moves only them).
      const data = n === CHUNK ? cur.buffer : cur.buffer.slice(0, n);
      send({ type: 'chunk', data: data as ArrayBuffer }, [data as ArrayBuffer]);
      posted++;
      cur = fresh();
      n = 0;
    };
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        let off = 0;
        while (off < chunk.length) {
          const take = Math.min(CHUNK - n, chunk.length - off);
          chunk.copy(cur, n, off, off + take);
          n += take;
          off += take;
          if (n === CHUNK) await flush();
          if (stopped) break;
        }
        if (stopped) break;
      }
      if (n > 0) await flush();
      send({ type: 'end' });
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      send({ type: 'error', code: typeof e?.code === 'string' && e.code.startsWith('E_') ? e.code : 'E_IO', message: String(e?.message ?? err) });
    } finally {
      if (!stream.readableEnded) stream.destroy();
    }
  })();

  return {
    port: theirs,
    done,
    stop(): void {
      stopped = true;
      nudge();
      ours.close();
    },
  };
}
