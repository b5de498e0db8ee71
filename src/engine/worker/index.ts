export { Worker } from './worker.js';
export type { WorkerOptions, DequeueStrategy, QueueRetry } from './options.js';
export type { WorkerEvents, Outcome, RecoveryOutcome } from './events.js';
export type { EndHook, JobEnding } from './end-hooks.js';
