/** The worker pool (piscina facade) and the feeding of main-thread streams to its jobs. See README.md. */
export { WorkerPool, defaultThreads, rebuildError, workerFile, type PoolOptions } from './pool.js';
export { feedStream, type Feed } from './feed.js';
export { compressFile, decompressFile } from './files.js';
export { BLOCK_SIZE, GzipBlockEncoder } from '../../workers/gzip-blocks.js';
export type { BlobJob, BlobResult, Hashed, Job, JobInput, JobOutput, JobReply, ResultOf } from '../../workers/protocol.js';
