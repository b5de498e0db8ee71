export { TaskTracker, type TaskTrackerOptions } from './tracker.js';
export {
  TaskStore,
  firstLine,
  storedError,
  type TaskRow,
  type SubTaskRow,
  type TaskSummary,
  type TaskStatus,
  type SubTaskStatus,
  type NewTask,
  type StatusGuard,
} from './store.js';
export { progress, followSteps, parentTaskIdFromMeta, currentAttempt, trackedHandler, taskIdFromMeta, TrackingUnavailableError, type TrackedOptions } from './attempt.js';
export { attachTracking, WORKER_DIED } from './events.js';
export { Reconciler, type ReconcilerOptions, type ReconcileCounts } from './reconciler.js';
export { retryTask, TaskRetryError } from './retry.js';
export { ProgressThrottle } from './progress.js';
export { formatTaskTable, tasksAsJson, age } from './format.js';
