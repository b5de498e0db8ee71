// The event layer's orchestration (docs/events.md) on real Redis and a
// real MariaDB: the graphs deploy and archive enqueue, the gate that keeps
// a failed clone from getting a connection, the finishing jobs' verdicts
// and mails, and the daily lifecycle. The steps themselves (clone, start,
// provision, Moodle, mail) run as stand-in handlers under their contract
// names that record what ran and keep the `vms` rows the way the clone and
// delete tasks do: what those tasks do against the simulated servers is
// their own modules' tests, and test/openvle/e2e runs everything together.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Job, Queue, TaskRegistry, UnrecoverableError } from '../../src/index.js';
import { loadConfig } from '../../src/openvle/config/config.js';
import { migrate } from '../../src/openvle/db/migrate.js';
import { createPool, type Pool } from '../../src/openvle/db/pool.js';
import { seedDemo, type Demo } from '../../src/openvle/demo-data.js';
import { defineTask, type TaskDefinition } from '../../src/openvle/tasks/define.js';
import { enqueueTracked } from '../../src/openvle/tasks/enqueue.js';
import { EVENT_TASKS } from '../../src/openvle/tasks/events/index.js';
import { registerOpenVleTasks } from '../../src/openvle/tasks/index.js';
import { createTaskServices, type TaskServices } from '../../src/openvle/tasks/services.js';
import { QUEUE_NAMES } from '../../src/openvle/queues.js';
import { TaskTracker } from '../../src/openvle/tracking/tracker.js';
import { engineFixture } from '../helpers/engine.js';
import { until } from '../helpers/util.js';
import { testDatabase } from './db.js';

const fx = engineFixture();
let pool: Pool;
let drop: () => Promise<void>;
let tracker: TaskTracker;
let services: TaskServices;
const WAIT = 60_000;
const LOG = 'test:steps';
const FAIL = 'test:fail';

type Row = Record<string, unknown>;
async function rows(sql: string, params: unknown[] = []): Promise<Row[]> {
  const [r] = await pool.query(sql, params);
  return r as Row[];
}

/** A stand-in for a contract task: records `<short name> <key>` and runs `act`; fails for good when its key is in FAIL. */
function standIn(name: string, queue: TaskDefinition['queue'], key: (kw: Record<string, unknown>) => string, act: (kw: Record<string, unknown>) => Promise<unknown> = async () => ({})): TaskDefinition {
  return defineTask({
    name,
    queue,
    label: name,
    action: name,
    async run(_s, kw) {
      const k = `${name.split('.').pop()} ${key(kw)}`;
      while (await fx.redis.exists(`test:hold:${k}`)) await new Promise((r) => setTimeout(r, 20));
      if (await fx.redis.sismember(FAIL, k)) throw new UnrecoverableError(`${k}: injected permanent failure`);
      await fx.redis.rpush(LOG, k);
      return act(kw);
    },
  });
}

let nextVmid = 200;
const STAND_INS: TaskDefinition[] = [
  standIn('openvle.pve.clone_vm', 'pve_vm_clone', (kw) => String(kw.name), async (kw) => {
    const vmid = nextVmid++;
    await pool.query(
      `INSERT INTO vms (vmid, node, name, template_vmid, event_id, participant_id, status) VALUES (?, 'pve-a', ?, ?, ?, ?, 'stopped')`,
      [vmid, kw.name, kw.template_vmid, kw.event_id, kw.participant_id],
    );
    return { vmid, node: 'pve-a' };
  }),
  standIn('openvle.pve.start_vm', 'pve_vm_actions', (kw) => String(kw.name)),
  standIn('openvle.pve.stop_vm', 'pve_vm_actions', (kw) => String(kw.name)),
  standIn('openvle.pve.delete_vm', 'pve_vm_clone', (kw) => String(kw.name), async (kw) => pool.query('DELETE FROM vms WHERE name = ?', [kw.name])),
  standIn('openvle.guacamole.provision', 'guacamole', (kw) => String(kw.vm_name)),
  standIn('openvle.guacamole.cleanup', 'guacamole', (kw) => String(kw.vm_name)),
  standIn('openvle.moodle.deploy_course', 'moodle', (kw) => `ev${kw.event_id}`),
  standIn('openvle.moodle.enrol_user', 'moodle', (kw) => `ev${kw.event_id}-p${kw.participant_id}`),
  standIn('openvle.moodle.archive_course', 'moodle', (kw) => `ev${kw.event_id}`),
  standIn('openvle.mail.send', 'mails', (kw) => `${kw.action} ${kw.to}`),
];

