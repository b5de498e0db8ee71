import { Job } from '../../../index.js';
import { Args } from '../args.js';
import { defineTask } from '../define.js';
import { enqueueTracked } from '../enqueue.js';
import type { TaskServices } from '../services.js';
import { archiveEvent } from './archive.js';
import { eventsWhere, mailActionHasTemplate, participants, type EventRow } from './data.js';
import { deployEvent } from './deploy.js';
import { mailEach } from './steps.js';

/** Advance notices (migration 005 adds the actions): to every participant, once per event. */
export const START_NOTICE_MAIL = 'events_start_notice';
export const END_NOTICE_MAIL = 'events_end_notice';

const TERMINAL = new Set(['finished', 'failed', 'canceled', 'stopped']);

/**
 * A finishing job still deferred although every step ended: a step was
 * canceled or stopped by hand, which the engine (like RQ) never counts as
 * met, even with allowFailure. Cancel then requeue puts it on its queue;
 * it then reads how each step ended like any other run.
 */
async function releaseStuckFinish(s: TaskServices, finishId: string): Promise<boolean> {
  const finish = await Job.fetchOrNull(s.redis, finishId);
  if (!finish || finish.status !== 'deferred') return false;
  const deps = await Job.fetchMany(s.redis, finish.dependencyIds);
  if (!deps.every((d) => d === null || TERMINAL.has(d.status))) return false;
  await finish.cancel();
  await finish.requeue();
  return true;
}

/**
 * The daily event lifecycle (01:00 UTC): deploys planned events that start
 * within EVENTS_START_PREP_TIME_DAYS, archives deployed events that ended
 * more than EVENTS_END_PREP_TIME_DAYS ago, sends the advance notices.
 * Idempotent per day: the jobs it enqueues have ids made of the event and
 * the date, and a notice is marked sent on the event.
 */
export const eventLifecycle = defineTask({
  name: 'openvle.periodic.event_lifecycle',
  queue: 'core_periodic',
  label: 'Event lifecycle',
  action: 'Check event dates',
  async run(s, kwargs) {
    const a = new Args('openvle.periodic.event_lifecycle', kwargs);
    a.done();
    const { eventsStartPrepTimeDays: startDays, eventsEndPrepTimeDays: endDays } = s.config.worker;
    const today = new Date().toISOString().slice(0, 10);
    const stamp = today.replace(/-/g, '');
    const counts = { deploy: 0, archive: 0, start_notices: 0, end_notices: 0, released: 0 };

    const toDeploy = await eventsWhere(s.pool, `status = 'planned' AND start_date <= DATE_ADD(?, INTERVAL ? DAY) AND (end_date IS NULL OR end_date >= ?)`, [today, startDays, today]);
    for (const ev of toDeploy) {
      const r = await enqueueTracked(s, deployEvent, { event_id: ev.id }, { jobId: `ev${ev.id}-lifecycle-deploy-${stamp}`, eventId: ev.id });
      if (!r.existed) counts.deploy++;
    }

    const toArchive = await eventsWhere(s.pool, `status IN ('deployed', 'deployment_failed') AND end_date IS NOT NULL AND end_date < DATE_SUB(?, INTERVAL ? DAY)`, [today, endDays]);
    for (const ev of toArchive) {
      const r = await enqueueTracked(s, archiveEvent, { event_id: ev.id }, { jobId: `ev${ev.id}-lifecycle-archive-${stamp}`, eventId: ev.id });
      if (!r.existed) counts.archive++;
    }

    if (await mailActionHasTemplate(s.pool, START_NOTICE_MAIL)) {
      const soon = await eventsWhere(
        s.pool,
        `status IN ('planned', 'deploying', 'deployed') AND start_notice_sent_at IS NULL AND start_date >= ? AND start_date <= DATE_ADD(?, INTERVAL ? DAY)`,
        [today, today, startDays],
      );
      for (const ev of soon) counts.start_notices += await notice(s, ev, 'start', START_NOTICE_MAIL);
    }
    if (await mailActionHasTemplate(s.pool, END_NOTICE_MAIL)) {
      const ending = await eventsWhere(
        s.pool,
        `status = 'deployed' AND end_notice_sent_at IS NULL AND end_date IS NOT NULL AND end_date >= ? AND end_date <= DATE_ADD(?, INTERVAL ? DAY)`,
        [today, today, endDays],
      );
      for (const ev of ending) counts.end_notices += await notice(s, ev, 'end', END_NOTICE_MAIL);
    }

    for (const ev of await eventsWhere(s.pool, `status IN ('deploying', 'archiving')`, [])) {
      const runTask = ev.status === 'deploying' ? ev.deployTaskId : ev.archiveTaskId;
      if (runTask === null) continue;
      const finishId = `ev${ev.id}-${ev.status === 'deploying' ? 'deploy' : 'archive'}${runTask}-finish`;
      if (await releaseStuckFinish(s, finishId)) counts.released++;
    }
    return counts;
  },
});

/** Enqueues one notice per participant (deterministic ids), then marks it sent; returns the mails enqueued. */
async function notice(s: TaskServices, ev: EventRow, which: 'start' | 'end', action: string): Promise<number> {
  const ids = await mailEach(s, ev, `ev${ev.id}-notice-${which}`, action, await participants(s.pool, ev.id));
  await s.pool.query(`UPDATE events SET ${which}_notice_sent_at = CURRENT_TIMESTAMP(3) WHERE id = ? AND ${which}_notice_sent_at IS NULL`, [ev.id]);
  return ids.length;
}
