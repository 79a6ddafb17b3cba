/** The worker pool (piscina facade) and the jobs built on it. See README.md. */
export { WorkerPool, defaultThreads, rebuildError, workerFile, type PoolOptions } from './pool.js';
export { gzipFileParallel, type ParallelGzipOptions } from './gzip.js';
export { BLOCK_SIZE } from '../../workers/gzip-blocks.js';
export type { CodecFormat, Job, JobReply, ResultOf } from '../../workers/protocol.js';