before(async () => {
  const db = await testDatabase();
  drop = db.drop;
  pool = createPool(db.config);
  await migrate(pool);
  tracker = new TaskTracker({ pool, redis: fx.redis, reconciler: { interval: 3_600_000 } });
  // Moodle enabled so that the graphs have their Moodle steps; only stand-ins run them, nothing calls this URL.
  services = createTaskServices({ config: loadConfig({ MOODLE_ENABLED: 'True', MOODLE_URL: 'http://127.0.0.1:9', MOODLE_TOKEN: 'unused' }), pool, redis: fx.redis });
  const reg = new TaskRegistry();
  registerOpenVleTasks(reg, tracker, services, [...EVENT_TASKS, ...STAND_INS]);
  const w = fx.worker([...QUEUE_NAMES], reg, { concurrency: 4 });
  tracker.attach(w);
});

after(async () => {
  await tracker.close();
  await pool.end();
  await drop();
});

let story = 0;
/** A demo event of its own (short name, template VMIDs) in the shared database. */
async function demo(opts: Parameters<typeof seedDemo>[1] = {}): Promise<Demo> {
  story++;
  return seedDemo(pool, { shortName: `ev${story}-t`, templateVmids: [9000 + story * 10, 9001 + story * 10], moodleTemplateCourseId: 7, ...opts });
}

const status = async (eventId: number) => String((await rows('SELECT status FROM events WHERE id = ?', [eventId]))[0]!.status);
const untilStatus = (eventId: number, want: string[]) => until(async () => want.includes(await status(eventId)), WAIT, 50);
const logged = async (prefix: string) => (await fx.redis.lrange(LOG, 0, -1)).filter((l) => l.includes(prefix));

async function run(def: string, kwargs: Record<string, unknown>, jobId: string): Promise<void> {
  const d = EVENT_TASKS.find((t) => t.name === def)!;
  await enqueueTracked(services, d, kwargs, { jobId, eventId: typeof kwargs.event_id === 'number' ? kwargs.event_id : null });
}

test('deploy: per participant and template clone → start → provision, the course then each enrolment, then deployed with the success mail to every participant', async () => {
  const d = await demo();
  await run('openvle.events.deploy', { event_id: d.eventId }, `t-deploy-${d.eventId}`);
  await untilStatus(d.eventId, ['deployed', 'deployment_failed']);
  assert.equal(await status(d.eventId), 'deployed');
  const tag = `${d.shortName}-`;
  const log = await logged(tag);
  const names = d.participantIds.flatMap((p) => d.templateVmids.map((t) => `${d.shortName}-p${p}-t${t}`));
  assert.equal(names.length, 6);
  for (const n of names) {
    const at = (step: string) => log.indexOf(`${step} ${n}`);
    assert.ok(at('clone_vm') >= 0 && at('clone_vm') < at('start_vm') && at('start_vm') < at('provision'), `${n}: ${log.join(' | ')}`);
  }
  const all = await fx.redis.lrange(LOG, 0, -1);
  assert.equal(all.filter((l) => l === `deploy_course ev${d.eventId}`).length, 1);
  for (const p of d.participantIds) assert.ok(all.indexOf(`enrol_user ev${d.eventId}-p${p}`) > all.indexOf(`deploy_course ev${d.eventId}`));
  // The mails are enqueued by the finishing job: wait for them to run.
  await until(async () => (await logged('events_post_deployment_success')).length >= 3, WAIT, 50);
  const mails = (await fx.redis.lrange(LOG, 0, -1)).filter((l) => l.startsWith('send events_post_deployment_success'));
  assert.deepEqual(mails.map((m) => m.split(' ')[2]).filter((to) => d.participantEmails.includes(to!)).sort(), [...d.participantEmails].sort());
  // Task rows: the deploy, 6×3 VM steps, the course, 3 enrolments, the finish and 3 mails, all success.
  const tasks = await rows('SELECT type, status, progress FROM tasks WHERE event_id = ? ORDER BY id', [d.eventId]);
  const byType = (t: string) => tasks.filter((r) => r.type === t);
  assert.equal(byType('openvle.events.deploy').length, 1);
  assert.equal(byType('openvle.pve.clone_vm').length, 6);
  assert.equal(byType('openvle.pve.start_vm').length, 6);
  assert.equal(byType('openvle.guacamole.provision').length, 6);
  assert.equal(byType('openvle.moodle.enrol_user').length, 3);
  assert.equal(byType('openvle.events.finish_deploy').length, 1);
  await until(async () => (await rows("SELECT 1 FROM tasks WHERE event_id = ? AND status <> 'success'", [d.eventId])).length === 0, WAIT, 50);
  const ev = (await rows('SELECT deploy_task_id FROM events WHERE id = ?', [d.eventId]))[0]!;
  const deployTask = (await rows("SELECT id FROM tasks WHERE type = 'openvle.events.deploy' AND event_id = ?", [d.eventId]))[0]!;
  assert.equal(Number(ev.deploy_task_id), Number(deployTask.id));
});

