/** Waiting on a stream's events (tar reading and writing share this). */

/**
 * Resolve on the stream's next `ev`; reject on 'error', or with `onClosed()` when it closes first.
 * The listeners are removed whichever comes first.
 */
export function nextEvent(s: NodeJS.EventEmitter, ev: string, onClosed: () => Error): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      s.off(ev, onEv);
      s.off('error', onErr);
      s.off('close', onClose);
    };
    const onEv = (): void => {
      cleanup();
      resolve();
    };
    const onErr = (err: unknown): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(onClosed());
    };
    s.on(ev, onEv);
    s.on('error', onErr);
    s.on('close', onClose);
  });
}
