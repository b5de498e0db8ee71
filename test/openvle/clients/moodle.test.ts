// The Moodle client against the Moodle simulator: every row of
// external-apis.md §3.2 the simulator reproduces, non-JSON answers,
// timeouts (a duplicate that finishes after the client gave up), aborts,
// TLS, and recipes adopting what an earlier attempt created.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ExternalError, failureClassOf, PermanentExternalError } from '../../../src/openvle/clients/failure.js';
import {
  classifyMoodle,
  encodeMoodleParams,
  enrol,
  ensureCourseCopy,
  ensureUser,
  hideCourse,
  MoodleClient,
  moodleConfigFromEnv,
  unenrol,
  unenrolStudents,
  type MoodleConfig,
} from '../../../src/openvle/clients/moodle/index.js';
import { ConfigError, EnvReader } from '../../../src/openvle/config/env.js';
import { startMoodleSim, type MoodleSim } from '../../../src/sim/moodle/server.js';
import { simCertificate } from '../../../src/sim/tls.js';
import { uniq, until } from '../../helpers/util.js';
import { captureLogger } from './log-capture.js';

function configFor(sim: MoodleSim, over: Partial<MoodleConfig> = {}): MoodleConfig {
  return {
    enabled: true, url: sim.url, token: sim.token, verifyTls: true, timeoutMs: 10_000, duplicateTimeoutMs: 60_000,
    userAuth: 'manual', studentRoleId: 5, teacherRoleId: 3, ...over,
  };
}

async function rejectsWith(p: Promise<unknown>, cls: string, pattern?: RegExp): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.equal(failureClassOf(err), cls, `expected ${cls}, got ${String(err)}`);
    if (pattern) assert.match((err as Error).message, pattern);
    return err as Error;
  }
  assert.fail(`expected a ${cls} failure`);
}

describe('Moodle configuration', () => {
  test('off by default with nothing required; the documented defaults', () => {
    const r = new EnvReader({});
    const c = moodleConfigFromEnv(r);
    r.check();
    assert.equal(c.enabled, false);
    assert.equal(c.verifyTls, true);
    assert.equal(c.timeoutMs, 30_000);
    assert.equal(c.duplicateTimeoutMs, 600_000);
    assert.equal(c.userAuth, 'manual');
    assert.equal(c.studentRoleId, 5);
    assert.equal(c.teacherRoleId, 3);
  });

  test('enabled: URL and token required; every bad value one problem line without the token', () => {
    const r = new EnvReader({ MOODLE_ENABLED: '"True"', MOODLE_TIMEOUT: 'soon', MOODLE_STUDENT_ROLE_ID: '0', MOODLE_VERIFY_SSL: 'ja', MOODLE_USER_AUTH: 'Man ual' });
    moodleConfigFromEnv(r);
    assert.throws(() => r.check(), (err: ConfigError) => {
      assert.equal(err.problems.length, 6, err.problems.join('\n'));
      return true;
    });
    const ok = new EnvReader({ MOODLE_ENABLED: '1', MOODLE_URL: 'https://moodle.example.edu/', MOODLE_TOKEN: 'abcdef123456', MOODLE_TIMEOUT: '45' });
    const c = moodleConfigFromEnv(ok);
    ok.check();
    assert.equal(c.url, 'https://moodle.example.edu');
    assert.equal(c.timeoutMs, 45_000);
  });
});