test('the deploy Task follows its steps: its progress rises with each finished step and reaches 100 with the verdict', async () => {
  const d = await demo({ participants: 1 });
  const names = d.templateVmids.map((t) => `${d.shortName}-p${d.participantIds[0]}-t${t}`);
  // Everything that starts a chain waits, so each release finishes a known number of steps.
  const holds = [...names.map((n) => `test:hold:clone_vm ${n}`), `test:hold:deploy_course ev${d.eventId}`];
  for (const h of holds) await fx.redis.set(h, '1');
  await run('openvle.events.deploy', { event_id: d.eventId }, `t-deploy-${d.eventId}`);
  const task = async () => (await rows('SELECT status, progress, result FROM tasks WHERE job_id = ?', [`t-deploy-${d.eventId}`]))[0]!;
  const seen: number[] = [];
  const progressIs = async (want: number) => {
    await until(async () => {
      const p = Number((await task()).progress);
      if (seen.at(-1) !== p) seen.push(p);
      return p === want;
    }, WAIT, 20);
  };
  // 2 clones, 2 starts, 2 connections, the course, 1 enrolment and the finish: 9 steps.
  await until(async () => (await Job.fetch(fx.redis, `t-deploy-${d.eventId}`)).status === 'finished', WAIT, 50);
  await until(async () => (await task()).status === 'success', WAIT, 50);
  assert.equal(Number((await task()).progress), 0, 'the graph is enqueued, no step finished yet');
  await fx.redis.del(holds[0]!);
  await progressIs(33); // one VM's clone, start and connection
  await fx.redis.del(holds[1]!);
  await progressIs(66);
  assert.equal(await status(d.eventId), 'deploying');
  await fx.redis.del(holds[2]!);
  await progressIs(100);
  await untilStatus(d.eventId, ['deployed', 'deployment_failed']);
  const end = await task();
  assert.equal(end.status, 'success');
  assert.equal((typeof end.result === 'string' ? JSON.parse(end.result) : end.result).status, 'deployed');
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b), `progress never goes back: ${seen.join(', ')}`);
  assert.ok(seen.length >= 3, `progress rose step by step: ${seen.join(', ')}`);
});

