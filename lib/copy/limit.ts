/**
 * How many blobs one image copies at once when the caller does not say (CopyOptions.jobs, the CLI's
 * --image-parallel-copies / --jobs): six, as many transfers as the registry client runs to one host
 * in each direction (DEFAULT_PER_HOST in lib/registry/limiter.ts), so one image keeps them busy; CPU-heavy jobs
 * are further bounded by the worker pool. Layers and referrers' blobs use the same number.
 */
export const DEFAULT_BLOB_JOBS = 6;

/** Run `fn` over `items` with at most `n` in flight, in order of `items`; the first failure stops new starts and is thrown after in-flight work settles. */
export async function runLimited<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed) throw failed.err;
}
