import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2';
import { Retry } from '../../../src/index.js';
import { createTaskServices } from '../../../src/openvle/tasks/index.js';
import { ARCHIVE_COURSE } from '../../../src/openvle/tasks/moodle/archive-course.js';
import { DEPLOY_COURSE } from '../../../src/openvle/tasks/moodle/deploy-course.js';
import { ENROL_USER } from '../../../src/openvle/tasks/moodle/enrol-user.js';
import { archiveCourse, deployCourse, enrolUser } from '../../../src/openvle/tasks/moodle/index.js';
import { until } from '../../helpers/util.js';
import { addEnvironment, addEvent, addParticipant } from './seed-mgm.js';
import { taskWorld, WAIT } from './world-mgm.js';

/** The openvle-rq command line, from the sources (a dist/ build may be stale). */
const CLI = join(import.meta.dirname, '../../../src/cli/main.ts');
const w = taskWorld({ env: { MOODLE_USER_AUTH: 'oauth2' } });
const fast = (seconds = 1) => new Retry({ max: 3, interval: [seconds] });

/** An event whose environment has a template course in its own category. */
async function event(name = 'Linux Basics') {
  const categoryid = w.sim.moodle.addCategory(`Labs ${name}`);
  const templateCourseId = w.sim.moodle.addCourse({ fullname: 'Linux template', shortname: `TPL-${Math.random().toString(36).slice(2, 8)}`, categoryid });
  const environmentId = await addEnvironment(w.pool, { templateCourseId });
  const ev = await addEvent(w.pool, { name, environmentId });
  return { ...ev, templateCourseId, categoryid };
}

async function eventRow(id: number) {
  const [rows] = await w.pool.query<RowDataPacket[]>('SELECT * FROM events WHERE id = ?', [id]);
  return rows[0]!;
}
async function participantRow(id: number) {
  const [rows] = await w.pool.query<RowDataPacket[]>('SELECT * FROM event_participants WHERE id = ?', [id]);
  return rows[0]!;
}
const coursesNamed = (shortname: string) => w.sim.moodle.courses().filter((c) => c.shortname === shortname);

test('deploy_course copies the template course into its category under the event\'s shortname, stores its id, and a second run adopts it', async () => {
  const worker = w.worker(['moodle']);
  const ev = await event('Networks 101');
  const duplicates = w.sim.moodle.calls('core_course_duplicate_course');
  const t1 = await w.settled((await w.enqueue(DEPLOY_COURSE, { event_id: ev.id })).taskId);
  assert.equal(t1.status, 'success', t1.error ?? '');
  const [course] = coursesNamed(`openvle-${ev.shortName}`);
  assert.ok(course, 'the copy exists');
  assert.deepEqual(t1.result, { course_id: course.id });
  assert.equal(course.fullname, 'Networks 101');
  assert.equal(course.categoryid, ev.categoryid);
  assert.equal(Number((await eventRow(ev.id)).moodle_course_id), course.id);
  const t2 = await w.settled((await w.enqueue(DEPLOY_COURSE, { event_id: ev.id })).taskId);
  assert.deepEqual(t2.result, { course_id: course.id });
  assert.equal(w.sim.moodle.calls('core_course_duplicate_course') - duplicates, 1, 'copied once');
  worker.stop();
  await worker.done;
});

test('a copy whose attempt timed out while Moodle went on copying is adopted by the retry, not copied again', async () => {
  const worker = w.worker(['moodle']);
  const ev = await event('Slow copy');
  w.sim.moodle.setDuplicateDelayMs(2000);
  try {
    const duplicates = w.sim.moodle.calls('core_course_duplicate_course');
    // The job's 1 s timeout aborts the duplicate call; Moodle finishes the copy regardless.
    const { taskId } = await w.enqueue(DEPLOY_COURSE, { event_id: ev.id }, { retry: fast(3), jobTimeout: 1 });
    const t = await w.settled(taskId);
    assert.equal(t.status, 'success', t.error ?? '');
    const subs = await w.subTasks(taskId);
    assert.deepEqual(subs.map((s) => s.status), ['error', 'success']);
    const copies = coursesNamed(`openvle-${ev.shortName}`);
    assert.equal(copies.length, 1, 'one course');
    assert.deepEqual(t.result, { course_id: copies[0]!.id });
    assert.equal(w.sim.moodle.calls('core_course_duplicate_course') - duplicates, 1, 'duplicated once');
  } finally {
    w.sim.moodle.setDuplicateDelayMs(100);
  }
  worker.stop();
  await worker.done;
});

