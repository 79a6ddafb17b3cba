/**
 * A worker module for the pool's tests only (kept out of the production protocol): it fails on
 * purpose, as a reply carrying a code or by throwing a plain Error, so the tests can check how the
 * main thread rebuilds errors and survives a job that breaks the rules.
 */
import { JobError, errorReply } from '../../workers/errors.js';

export interface FailJob {
  kind: 'fail';
  code: string;
  message: string;
  /** throw a plain Error out of the module instead of replying */
  raw?: boolean;
}

export default async function run(job: FailJob): Promise<unknown> {
  if (job.raw) throw new Error(job.message);
  return errorReply(new JobError(job.code, job.message), '');
}
