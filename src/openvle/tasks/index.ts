import type { TaskRegistry } from '../../index.js';
import type { TaskTracker } from '../tracking/tracker.js';
import { kwargsOf } from './args.js';
import type { TaskDefinition } from './define.js';
import { EVENT_TASKS } from './events/index.js';
import { checkDependencies } from './events/gate.js';
import { GUACAMOLE_TASKS } from './guacamole/index.js';
import { MAIL_TASKS } from './mail/index.js';
import { MOODLE_TASKS } from './moodle/index.js';
import { PVE_TASKS } from './pve/index.js';
import type { TaskServices } from './services.js';

/** Every OpenVLE task: the contract with the Python backend (README, "Tasks"). */
export const OPENVLE_TASKS: readonly TaskDefinition[] = [
  ...PVE_TASKS,
  ...MAIL_TASKS,
  ...GUACAMOLE_TASKS,
  ...MOODLE_TASKS,
  ...EVENT_TASKS,
];

/** Registers every OpenVLE task (or the given ones), tracked, on a worker's task registry. */
export function registerOpenVleTasks(registry: TaskRegistry, tracker: TaskTracker, services: TaskServices, defs: readonly TaskDefinition[] = OPENVLE_TASKS): void {
  for (const def of defs) {
    tracker.register(registry, def.name, { label: def.label, action: def.action }, async (...args: unknown[]) => {
      // A step of an event graph whose parent failed ends here, before its handler does anything.
      await checkDependencies();
      return def.run(services, kwargsOf(def.name, args));
    });
  }
}

export { defineTask, type TaskDefinition } from './define.js';
export { createTaskServices, type TaskServices, type ClientOptions } from './services.js';
export { enqueueTracked, type TrackedEnqueue, type Enqueued, type TaskRef } from './enqueue.js';
export { Args, BadArgumentError, kwargsOf } from './args.js';