test('enrol_user twice: one Moodle user (auth MOODLE_USER_AUTH), one enrolment, teacher role for instructors; an existing user is adopted', async () => {
  const worker = w.worker(['moodle']);
  const ev = await event('Enrolments');
  const student = await addParticipant(w.pool, ev.id, { username: 'Lena.K', email: 'lena@students.test', firstName: 'Lena', lastName: 'Klein' });
  const teacher = await addParticipant(w.pool, ev.id, { username: 'prof', email: 'prof@uni.test', role: 'instructor' });
  const existing = w.sim.moodle.addUser({ username: 'prof', email: 'prof@uni.test' });
  const deployed = await w.settled((await w.enqueue(DEPLOY_COURSE, { event_id: ev.id })).taskId);
  const courseId = (deployed.result as { course_id: number }).course_id;
  for (let i = 0; i < 2; i++) {
    for (const p of [student, teacher]) {
      const t = await w.settled((await w.enqueue(ENROL_USER, { event_id: ev.id, participant_id: p })).taskId);
      assert.equal(t.status, 'success', t.error ?? '');
    }
  }
  const lena = w.sim.moodle.users().filter((u) => u.username === 'lena.k');
  assert.equal(lena.length, 1, 'one user, username lower-cased');
  assert.equal(lena[0]!.auth, 'oauth2');
  assert.equal(lena[0]!.firstname, 'Lena');
  const enrolments = w.sim.moodle.enrolments(courseId);
  assert.deepEqual(
    enrolments.map((e) => [e.userid, e.roleid]).sort(),
    [[lena[0]!.id, 5], [existing, 3]].sort(),
    'one enrolment each: student role 5, teacher role 3',
  );
  const row = await participantRow(student);
  assert.equal(Number(row.moodle_user_id), lena[0]!.id);
  assert.ok(row.moodle_enrolled_at);
  assert.equal(Number((await participantRow(teacher)).moodle_user_id), existing);
  worker.stop();
  await worker.done;
});

test('archive_course unenrols the students, keeps the instructors, hides the course; a second run changes nothing', async () => {
  const worker = w.worker(['moodle']);
  const ev = await event('Archive me');
  const s1 = await addParticipant(w.pool, ev.id, { username: 'arch-s1' });
  const s2 = await addParticipant(w.pool, ev.id, { username: 'arch-s2' });
  const teacher = await addParticipant(w.pool, ev.id, { username: 'arch-t', role: 'instructor' });
  const courseId = ((await w.settled((await w.enqueue(DEPLOY_COURSE, { event_id: ev.id })).taskId)).result as { course_id: number }).course_id;
  for (const p of [s1, s2, teacher]) assert.equal((await w.settled((await w.enqueue(ENROL_USER, { event_id: ev.id, participant_id: p })).taskId)).status, 'success');
  assert.equal(w.sim.moodle.enrolments(courseId).length, 3);
  const t = await w.settled((await w.enqueue(ARCHIVE_COURSE, { event_id: ev.id })).taskId);
  assert.equal(t.status, 'success', t.error ?? '');
  assert.deepEqual(t.result, { unenrolled: 2, hidden: true });
  const teacherId = Number((await participantRow(teacher)).moodle_user_id);
  assert.deepEqual(w.sim.moodle.enrolments(courseId).map((e) => e.userid), [teacherId], 'the instructor stays');
  assert.equal(w.sim.moodle.courses().find((c) => c.id === courseId)!.visible, 0);
  assert.equal((await participantRow(s1)).moodle_enrolled_at, null);
  assert.ok((await participantRow(teacher)).moodle_enrolled_at);
  const again = await w.settled((await w.enqueue(ARCHIVE_COURSE, { event_id: ev.id })).taskId);
  assert.deepEqual(again.result, { unenrolled: 0, hidden: true });
  worker.stop();
  await worker.done;
});

