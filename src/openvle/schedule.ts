/**
 * OpenVLE's periodic schedule, a cron config: `openvle-rq cron
 * src/openvle/schedule.ts` runs it, and so does the scheduler role
 * (`openvle-rq serve --role scheduler`). Any number of cron processes may
 * run it against one Redis: each fire time is enqueued once.
 */
import { cron } from '../index.js';
import { workerConfigFromEnv } from './config/worker.js';
import { EnvReader } from './config/env.js';

// Only the worker section: the scheduler needs no database or client settings.
const reader = new EnvReader(process.env);
const worker = workerConfigFromEnv(reader);
reader.check();

/** The entries, for tests and docs: task name, queue, and when. */
export const SCHEDULE = [
  { func: 'openvle.periodic.pve_sync', queueName: 'pve_periodic', interval: worker.pvePeriodicInterval },
  { func: 'openvle.periodic.event_lifecycle', queueName: 'core_periodic', cron: '0 1 * * *' },
  { func: 'openvle.periodic.mail_cleanup', queueName: 'core_periodic', cron: '0 2 * * *' },
] as const;

// Cron expressions are read in UTC (the engine's default).
for (const { func, ...when } of SCHEDULE) cron.register(func, when);