test('a clone that fails for good: its start and provision never run, the rest deploys, the event ends deployment_failed with the admins mail', async () => {
  const d = await demo({ admins: 2 });
  const bad = `${d.shortName}-p${d.participantIds[1]}-t${d.templateVmids[0]}`;
  await fx.redis.sadd(FAIL, `clone_vm ${bad}`);
  await run('openvle.events.deploy', { event_id: d.eventId }, `t-deploy-${d.eventId}`);
  await untilStatus(d.eventId, ['deployed', 'deployment_failed']);
  assert.equal(await status(d.eventId), 'deployment_failed');
  const all = await fx.redis.lrange(LOG, 0, -1);
  assert.ok(!all.includes(`start_vm ${bad}`) && !all.includes(`provision ${bad}`), 'no start and no connection for the failed clone');
  const good = `${d.shortName}-p${d.participantIds[1]}-t${d.templateVmids[1]}`;
  assert.ok(all.includes(`provision ${good}`), 'the other VMs are still provisioned');
  await until(async () => (await logged(`events_post_deployment_failed ${d.shortName}-admin`)).length >= 2, WAIT, 50);
  assert.equal((await logged(`events_post_deployment_success ${d.shortName}`)).length, 0);
  const skipped = await rows("SELECT type, status, error FROM tasks WHERE event_id = ? AND job_id LIKE ? AND type IN ('openvle.pve.start_vm', 'openvle.guacamole.provision')", [
    d.eventId,
    `%p${d.participantIds[1]}-t${d.templateVmids[0]}`,
  ]);
  assert.equal(skipped.length, 2);
  for (const r of skipped) {
    assert.equal(r.status, 'failed');
    assert.match(String(r.error), /not run: dependency .* ended failed/);
  }
  // Exactly one attempt each: permanent, no retry.
  const attempts = await rows("SELECT COUNT(*) AS n FROM sub_tasks s JOIN tasks t ON t.id = s.task_id WHERE t.event_id = ? AND t.type = 'openvle.pve.clone_vm' AND t.status = 'failed'", [d.eventId]);
  assert.equal(Number(attempts[0]!.n), 1);
  // The deploy Task users look at ends failed, complete, naming the clone that failed.
  const deployTask = (await rows('SELECT status, progress, error FROM tasks WHERE job_id = ?', [`t-deploy-${d.eventId}`]))[0]!;
  assert.equal(deployTask.status, 'failed');
  assert.equal(Number(deployTask.progress), 100);
  assert.match(String(deployTask.error), new RegExp(`deployment_failed: \\d+ step\\(s\\) did not finish: .*clone-p${d.participantIds[1]}-t${d.templateVmids[0]} failed`));
});

test('archive: per VM delete connection → stop → delete, the course archived, the decommission mail, then archived', async () => {
  const d = await demo();
  await run('openvle.events.deploy', { event_id: d.eventId }, `t-deploy-${d.eventId}`);
  await untilStatus(d.eventId, ['deployed', 'deployment_failed']);
  assert.equal(await status(d.eventId), 'deployed');
  await run('openvle.events.archive', { event_id: d.eventId }, `t-archive-${d.eventId}`);
  await untilStatus(d.eventId, ['archived', 'archive_failed']);
  assert.equal(await status(d.eventId), 'archived');
  const log = await fx.redis.lrange(LOG, 0, -1);
  for (const p of d.participantIds) {
    for (const t of d.templateVmids) {
      const n = `${d.shortName}-p${p}-t${t}`;
      const at = (step: string) => log.indexOf(`${step} ${n}`);
      assert.ok(at('cleanup') >= 0 && at('cleanup') < at('stop_vm') && at('stop_vm') < at('delete_vm'), `${n}: ${log.join(' | ')}`);
    }
  }
  assert.ok(log.includes(`archive_course ev${d.eventId}`));
  const archiveTask = (await rows('SELECT status, progress, result FROM tasks WHERE job_id = ?', [`t-archive-${d.eventId}`]))[0]!;
  assert.deepEqual([archiveTask.status, Number(archiveTask.progress)], ['success', 100]);
  assert.equal((typeof archiveTask.result === 'string' ? JSON.parse(archiveTask.result) : archiveTask.result).status, 'archived');
  assert.equal((await rows('SELECT 1 FROM vms WHERE event_id = ?', [d.eventId])).length, 0);
  await until(async () => (await logged(`events_decommission_started ${d.shortName}`)).length >= 3, WAIT, 50);
});

test('archive: a stop that fails for good keeps the VM (its delete never runs), archive_failed with the admins mail', async () => {
  const d = await demo({ participants: 1 });
  await run('openvle.events.deploy', { event_id: d.eventId }, `t-deploy-${d.eventId}`);
  await untilStatus(d.eventId, ['deployed', 'deployment_failed']);
  const vm = `${d.shortName}-p${d.participantIds[0]}-t${d.templateVmids[0]}`;
  await fx.redis.sadd(FAIL, `stop_vm ${vm}`);
  await run('openvle.events.archive', { event_id: d.eventId }, `t-archive-${d.eventId}`);
  await untilStatus(d.eventId, ['archived', 'archive_failed']);
  assert.equal(await status(d.eventId), 'archive_failed');
  assert.ok(!(await fx.redis.lrange(LOG, 0, -1)).includes(`delete_vm ${vm}`));
  assert.deepEqual((await rows('SELECT name FROM vms WHERE event_id = ?', [d.eventId])).map((r) => r.name), [vm]);
  const archiveTask = (await rows('SELECT status, progress, error FROM tasks WHERE job_id = ?', [`t-archive-${d.eventId}`]))[0]!;
  assert.deepEqual([archiveTask.status, Number(archiveTask.progress)], ['failed', 100]);
  assert.match(String(archiveTask.error), /archive_failed: .*stop-vm\d+ failed/);
  await until(async () => (await logged(`events_post_decommission_failed ${d.shortName}-admin1`)).length === 1, WAIT, 50);
});