test('skipped when Moodle is disabled or the environment has no template course; enrolment before the course exists fails at once', async () => {
  const ev = await event('Skips');
  const p = await addParticipant(w.pool, ev.id, { username: 'skip-1' });
  const off = createTaskServices({ config: { ...w.config, moodle: { ...w.config.moodle, enabled: false } }, pool: w.pool, redis: w.fx.redis });
  assert.deepEqual(await deployCourse(off, { event_id: ev.id }), { skipped: 'Moodle is disabled' });
  assert.deepEqual(await enrolUser(off, { event_id: ev.id, participant_id: p }), { skipped: 'Moodle is disabled' });
  assert.deepEqual(await archiveCourse(off, { event_id: ev.id }), { skipped: 'Moodle is disabled' });

  const bare = await addEvent(w.pool, { environmentId: await addEnvironment(w.pool, { templateCourseId: null }) });
  const bp = await addParticipant(w.pool, bare.id, { username: 'skip-2' });
  assert.deepEqual(await deployCourse(w.services, { event_id: bare.id }), { skipped: "the event's environment has no Moodle template course" });
  assert.deepEqual(await enrolUser(w.services, { event_id: bare.id, participant_id: bp }), { skipped: 'the event has no Moodle course' });
  assert.deepEqual(await archiveCourse(w.services, { event_id: bare.id }), { skipped: 'the event has no Moodle course' });

  const worker = w.worker(['moodle']);
  const early = await w.settled((await w.enqueue(ENROL_USER, { event_id: ev.id, participant_id: p }, { retry: fast() })).taskId);
  assert.equal(early.status, 'failed');
  assert.match(early.error ?? '', /openvle\.moodle\.deploy_course must run first/);
  assert.equal((await w.subTasks(early.id)).length, 1);
  const other = await w.settled((await w.enqueue(ENROL_USER, { event_id: bare.id, participant_id: p }, { retry: fast() })).taskId);
  assert.equal(other.status, 'failed');
  assert.match(other.error ?? '', /no participant \d+ in event \d+/);
  worker.stop();
  await worker.done;
});

test('a real worker process (openvle-rq worker --role worker) SIGKILLed during an enrolment, then restarted: exactly one enrolment, the Task ends in success', async () => {
  const ev = await event('Kill');
  const p = await addParticipant(w.pool, ev.id, { username: 'kill-me', email: 'kill@students.test' });
  const worker = w.worker(['moodle']);
  const courseId = ((await w.settled((await w.enqueue(DEPLOY_COURSE, { event_id: ev.id })).taskId)).result as { course_id: number }).course_id;
  worker.stop();
  await worker.done;

  const db = w.db;
  const spawnWorker = () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, 'worker', '--role', 'worker', '-u', w.fx.url, '--job-monitoring-interval', '1', '--maintenance-interval', '1'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          ...process.env,
          ...w.sim.env,
          MOODLE_USER_AUTH: 'oauth2',
          MARIADB_HOST: db.host,
          MARIADB_PORT: String(db.port),
          MARIADB_USER: db.user,
          MARIADB_PASSWORD: db.password,
          MARIADB_DATABASE: db.database,
        },
      },
    );
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    return { child, exited, stderr: () => stderr };
  };
  const enrolCalls = w.sim.moodle.calls('enrol_manual_enrol_users');
  // The enrolment reaches Moodle, which takes 3 s to answer: the worker dies waiting.
  w.sim.moodle.inject({ wsfunction: 'enrol_manual_enrol_users', delayMs: 3000 });
  // No retry of its own: the moodle queue's default (WORKER_MAX_RETRY, 10 s first) applies, as for the backend's jobs.
  const { taskId } = await w.enqueue(ENROL_USER, { event_id: ev.id, participant_id: p });
  const first = spawnWorker();
  let second: ReturnType<typeof spawnWorker> | undefined;
  try {
    await until(() => w.sim.moodle.calls('enrol_manual_enrol_users') > enrolCalls, 90_000, 10).catch((err) => {
      throw new Error(`${err.message}; worker stderr: ${first.stderr()}`);
    });
    first.child.kill('SIGKILL');
    await first.exited;
    second = spawnWorker();
    const t = await until(async () => {
      const row = await w.tracker.store.getTask(taskId);
      return row && (row.status === 'success' || row.status === 'failed') ? row : undefined;
    }, 120_000, 100).catch((err) => {
      throw new Error(`${err.message}; worker stderr: ${second!.stderr()}`);
    });
    assert.equal(t!.status, 'success', t!.error ?? '');
    const subs = await w.subTasks(taskId);
    assert.deepEqual(subs.map((s) => [s.status, s.errorMessage]), [['error', 'worker died'], ['success', null]]);
    const user = w.sim.moodle.users().filter((u) => u.username === 'kill-me');
    assert.equal(user.length, 1, 'one Moodle user');
    assert.deepEqual(w.sim.moodle.enrolments(courseId).map((e) => [e.userid, e.roleid]), [[user[0]!.id, 5]], 'exactly one enrolment');
  } finally {
    for (const c of [first, second]) {
      if (c && c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      await c?.exited;
    }
  }
});
