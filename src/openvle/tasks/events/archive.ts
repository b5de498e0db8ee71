import { followSteps } from '../../tracking/attempt.js';
import { Args } from '../args.js';
import { defineTask } from '../define.js';
import { admins, environmentCourse, eventVms, getEvent, mailActionHasTemplate, participants, transition, type EventStatus } from './data.js';
import { EventStateError, GraphBuilder, mailEach, ownDependencies, runKey, settleParent, stepOutcomes } from './steps.js';

export const DECOMMISSION_STARTED_MAIL = 'events_decommission_started';
export const DECOMMISSION_FAILED_MAIL = 'events_post_decommission_failed';

const FINISH_ARCHIVE = { name: 'openvle.events.finish_archive', queue: 'core_periodic', label: 'Finish event archiving' } as const;

/** States an archive may start from: any end of a deployment, a failed archive, or an event that never deployed. */
const ARCHIVABLE: EventStatus[] = ['planned', 'deployed', 'deployment_failed', 'archive_failed'];

/**
 * Enqueues an event's archive graph (docs/events.md): per VM delete its
 * Guacamole connections → stop it → delete it; students unenrolled and the
 * course hidden; the finishing job after all of them.
 */
export const archiveEvent = defineTask({
  name: 'openvle.events.archive',
  queue: 'core_periodic',
  label: 'Archive event',
  action: 'Enqueue the archive jobs',
  async run(s, kwargs) {
    const a = new Args('openvle.events.archive', kwargs);
    const eventId = a.int('event_id', { min: 1 });
    a.done();
    const key = runKey();
    const taskId = Number.isSafeInteger(Number(key)) ? Number(key) : null;
    let ev = await getEvent(s.pool, eventId);
    if (!ev) throw new EventStateError(`openvle.events.archive: event ${eventId} does not exist`);
    const mine = ev.status === 'archiving' && (taskId === null || ev.archiveTaskId === taskId);
    if (!mine) {
      if (ev.status === 'archiving') throw new EventStateError(`openvle.events.archive: event ${eventId} is being archived by Task ${ev.archiveTaskId}`);
      if (ev.status === 'deploying') throw new EventStateError(`openvle.events.archive: event ${eventId} is still deploying; archive it once the deployment ended`);
      if (!ARCHIVABLE.includes(ev.status)) return { event_id: eventId, skipped: `event is ${ev.status}` };
      if (!(await transition(s.pool, eventId, [ev.status], 'archiving', { archive_task_id: taskId }))) {
        throw new EventStateError(`openvle.events.archive: event ${eventId} changed status while archiving started; run it again`);
      }
      ev = (await getEvent(s.pool, eventId))!;
    }
    const base = `ev${eventId}-archive${key}`;
    // Told first, and not part of the graph: a mail that fails does not make the archive fail.
    let started: string[] = [];
    if (await mailActionHasTemplate(s.pool, DECOMMISSION_STARTED_MAIL)) {
      started = await mailEach(s, ev, `${base}-mail`, DECOMMISSION_STARTED_MAIL, await participants(s.pool, eventId));
    }
    const vms = await eventVms(s.pool, eventId);
    // From here on this Task's progress counts its finished steps (docs/events.md, Progress).
    followSteps();
    const g = new GraphBuilder(s, eventId);
    for (const vm of vms) {
      const tag = `vm${vm.id}`;
      const cleanup = await g.step('openvle.guacamole.cleanup', `${base}-guac-${tag}`, { vm_name: vm.name });
      // A VM whose clone never got a VMID has nothing to stop on Proxmox.
      const before = vm.vmid === null ? cleanup : await g.step('openvle.pve.stop_vm', `${base}-stop-${tag}`, { name: vm.name }, [cleanup]);
      await g.step('openvle.pve.delete_vm', `${base}-delete-${tag}`, { name: vm.name }, [before]);
    }
    // Only an event with a course (its copy, or a template to copy from) has students to unenrol and a course to hide.
    if (s.config.moodle.enabled && (ev.moodleCourseId !== null || (await environmentCourse(s.pool, ev.environmentId)) !== null)) await g.step('openvle.moodle.archive_course', `${base}-course`, { event_id: eventId });
    const finish = await g.finish(FINISH_ARCHIVE, `${base}-finish`);
    return { event_id: eventId, vms: vms.length, jobs: g.ids, mails: started.length, finish };
  },
});

/** Runs after every archive step ended: `archived`, or `archive_failed` and the failure mail to the admins. */
export const finishArchive = defineTask({
  ...FINISH_ARCHIVE,
  action: 'Check the archive jobs',
  async run(s, kwargs) {
    const a = new Args(FINISH_ARCHIVE.name, kwargs);
    const eventId = a.int('event_id', { min: 1 });
    a.done();
    const ev = await getEvent(s.pool, eventId);
    if (!ev) throw new EventStateError(`${FINISH_ARCHIVE.name}: event ${eventId} does not exist`);
    if (ev.status !== 'archiving') return { event_id: eventId, status: ev.status, skipped: 'event is not archiving' };
    const { jobId, deps, parentTaskId } = ownDependencies();
    const outcomes = await stepOutcomes(s, deps);
    const failed = [...outcomes].filter(([, end]) => end !== 'finished').map(([id, end]) => `${id} ${end}`);
    if (failed.length === 0) {
      const verdict = { event_id: eventId, status: 'archived', steps: deps.length };
      await settleParent(s, parentTaskId, verdict, failed);
      await transition(s.pool, eventId, ['archiving'], 'archived');
      return verdict;
    }
    const mails = await mailEach(s, ev, `${jobId}-mail`, DECOMMISSION_FAILED_MAIL, await admins(s.pool, eventId), { failed_steps: failed.length });
    const verdict = { event_id: eventId, status: 'archive_failed', steps: deps.length, failed, mails: mails.length };
    await settleParent(s, parentTaskId, verdict, failed);
    await transition(s.pool, eventId, ['archiving'], 'archive_failed');
    return verdict;
  },
});
