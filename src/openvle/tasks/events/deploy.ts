import { followSteps } from '../../tracking/attempt.js';
import { Args } from '../args.js';
import { defineTask } from '../define.js';
import type { TaskServices } from '../services.js';
import { admins, environmentCourse, environmentTemplates, getEvent, participants, transition, vmName, type EventRow } from './data.js';
import { EventStateError, GraphBuilder, mailEach, ownDependencies, runKey, settleParent, stepOutcomes } from './steps.js';

export const DEPLOY_SUCCESS_MAIL = 'events_post_deployment_success';
export const DEPLOY_FAILED_MAIL = 'events_post_deployment_failed';

const FINISH_DEPLOY = { name: 'openvle.events.finish_deploy', queue: 'core_periodic', label: 'Finish event deployment' } as const;

async function eventOrFail(s: TaskServices, task: string, id: number): Promise<EventRow> {
  const ev = await getEvent(s.pool, id);
  if (!ev) throw new EventStateError(`${task}: event ${id} does not exist`);
  return ev;
}

/**
 * Enqueues an event's deployment graph (docs/events.md): per participant
 * and template clone → start → Guacamole provision; the course copy, then
 * each enrolment; and the finishing job after all of them.
 */
export const deployEvent = defineTask({
  name: 'openvle.events.deploy',
  queue: 'core_periodic',
  label: 'Deploy event',
  action: 'Enqueue the deployment jobs',
  async run(s, kwargs) {
    const a = new Args('openvle.events.deploy', kwargs);
    const eventId = a.int('event_id', { min: 1 });
    a.done();
    const key = runKey();
    const taskId = Number.isSafeInteger(Number(key)) ? Number(key) : null;
    let ev = await eventOrFail(s, 'openvle.events.deploy', eventId);
    const mine = ev.status === 'deploying' && (taskId === null || ev.deployTaskId === taskId);
    if (!mine) {
      if (ev.status === 'deploying') throw new EventStateError(`openvle.events.deploy: event ${eventId} is being deployed by Task ${ev.deployTaskId}`);
      if (ev.status !== 'planned' && ev.status !== 'deployment_failed') return { event_id: eventId, skipped: `event is ${ev.status}` };
      if (!(await transition(s.pool, eventId, [ev.status], 'deploying', { deploy_task_id: taskId }))) {
        throw new EventStateError(`openvle.events.deploy: event ${eventId} changed status while deploying started; run it again`);
      }
      ev = (await getEvent(s.pool, eventId))!;
    }
    const people = await participants(s.pool, eventId);
    const templates = await environmentTemplates(s.pool, ev.environmentId);
    // From here on this Task's progress counts its finished steps (docs/events.md, Progress).
    followSteps();
    const g = new GraphBuilder(s, eventId);
    const base = `ev${eventId}-deploy${key}`;
    for (const p of people) {
      for (const t of templates) {
        const name = vmName(ev, p.id, t.vmid);
        const tag = `p${p.id}-t${t.vmid}`;
        const clone = await g.step('openvle.pve.clone_vm', `${base}-clone-${tag}`, { template_vmid: t.vmid, name, event_id: eventId, participant_id: p.id });
        const start = await g.step('openvle.pve.start_vm', `${base}-start-${tag}`, { name }, [clone]);
        await g.step('openvle.guacamole.provision', `${base}-guac-${tag}`, { vm_name: name, participant_id: p.id, event_id: eventId }, [start]);
      }
    }
    // No course to copy (Moodle disabled, or the environment has no template course): no Moodle steps at all.
    if (s.config.moodle.enabled && (await environmentCourse(s.pool, ev.environmentId)) !== null) {
      const course = await g.step('openvle.moodle.deploy_course', `${base}-course`, { event_id: eventId });
      for (const p of people) await g.step('openvle.moodle.enrol_user', `${base}-enrol-p${p.id}`, { event_id: eventId, participant_id: p.id }, [course]);
    }
    const finish = await g.finish(FINISH_DEPLOY, `${base}-finish`);
    return { event_id: eventId, vms: people.length * templates.length, jobs: g.ids, finish };
  },
});

/**
 * Runs after every step of the deployment ended: `deployed` and the
 * success mail to every participant when all finished, else
 * `deployment_failed` and the failure mail to the event's admins.
 */
export const finishDeploy = defineTask({
  ...FINISH_DEPLOY,
  action: 'Check the deployment jobs',
  async run(s, kwargs) {
    const a = new Args(FINISH_DEPLOY.name, kwargs);
    const eventId = a.int('event_id', { min: 1 });
    a.done();
    const ev = await eventOrFail(s, FINISH_DEPLOY.name, eventId);
    if (ev.status !== 'deploying') return { event_id: eventId, status: ev.status, skipped: 'event is not deploying' };
    const { jobId, deps, parentTaskId } = ownDependencies();
    const outcomes = await stepOutcomes(s, deps);
    const failed = [...outcomes].filter(([, end]) => end !== 'finished').map(([id, end]) => `${id} ${end}`);
    // Mails first, with deterministic ids, then the status: a re-run after a
    // crash in between finds the event still deploying and the mails enqueued.
    if (failed.length === 0) {
      const mails = await mailEach(s, ev, `${jobId}-mail`, DEPLOY_SUCCESS_MAIL, await participants(s.pool, eventId));
      const verdict = { event_id: eventId, status: 'deployed', steps: deps.length, mails: mails.length };
      await settleParent(s, parentTaskId, verdict, failed);
      await transition(s.pool, eventId, ['deploying'], 'deployed');
      return verdict;
    }
    const mails = await mailEach(s, ev, `${jobId}-mail`, DEPLOY_FAILED_MAIL, await admins(s.pool, eventId), { failed_steps: failed.length });
    const verdict = { event_id: eventId, status: 'deployment_failed', steps: deps.length, failed, mails: mails.length };
    await settleParent(s, parentTaskId, verdict, failed);
    await transition(s.pool, eventId, ['deploying'], 'deployment_failed');
    return verdict;
  },
});