describe('Moodle client', () => {
  let sim: MoodleSim;
  let client: MoodleClient;
  let template: number;
  const log = captureLogger();

  before(async () => {
    sim = await startMoodleSim({
      tokens: { 'tok-all-0123456789': {}, 'tok-narrow-0123456789': { functions: ['core_course_get_courses_by_field'] }, 'tok-nohidden-0123456789': { viewHidden: false } },
    });
    client = new MoodleClient(configFor(sim), { logger: log });
    template = sim.addCourse({ fullname: 'Linux – Template', shortname: 'LINUX-TPL' });
  });
  after(async () => {
    await client.close();
    await sim.close();
    assert.ok(!log.lines.join('\n').includes('tok-all-0123456789'), 'the token never reaches the log');
  });

  test('bracket encoding of lists and maps, booleans as 1/0', () => {
    assert.deepEqual(encodeMoodleParams({ users: [{ username: 'a', suspend: true }], values: ['x', 'y'], n: 3 }), [
      ['users[0][username]', 'a'],
      ['users[0][suspend]', '1'],
      ['values[0]', 'x'],
      ['values[1]', 'y'],
      ['n', '3'],
    ]);
  });

  test('ensureCourseCopy duplicates once, then adopts by shortname', async () => {
    const shortname = uniq('EV').toUpperCase();
    const spec = { templateCourseId: template, fullname: 'Linux Lab Group B', shortname, categoryid: 1, visible: false };
    const first = await ensureCourseCopy(client, spec);
    assert.equal(first.adopted, false);
    const again = await ensureCourseCopy(client, spec);
    assert.deepEqual(again, { id: first.id, adopted: true });
    assert.equal(sim.courses().filter((c) => c.shortname === shortname).length, 1);
    assert.equal(sim.courses().find((c) => c.id === first.id)!.visible, 0);
  });

  test('a duplicate slower than the deadline: transient, and the retry adopts the copy the server finished', async () => {
    const c = new MoodleClient(configFor(sim, { duplicateTimeoutMs: 300 }));
    try {
      sim.setDuplicateDelayMs(2_000);
      const shortname = uniq('SLOW').toUpperCase();
      const spec = { templateCourseId: template, fullname: 'Slow copy', shortname, categoryid: 1 };
      await rejectsWith(ensureCourseCopy(c, spec), 'transient', /no answer within 300 ms/);
      await until(() => sim.pendingDuplicates === 0, 15_000);
      const duplicatesBefore = sim.calls('core_course_duplicate_course');
      const r = await ensureCourseCopy(c, spec);
      assert.equal(r.adopted, true);
      assert.equal(sim.calls('core_course_duplicate_course'), duplicatesBefore, 'no second copy was asked for');
      assert.equal(sim.courses().filter((x) => x.shortname === shortname).length, 1);
    } finally {
      sim.setDuplicateDelayMs(0);
      await c.close();
    }
  });

  test('shortnametaken is the already_done class; ensureCourseCopy adopts the course holding the shortname', async () => {
    const shortname = uniq('LOST').toUpperCase();
    const existing = sim.addCourse({ fullname: 'Made earlier', shortname });
    // The first look-up fails as if the earlier copy was not yet visible; duplicate then says the name is taken.
    sim.inject({ wsfunction: 'core_course_get_courses_by_field', httpStatus: 200 });
    await rejectsWith(ensureCourseCopy(client, { templateCourseId: template, fullname: 'x', shortname, categoryid: 1 }), 'transient');
    const err = await rejectsWith(client.duplicateCourse({ courseid: template, fullname: 'x', shortname, categoryid: 1 }), 'already_done', /Short name is already used/);
    assert.ok(err instanceof ExternalError);
    assert.deepEqual(await ensureCourseCopy(client, { templateCourseId: template, fullname: 'x', shortname, categoryid: 1 }), { id: existing, adopted: true });
  });

  test('a shortname held by a course the token cannot see is not adopted: permanent', async () => {
    const shortname = uniq('HIDDEN').toUpperCase();
    sim.addCourse({ fullname: 'Someone else', shortname, visible: 0 });
    const c = new MoodleClient(configFor(sim, { token: 'tok-nohidden-0123456789' }));
    try {
      await rejectsWith(ensureCourseCopy(c, { templateCourseId: template, fullname: 'x', shortname, categoryid: 1 }), 'permanent', /cannot see/);
      assert.equal(sim.courses().filter((x) => x.shortname === shortname).length, 1);
    } finally {
      await c.close();
    }
  });

  test('ensureUser creates once (lower-cased), and adopts it afterwards', async () => {
    const name = uniq('Student');
    const spec = { username: name, email: `${name.toLowerCase()}@example.edu`, firstname: 'Sabine', lastname: 'Müller', password: 'Init-4711-xyz!' };
    const first = await ensureUser(client, spec);
    assert.equal(first.created, true);
    assert.equal(first.username, name.toLowerCase());
    assert.equal(sim.users().find((u) => u.id === first.id)!.auth, 'manual');
    assert.deepEqual(await ensureUser(client, spec), { ...first, created: false });

  });

  test('ensureUser: a create whose answer was lost is transient, and the retry adopts; a user there by e-mail (invalidparameter) is adopted', async () => {
    const c = new MoodleClient(configFor(sim, { timeoutMs: 300 }));
    try {
      const lost = uniq('lost');
      // The server creates the user but answers after the client gave up.
      sim.inject({ wsfunction: 'core_user_create_users', delayMs: 1_000 });
      const spec = { username: lost, email: `${lost}@example.edu`, firstname: 'L', lastname: 'A' };
      await rejectsWith(ensureUser(c, spec), 'transient', /no answer within 300 ms/);
      await until(() => sim.users().some((u) => u.username === lost), 15_000);
      const creates = sim.calls('core_user_create_users');
      const r = await ensureUser(c, spec);
      assert.equal(r.created, false);
      assert.equal(sim.calls('core_user_create_users'), creates, 'the retry creates nothing');
      assert.equal(r.id, sim.users().find((u) => u.username === lost)!.id);
      assert.equal(sim.users().filter((u) => u.username === lost).length, 1);

      const email = `${uniq('mail')}@example.edu`;
      const existing = sim.addUser({ username: uniq('manual'), email });
      const byMail = await ensureUser(c, { username: uniq('other'), email, firstname: 'E', lastname: 'M' });
      assert.deepEqual([byMail.id, byMail.created], [existing, false]);
    } finally {
      await c.close();
    }
  });

  test('create_users refusing for a reason other than a duplicate stays permanent', async () => {
    const name = uniq('weak');
    await rejectsWith(ensureUser(client, { username: name, email: `${name}@example.edu`, firstname: 'W', lastname: 'P', password: 'short' }), 'permanent', /Passwords must be/);
    await rejectsWith(ensureUser(client, { username: uniq('bad'), email: 'not-an-email', firstname: 'B', lastname: 'E' }), 'permanent', /invalidparameter/);
  });

  test('enrol is safe to repeat; unenrol; unenrolStudents keeps teachers; hideCourse hides', async () => {
    const course = sim.addCourse({ fullname: 'Event', shortname: uniq('EVT') });
    const student = (await ensureUser(client, { username: uniq('s'), email: `${uniq('s')}@example.edu`, firstname: 'S', lastname: 'S' })).id;
    const other = (await ensureUser(client, { username: uniq('o'), email: `${uniq('o')}@example.edu`, firstname: 'O', lastname: 'O' })).id;
    const teacher = (await ensureUser(client, { username: uniq('t'), email: `${uniq('t')}@example.edu`, firstname: 'T', lastname: 'T' })).id;
    await enrol(client, { userid: student, courseid: course });
    await enrol(client, { userid: student, courseid: course });
    await enrol(client, { userid: other, courseid: course });
    await enrol(client, { userid: teacher, courseid: course, roleid: client.config.teacherRoleId });
    assert.equal(sim.enrolments(course).length, 3);
    await unenrol(client, { userid: other, courseid: course });
    await unenrol(client, { userid: other, courseid: course });
    assert.deepEqual((await unenrolStudents(client, course)).sort(), [student]);
    assert.deepEqual(sim.enrolments(course).map((e) => [e.userid, e.roleid]), [[teacher, 3]]);
    await hideCourse(client, course);
    await hideCourse(client, course);
    assert.equal(sim.courses().find((c) => c.id === course)!.visible, 0);
    await rejectsWith(hideCourse(client, 987654), 'permanent', /invalid course ID/);
  });

  test('§3.2 rows: token and access errors are permanent_config, the raw answer logged without the token', async () => {
    const l = captureLogger();
    const bad = new MoodleClient(configFor(sim, { token: 'wrong-token-abcdef' }), { logger: l });
    const err = await rejectsWith(bad.getCourseByShortname('X'), 'permanent_config', /Invalid token - token not found/);
    assert.ok(err instanceof PermanentExternalError);
    assert.equal(err.details.code, 'invalidtoken');
    assert.ok(l.lines.some((x) => x.includes('"errorcode":"invalidtoken"')));
    assert.ok(!JSON.stringify([l.lines, err.message, err.details]).includes('wrong-token-abcdef'));
    await bad.close();
    const narrow = new MoodleClient(configFor(sim, { token: 'tok-narrow-0123456789' }));
    await rejectsWith(narrow.getUsersByField('username', ['x']), 'permanent_config', /Access control exception/);
    await narrow.close();
  });

  test('§3.2 rows: wsusercannotassign and wsnoinstance permanent_config; invalidcourseid, codingerror, invalidrecord permanent', async () => {
    const u = sim.addUser({ username: uniq('e'), email: `${uniq('e')}@example.edu` });
    const course = sim.addCourse({ fullname: 'c', shortname: uniq('C') });
    await rejectsWith(enrol(client, { userid: u, courseid: course, roleid: 1 }), 'permanent_config', /permission to assign this role/);
    const closed = sim.addCourse({ fullname: 'closed', shortname: uniq('CL'), manualEnrol: false });
    await rejectsWith(enrol(client, { userid: u, courseid: closed }), 'permanent_config', /Manual enrolment plugin instance/);
    await rejectsWith(client.duplicateCourse({ courseid: 424242, fullname: 'x', shortname: uniq('X'), categoryid: 1 }), 'permanent', /invalid course ID/);
    await rejectsWith(client.call('core_user_get_users_by_field', { field: 'city', values: ['x'] }), 'permanent', /Coding error/);
    await rejectsWith(client.call('core_no_such_function'), 'permanent', /external_functions/);
  });

  test('§3.2 rows: maintenance and database errors transient; proxy 502, empty body, HTML 200 transient; 404 configuration', async () => {
    sim.inject({ errorcode: 'sitemaintenance', message: 'Site is in maintenance mode' });
    await rejectsWith(client.getCourseByShortname('X'), 'transient');
    sim.inject({ exception: 'dml_write_exception', errorcode: 'dmlwriteexception', message: 'Error writing to database' });
    await rejectsWith(client.getCourseByShortname('X'), 'transient');
    sim.inject({ httpStatus: 502 });
    await rejectsWith(client.getCourseByShortname('X'), 'transient', /HTTP 502/);
    sim.inject({ httpStatus: 200 });
    await rejectsWith(client.getCourseByShortname('X'), 'transient', /HTTP 200 without a JSON answer/);
    const wrongPath = new MoodleClient(configFor(sim, { url: `${sim.url}/moodle` }));
    await rejectsWith(wrongPath.getCourseByShortname('X'), 'permanent_config', /HTTP 404/);
    await wrongPath.close();
    assert.equal(classifyMoodle({ exception: 'moodle_exception', errorcode: 'invalidtimedtoken' }), 'permanent_config');
    assert.equal(classifyMoodle({ exception: 'required_capability_exception', errorcode: 'nopermissions' }), 'permanent_config');
    assert.equal(classifyMoodle({ exception: 'ddl_exception', errorcode: 'ddlexecuteerror' }), 'transient');
  });

  test('an ordinary call slower than MOODLE_TIMEOUT is transient; an aborted job rejects with its own reason; refused is transient', async () => {
    const c = new MoodleClient(configFor(sim, { timeoutMs: 300 }));
    try {
      sim.inject({ wsfunction: 'core_course_get_courses_by_field', delayMs: 3_000 });
      await rejectsWith(c.getCourseByShortname('X'), 'transient', /no answer within 300 ms/);
      sim.inject({ wsfunction: 'core_course_get_courses_by_field', delayMs: 3_000 });
      const ac = new AbortController();
      const pending = c.getCourseByShortname('X', { signal: ac.signal });
      setImmediate(() => ac.abort(new Error('job cancelled')));
      await assert.rejects(pending, (err: Error) => err.message === 'job cancelled' && failureClassOf(err) === undefined);
    } finally {
      await c.close();
    }
    const gone = await startMoodleSim();
    const url = gone.url;
    await gone.close();
    const refused = new MoodleClient(configFor(gone, { url }));
    await rejectsWith(refused.getCourseByShortname('X'), 'transient');
    await refused.close();
  });

  test('TLS: a self-signed server refused by default, trusted with a CA file, accepted with verification off', async () => {
    const tls = await startMoodleSim({ https: true });
    const dir = mkdtempSync(join(tmpdir(), 'moodle-ca-'));
    try {
      const caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, simCertificate().cert);
      const strict = new MoodleClient(configFor(tls));
      await rejectsWith(strict.getCourseByShortname('X'), 'permanent_config', /TLS/);
      await strict.close();
      const withCa = new MoodleClient(configFor(tls, { caFile }));
      assert.equal(await withCa.getCourseByShortname('X'), undefined);
      await withCa.close();
      const off = new MoodleClient(configFor(tls, { verifyTls: false }));
      assert.equal(await off.getCourseByShortname('X'), undefined);
      await off.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await tls.close();
    }
  });
});
