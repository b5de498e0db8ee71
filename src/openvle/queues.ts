import { Retry } from '../index.js';

/**
 * OpenVLE's seven queues, exactly as the task-system table gives them.
 * `maxRetries: 'WORKER_MAX_RETRY'` follows the variable (default 5); a
 * number is fixed whatever the variable says.
 */
export const QUEUE_NAMES = [
  'pve_vm_clone',
  'pve_vm_actions',
  'pve_periodic',
  'mails',
  'guacamole',
  'moodle',
  'core_periodic',
] as const;

export type QueueName = (typeof QUEUE_NAMES)[number];

export interface QueueSpec {
  name: QueueName;
  purpose: string;
  maxRetries: 'WORKER_MAX_RETRY' | number;
  /** Seconds, indexed as RQ's Retry indexes them (see retryDelays). */
  intervals: readonly number[];
}

export const QUEUES: Readonly<Record<QueueName, QueueSpec>> = {
  pve_vm_clone: { name: 'pve_vm_clone', purpose: 'VM cloning and deletion', maxRetries: 'WORKER_MAX_RETRY', intervals: [10, 30, 60] },
  pve_vm_actions: { name: 'pve_vm_actions', purpose: 'VM actions (start, stop, reset, migrate)', maxRetries: 'WORKER_MAX_RETRY', intervals: [5, 10, 15] },
  pve_periodic: { name: 'pve_periodic', purpose: 'Proxmox polling (node info sync)', maxRetries: 3, intervals: [5, 10, 15] },
  mails: { name: 'mails', purpose: 'Email delivery', maxRetries: 'WORKER_MAX_RETRY', intervals: [30, 60, 120] },
  guacamole: { name: 'guacamole', purpose: 'Guacamole connection management', maxRetries: 'WORKER_MAX_RETRY', intervals: [10, 30, 60] },
  moodle: { name: 'moodle', purpose: 'Moodle course and user management', maxRetries: 'WORKER_MAX_RETRY', intervals: [10, 30, 60] },
  core_periodic: { name: 'core_periodic', purpose: 'Event lifecycle, email cleanup', maxRetries: 3, intervals: [5, 10, 15] },
};

export function isOpenVleQueue(name: string): name is QueueName {
  return (QUEUE_NAMES as readonly string[]).includes(name);
}

export interface RetryPolicy {
  /** Retries after the first attempt; 0 means none. */
  max: number;
  intervals: number[];
}

/** The part of the configuration retry policies depend on. */
export interface RetryConfig {
  worker: { maxRetry: number };
}

/** A queue's retry policy under the given configuration. */
export function retryPolicy(queue: QueueName, config: RetryConfig): RetryPolicy {
  const spec = QUEUES[queue];
  if (!spec) throw new TypeError(`Unknown OpenVLE queue '${String(queue)}': use one of ${QUEUE_NAMES.join(', ')}`);
  const max = spec.maxRetries === 'WORKER_MAX_RETRY' ? config.worker.maxRetry : spec.maxRetries;
  return { max, intervals: [...spec.intervals] };
}

/**
 * The wait before each retry, in order, as RQ applies a policy: the
 * interval list is aligned to its END and indexed by the retries left
 * before the failure (`intervals[max(len - retries_left, 0)]`), so with
 * more retries than intervals the FIRST interval repeats at the start:
 * max 5 over [10, 30, 60] waits 10, 10, 10, 30, 60; max 2 waits 30, 60
 * (the first interval is never used). This is what lua/include/fail.lua
 * (fail_job) and Python RQ both do.
 */
export function retryDelays(policy: RetryPolicy): number[] {
  const { intervals } = policy;
  if (intervals.length === 0) return Array.from({ length: policy.max }, () => 0);
  return Array.from({ length: policy.max }, (_, i) => intervals[Math.max(intervals.length - (policy.max - i), 0)]!);
}

/** The engine's Retry for a policy, or undefined when it allows no retry. */
export function toRetry(policy: RetryPolicy): Retry | undefined {
  return policy.max > 0 ? new Retry({ max: policy.max, interval: policy.intervals }) : undefined;
}
