/**
 * The pool's one worker module: piscina calls the default export with each job. It dispatches on
 * `job.kind` and ALWAYS resolves to a JobReply; nothing it does can throw across the thread
 * boundary (see protocol.ts).
 *
 * Workers get paths and reply; they never import lib/store (the main thread owns the index).
 */
import { runBlob, runHash } from './blob.js';
import { JobError, errorReply } from './errors.js';
import type { Job, JobReply } from './protocol.js';

/** Run one job; resolves to a JobReply, never rejects. */
export default async function run(job: Job): Promise<JobReply<unknown>> {
  try {
    switch (job.kind) {
      case 'blob':
        return { ok: true, value: await runBlob(job) };
      case 'hash':
        return { ok: true, value: await runHash(job) };
      default:
        throw new JobError('E_INTERNAL', `unknown job kind ${JSON.stringify((job as { kind?: unknown }).kind)}`);
    }
  } catch (err) {
    return errorReply(err, job.kind === 'blob' ? '' : `${job.kind} job`);
  }
}