test('deploy run again (a re-run of the same Task) finds its jobs and enqueues nothing twice; a deployed event is skipped', async () => {
  const d = await demo({ participants: 1 });
  await run('openvle.events.deploy', { event_id: d.eventId }, `t-deploy-${d.eventId}`);
  await untilStatus(d.eventId, ['deployed', 'deployment_failed']);
  const before = Number((await rows('SELECT COUNT(*) AS n FROM tasks WHERE event_id = ?', [d.eventId]))[0]!.n);
  // The same job once more, as after a crash of its worker: same Task, same job ids.
  await rows("UPDATE events SET status = 'deploying' WHERE id = ?", [d.eventId]);
  const job = await Job.fetch(fx.redis, `t-deploy-${d.eventId}`);
  await new Queue('core_periodic', fx.redis).enqueue('openvle.events.deploy', { kwargs: { event_id: d.eventId }, jobId: `t-deploy-${d.eventId}-again`, meta: job.meta });
  await until(async () => (await Job.fetch(fx.redis, `t-deploy-${d.eventId}-again`)).status === 'finished', WAIT, 50);
  const clones = (await fx.redis.lrange(LOG, 0, -1)).filter((l) => l.startsWith(`clone_vm ${d.shortName}-`));
  assert.equal(clones.length, 2, clones.join(' | '));
  assert.equal(Number((await rows('SELECT COUNT(*) AS n FROM tasks WHERE event_id = ?', [d.eventId]))[0]!.n), before);
  // And a deployed event is not deployed again.
  await rows("UPDATE events SET status = 'deployed' WHERE id = ?", [d.eventId]);
  await run('openvle.events.deploy', { event_id: d.eventId }, `t-deploy-${d.eventId}-third`);
  await until(async () => (await Job.fetch(fx.redis, `t-deploy-${d.eventId}-third`)).status === 'finished', WAIT, 50);
  assert.deepEqual(await (await Job.fetch(fx.redis, `t-deploy-${d.eventId}-third`)).returnValue(), { event_id: d.eventId, skipped: 'event is deployed' });
});

test('an environment without a Moodle template course deploys without Moodle steps', async () => {
  const d = await demo({ participants: 2, withoutMoodle: true });
  await run('openvle.events.deploy', { event_id: d.eventId }, `t-deploy-${d.eventId}`);
  await untilStatus(d.eventId, ['deployed', 'deployment_failed']);
  assert.equal(await status(d.eventId), 'deployed');
  const types = (await rows('SELECT DISTINCT type FROM tasks WHERE event_id = ?', [d.eventId])).map((r) => String(r.type));
  assert.ok(!types.some((t) => t.startsWith('openvle.moodle.')), types.join(', '));
  assert.ok(types.includes('openvle.guacamole.provision'));
});

test('bad input: an unknown event fails at once, naming it; an unknown argument too', async () => {
  await run('openvle.events.deploy', { event_id: 999999 }, 't-deploy-missing');
  const failedTask = async (jobId: string) => {
    await until(async () => (await rows("SELECT 1 FROM tasks WHERE job_id = ? AND status = 'failed'", [jobId])).length === 1, WAIT, 50);
    return String((await rows('SELECT error FROM tasks WHERE job_id = ?', [jobId]))[0]!.error);
  };
  assert.match(await failedTask('t-deploy-missing'), /event 999999 does not exist/);
  await run('openvle.events.archive', { event_id: 1, evnt: 2 }, 't-archive-typo');
  assert.match(await failedTask('t-archive-typo'), /unknown argument 'evnt'/);
  // Permanent: one attempt each.
  assert.equal((await rows("SELECT COUNT(*) AS n FROM sub_tasks s JOIN tasks t ON t.id = s.task_id WHERE t.job_id IN ('t-deploy-missing', 't-archive-typo')"))[0]!.n, 2);
});

function day(offset: number): string {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + offset);
  return d.toISOString().slice(0, 10);
}

