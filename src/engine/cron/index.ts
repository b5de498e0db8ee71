export { CronEntry, CronConfigError, CATCH_UP_POLICIES, type CatchUp, type CronOptions } from './entry.js';
export { cron, CronRegistry } from './registry.js';
export { CronScheduler, type CronSchedulerOptions, type CronSchedulerEvents } from './scheduler.js';
