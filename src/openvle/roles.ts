import { QUEUE_NAMES, type QueueName } from './queues.js';

/**
 * What a container runs, chosen by SERVICE_ROLE (or --role). Queues are in
 * priority order: the engine's default dequeue strategy takes from the
 * first non-empty queue, as RQ does.
 */
export interface Role {
  name: RoleName;
  description: string;
  queues: readonly QueueName[];
  /** Jobs run at once in one process. */
  concurrency: number;
  /**
   * Whether the process runs OpenVLE's periodic schedule (the cron
   * entries). Only the scheduler role does: two cron processes are safe,
   * but one role owns it so that workers stay plain workers.
   */
  cron: boolean;
  /**
   * Whether the worker also moves due scheduled jobs back to their queue
   * (RQ's --with-scheduler). Every worker role does, because retries with
   * an interval are scheduled jobs and nothing else would enqueue them.
   */
  withScheduler: boolean;
}

export const ROLE_NAMES = ['worker', 'worker-vm-clone', 'worker-periodic', 'worker-all', 'scheduler'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

// Concurrency mirrors one RQ process per replica of the seed's table where
// that matters: the clone worker runs one clone at a time (one replica of
// a one-job-at-a-time RQ worker; Proxmox clones of the same template lock
// each other anyway), the periodic worker one poll at a time (a second
// poll overlapping the first would only race it), and the general worker
// 4, what its four RQ replicas ran together.
export const ROLES: Readonly<Record<RoleName, Role>> = {
  worker: {
    name: 'worker',
    description: 'General jobs: VM actions, mail, Guacamole, Moodle, event lifecycle',
    queues: ['core_periodic', 'guacamole', 'mails', 'moodle', 'pve_vm_actions'],
    concurrency: 4,
    cron: false,
    withScheduler: true,
  },
  'worker-vm-clone': {
    name: 'worker-vm-clone',
    description: 'Long VM clone and delete jobs',
    queues: ['pve_vm_clone'],
    concurrency: 1,
    cron: false,
    withScheduler: true,
  },
  'worker-periodic': {
    name: 'worker-periodic',
    description: 'Proxmox polling',
    queues: ['pve_periodic'],
    concurrency: 1,
    cron: false,
    withScheduler: true,
  },
  'worker-all': {
    name: 'worker-all',
    description: 'Every queue in one process (development)',
    queues: [...QUEUE_NAMES],
    concurrency: 4,
    cron: false,
    withScheduler: true,
  },
  scheduler: {
    name: 'scheduler',
    description: "Enqueues OpenVLE's periodic jobs on their schedule; runs no jobs",
    queues: [],
    concurrency: 0,
    cron: true,
    withScheduler: false,
  },
};

export class UnknownRoleError extends Error {
  constructor(name: string) {
    super(`Unknown role '${name}': use one of ${ROLE_NAMES.join(', ')}`);
    this.name = 'UnknownRoleError';
  }
}

export function isRoleName(name: string): name is RoleName {
  return (ROLE_NAMES as readonly string[]).includes(name);
}

/** The role of that name; throws UnknownRoleError (one line listing the valid roles). */
export function roleByName(name: string): Role {
  const n = name.trim().toLowerCase();
  if (!isRoleName(n)) throw new UnknownRoleError(name);
  return ROLES[n];
}