test('lifecycle: deploys planned events starting within the prep time, archives events ended longer ago, notices once; a second run the same day does nothing', async () => {
  const soon = await demo({ participants: 1, startDate: day(3), endDate: day(20) });
  const later = await demo({ participants: 1, startDate: day(30), endDate: day(40) });
  const ended = await demo({ participants: 1, startDate: day(-40), endDate: day(-10) });
  await rows("UPDATE events SET status = 'deployed' WHERE id = ?", [ended.eventId]);
  const endingSoon = await demo({ participants: 1, startDate: day(-5), endDate: day(2) });
  await rows("UPDATE events SET status = 'deployed' WHERE id = ?", [endingSoon.eventId]);

  const lifecycle = EVENT_TASKS.find((t) => t.name === 'openvle.periodic.event_lifecycle')!;
  await enqueueTracked(services, lifecycle, {}, { jobId: 't-lifecycle-1' });
  await until(async () => (await Job.fetch(fx.redis, 't-lifecycle-1')).status === 'finished', WAIT, 50);
  const first = (await (await Job.fetch(fx.redis, 't-lifecycle-1')).returnValue()) as Record<string, number>;
  await untilStatus(soon.eventId, ['deployed']);
  await untilStatus(ended.eventId, ['archived']);
  assert.equal(await status(later.eventId), 'planned');
  assert.equal(await status(endingSoon.eventId), 'deployed');
  await until(async () => (await logged(`events_start_notice ${soon.shortName}`)).length === 1, WAIT, 50);
  await until(async () => (await logged(`events_end_notice ${endingSoon.shortName}`)).length === 1, WAIT, 50);

  await enqueueTracked(services, lifecycle, {}, { jobId: 't-lifecycle-2' });
  await until(async () => (await Job.fetch(fx.redis, 't-lifecycle-2')).status === 'finished', WAIT, 50);
  const second = (await (await Job.fetch(fx.redis, 't-lifecycle-2')).returnValue()) as Record<string, number>;
  assert.ok(first.deploy! >= 1 && first.archive! >= 1, JSON.stringify(first));
  assert.deepEqual(second, { deploy: 0, archive: 0, start_notices: 0, end_notices: 0, released: 0 });
  assert.equal((await logged(`events_start_notice ${soon.shortName}`)).length, 1);
  assert.equal((await logged(`clone_vm ${soon.shortName}-`)).length, 2);
});

test('lifecycle releases a finishing job stuck because a step was canceled by hand; the event then ends deployment_failed', async () => {
  const d = await demo({ participants: 1 });
  // The course copy waits until the test lets it go, so the enrolment behind it is surely still deferred when canceled.
  const hold = `test:hold:deploy_course ev${d.eventId}`;
  await fx.redis.set(hold, '1');
  await run('openvle.events.deploy', { event_id: d.eventId }, `t-deploy-${d.eventId}`);
  await until(async () => (await Job.fetch(fx.redis, `t-deploy-${d.eventId}`)).status === 'finished', WAIT, 50);
  const deployTask = Number((await rows('SELECT deploy_task_id FROM events WHERE id = ?', [d.eventId]))[0]!.deploy_task_id);
  const finishId = `ev${d.eventId}-deploy${deployTask}-finish`;
  const enrol = await Job.fetch(fx.redis, `ev${d.eventId}-deploy${deployTask}-enrol-p${d.participantIds[0]}`);
  assert.equal(enrol.status, 'deferred');
  await enrol.cancel();
  await fx.redis.del(hold);
  // Every step ends, yet the engine never counts a canceled dependency as met: the finishing job stays deferred.
  await until(async () => {
    const deps = await Job.fetchMany(fx.redis, (await Job.fetch(fx.redis, finishId)).dependencyIds);
    return deps.every((j) => j === null || ['finished', 'failed', 'canceled'].includes(j.status));
  }, WAIT, 50);
  assert.equal((await Job.fetch(fx.redis, finishId)).status, 'deferred');
  assert.equal(await status(d.eventId), 'deploying');
  const lifecycle = EVENT_TASKS.find((t) => t.name === 'openvle.periodic.event_lifecycle')!;
  await enqueueTracked(services, lifecycle, {}, { jobId: `t-lifecycle-release-${d.eventId}` });
  await untilStatus(d.eventId, ['deployment_failed']);
  const result = (await (await Job.fetch(fx.redis, `t-lifecycle-release-${d.eventId}`)).returnValue()) as Record<string, number>;
  assert.equal(result.released, 1);
});
