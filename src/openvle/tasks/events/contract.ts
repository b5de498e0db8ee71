import type { QueueName } from '../../queues.js';
import type { TaskRef } from '../enqueue.js';
import { GUACAMOLE_TASKS } from '../guacamole/index.js';
import { MAIL_TASKS } from '../mail/index.js';
import { MOODLE_TASKS } from '../moodle/index.js';
import { PVE_TASKS } from '../pve/index.js';

// The tasks the event graph enqueues, by their contract (README, "Tasks"):
// name and queue are fixed; label and job timeout come from the module that
// defines the task when it is registered, so the Task rows read the same
// whether the backend or an event enqueued them.
const CONTRACT: Record<string, { queue: QueueName; label: string; jobTimeout?: number }> = {
  'openvle.pve.clone_vm': { queue: 'pve_vm_clone', label: 'Clone VM', jobTimeout: 3600 },
  'openvle.pve.start_vm': { queue: 'pve_vm_actions', label: 'Start VM' },
  'openvle.pve.stop_vm': { queue: 'pve_vm_actions', label: 'Stop VM' },
  'openvle.pve.delete_vm': { queue: 'pve_vm_clone', label: 'Delete VM', jobTimeout: 1800 },
  'openvle.mail.send': { queue: 'mails', label: 'Send email' },
  'openvle.guacamole.provision': { queue: 'guacamole', label: 'Provision Guacamole' },
  'openvle.guacamole.cleanup': { queue: 'guacamole', label: 'Clean up Guacamole' },
  'openvle.moodle.deploy_course': { queue: 'moodle', label: 'Deploy Moodle course', jobTimeout: 1800 },
  'openvle.moodle.enrol_user': { queue: 'moodle', label: 'Enroll Moodle user' },
  'openvle.moodle.archive_course': { queue: 'moodle', label: 'Archive Moodle course' },
};

export type ContractTask = keyof typeof CONTRACT;

export function taskRef(name: ContractTask): TaskRef {
  const defined = [...PVE_TASKS, ...MAIL_TASKS, ...GUACAMOLE_TASKS, ...MOODLE_TASKS].find((d) => d.name === name);
  if (defined) return defined;
  const c = CONTRACT[name]!;
  return { name, ...c };
}
