// The Moodle simulator on its own, spoken to with raw HTTP and checked
// against external-apis.md §3: errors in HTTP 200 with Moodle's exact
// texts, bracket parameters, token → functions, strict cleaning.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseBracketParams } from '../../src/sim/moodle/params.js';
import { startMoodleSim, type MoodleSim } from '../../src/sim/moodle/server.js';
import { until } from '../helpers/util.js';

interface Raw {
  status: number;
  text: string;
  json: any;
  contentType: string;
}

describe('Moodle simulator', () => {
  let sim: MoodleSim;
  let template: number;

  async function post(params: Record<string, string> | string, query = ''): Promise<Raw> {
    const body = typeof params === 'string' ? params : new URLSearchParams(params).toString();
    const res = await fetch(`${sim.endpoint}${query}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json, contentType: res.headers.get('content-type') ?? '' };
  }
  const ws = (wsfunction: string, args: Record<string, string> = {}, token?: string): Promise<Raw> =>
    post({ wstoken: token ?? sim.token, wsfunction, moodlewsrestformat: 'json', ...args });

  function moodleError(r: Raw, exception: string, errorcode: string, message: string): void {
    assert.equal(r.status, 200, 'Moodle errors are HTTP 200');
    assert.equal(r.json.exception, exception);
    assert.equal(r.json.errorcode, errorcode);
    assert.equal(r.json.message, message);
  }

  before(async () => {
    sim = await startMoodleSim({
      tokens: { 'all-token': {}, 'narrow-token': { functions: ['core_course_get_courses_by_field'] } },
    });
    template = sim.addCourse({ fullname: 'Intro to Linux – Template', shortname: 'LINUX-TPL', categoryid: 1 });
  });
  after(() => sim.close());

  test('bracket keys become nested lists and maps, as PHP reads them', () => {
    const p = parseBracketParams([
      ['users[0][username]', 'a'],
      ['users[0][email]', 'a@x.org'],
      ['users[1][username]', 'b'],
      ['values[]', 'x'],
      ['values[]', 'y'],
    ]);
    assert.deepEqual(p, { users: { 0: { username: 'a', email: 'a@x.org' }, 1: { username: 'b' } }, values: { 0: 'x', 1: 'y' } });
  });

  test('an unknown or missing token is invalidtoken; a function outside the service is accessexception', async () => {
    moodleError(await ws('core_course_get_courses_by_field', {}, 'nope'), 'moodle_exception', 'invalidtoken', 'Invalid token - token not found');
    moodleError(await post({ wsfunction: 'core_course_get_courses_by_field', moodlewsrestformat: 'json' }), 'moodle_exception', 'invalidtoken', 'Invalid token - token not found');
    moodleError(await ws('core_user_create_users', {}, 'narrow-token'), 'webservice_access_exception', 'accessexception', 'Access control exception');
    assert.equal((await ws('core_course_get_courses_by_field', {}, 'narrow-token')).json.warnings.length, 0);
    moodleError(await ws('core_no_such_function'), 'dml_missing_record_exception', 'invalidrecord', "Can't find data record in database table external_functions.");
  });

  test('without moodlewsrestformat=json the answer is XML', async () => {
    const r = await post({ wstoken: 'nope', wsfunction: 'core_course_get_courses_by_field' });
    assert.equal(r.status, 200);
    assert.match(r.contentType, /xml/);
    assert.match(r.text, /<EXCEPTION class="moodle_exception">[\s\S]*<ERRORCODE>invalidtoken<\/ERRORCODE>/);
  });

  test('query and body parameters are merged, the body winning', async () => {
    const r = await post(
      new URLSearchParams({ wstoken: 'all-token', moodlewsrestformat: 'json', field: 'shortname', value: 'LINUX-TPL' }).toString(),
      '?wsfunction=core_course_get_courses_by_field&value=NOT-THIS',
    );
    assert.equal(r.json.courses.length, 1);
    assert.equal(r.json.courses[0].id, template);
  });

  test('get_courses_by_field: a match, no match as empty lists, and a bad field', async () => {
    const r = await ws('core_course_get_courses_by_field', { field: 'shortname', value: 'LINUX-TPL' });
    assert.equal(r.json.courses[0].shortname, 'LINUX-TPL');
    assert.equal(r.json.courses[0].fullname, 'Intro to Linux – Template');
    assert.deepEqual((await ws('core_course_get_courses_by_field', { field: 'shortname', value: 'NONE' })).json, { courses: [], warnings: [] });
    moodleError(await ws('core_course_get_courses_by_field', { field: 'colour', value: 'x' }), 'invalid_parameter_exception', 'invalidparameter', 'Invalid parameter value detected');
  });

  test('duplicate_course copies, then answers shortnametaken with the full names; invalidcourseid for an unknown source', async () => {
    const args = { courseid: String(template), fullname: 'Linux Lab SS26 Group B', shortname: 'LINUX-SS26-B', categoryid: '1', visible: '0', 'options[0][name]': 'users', 'options[0][value]': '0' };
    const r = await ws('core_course_duplicate_course', args);
    assert.equal(r.json.shortname, 'LINUX-SS26-B');
    assert.equal(typeof r.json.id, 'number');
    assert.equal(sim.courses().find((c) => c.id === r.json.id)!.visible, 0);
    moodleError(await ws('core_course_duplicate_course', args), 'moodle_exception', 'shortnametaken', 'Short name is already used for another course (Linux Lab SS26 Group B)');
    moodleError(await ws('core_course_duplicate_course', { ...args, courseid: '999', shortname: 'X' }), 'moodle_exception', 'invalidcourseid', 'You are trying to use an invalid course ID');
    const badOption = await ws('core_course_duplicate_course', { ...args, shortname: 'Y', 'options[0][value]': '2' });
    assert.equal(badOption.json.errorcode, 'invalidextparam');
  });

  test('a slow duplicate still makes its copy after the client has gone', async () => {
    sim.setDuplicateDelayMs(3000);
    const ac = new AbortController();
    const p = fetch(sim.endpoint, {
      method: 'POST', signal: ac.signal, headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ wstoken: 'all-token', wsfunction: 'core_course_duplicate_course', moodlewsrestformat: 'json', courseid: String(template), fullname: 'Slow', shortname: 'SLOW-1', categoryid: '1' }).toString(),
    });
    await until(() => sim.pendingDuplicates === 1, 10_000);
    ac.abort();
    await assert.rejects(p);
    // The backup half: no course yet. Then the course row appears, hidden until the restore is done.
    assert.equal(sim.courses().some((c) => c.shortname === 'SLOW-1'), false);
    await until(() => sim.courses().some((c) => c.shortname === 'SLOW-1'), 10_000);
    await until(() => sim.pendingDuplicates === 0, 10_000);
    assert.equal(sim.courses().find((c) => c.shortname === 'SLOW-1')!.visible, 1);
    sim.setDuplicateDelayMs(0);
  });

  test('create_users: strict username cleaning, one transaction, duplicates; detail only in debuginfo when debugging', async () => {
    const u = (i: number, username: string, email: string): Record<string, string> => ({
      [`users[${i}][username]`]: username, [`users[${i}][firstname]`]: 'Sabine', [`users[${i}][lastname]`]: 'Müller',
      [`users[${i}][email]`]: email, [`users[${i}][password]`]: 'Init-4711-xyz!',
    });
    const ok = await ws('core_user_create_users', u(0, 's.mueller', 's.mueller@example.edu'));
    assert.equal(ok.json.length, 1);
    assert.equal(ok.json[0].username, 's.mueller');
    const upper = await ws('core_user_create_users', u(0, 'A.Upper', 'a.upper@example.edu'));
    moodleError(upper, 'invalid_parameter_exception', 'invalidparameter', 'Invalid parameter value detected');
    assert.equal(upper.json.debuginfo, undefined);

    const before = sim.users().length;
    const batch = await ws('core_user_create_users', { ...u(0, 'fresh.one', 'fresh.one@example.edu'), ...u(1, 's.mueller', 'other@example.edu') });
    moodleError(batch, 'invalid_parameter_exception', 'invalidparameter', 'Invalid parameter value detected');
    assert.equal(sim.users().length, before, 'nothing of a failed batch is stored');

    sim.setDebug(true);
    const dup = await ws('core_user_create_users', u(0, 's.mueller', 'x@example.edu'));
    sim.setDebug(false);
    assert.equal(dup.json.debuginfo, 'Username already exists: s.mueller');
    const email = await ws('core_user_create_users', u(0, 'someone.else', 's.mueller@example.edu'));
    assert.equal(email.json.errorcode, 'invalidparameter');
    const weak = await ws('core_user_create_users', { ...u(0, 'weak.pw', 'weak@example.edu'), 'users[0][password]': 'short' });
    assert.equal(weak.json.exception, 'moodle_exception');
    assert.equal(weak.json.message, `error/${weak.json.errorcode}`);
  });

  test('get_users_by_field: an array, empty when nothing matches; bad field codingerror; upper case invalidparameter', async () => {
    const r = await ws('core_user_get_users_by_field', { field: 'username', 'values[0]': 's.mueller', 'values[1]': 'nobody' });
    assert.equal(r.json.length, 1);
    assert.equal(r.json[0].email, 's.mueller@example.edu');
    assert.deepEqual((await ws('core_user_get_users_by_field', { field: 'email', 'values[0]': 'no@example.edu' })).json, []);
    moodleError(await ws('core_user_get_users_by_field', { field: 'city', 'values[0]': 'x' }), 'coding_exception', 'codingerror', 'Coding error detected, it must be fixed by a programmer: invalid field parameter');
    assert.equal((await ws('core_user_get_users_by_field', { field: 'username', 'values[0]': 'S.Mueller' })).json.errorcode, 'invalidparameter');
  });

  test('enrol: null on success, repeating updates the one enrolment; unassignable role, no manual instance; unenrol', async () => {
    const course = sim.addCourse({ fullname: 'Enrol', shortname: 'ENROL-1' });
    const user = sim.addUser({ username: 'enrol.me', email: 'enrol.me@example.edu' });
    const args = { 'enrolments[0][roleid]': '5', 'enrolments[0][userid]': String(user), 'enrolments[0][courseid]': String(course) };
    const r = await ws('enrol_manual_enrol_users', args);
    assert.equal(r.text, 'null');
    assert.equal((await ws('enrol_manual_enrol_users', args)).text, 'null');
    assert.equal(sim.enrolments(course).length, 1);
    moodleError(
      await ws('enrol_manual_enrol_users', { ...args, 'enrolments[0][roleid]': '1' }),
      'moodle_exception', 'wsusercannotassign', `You don't have the permission to assign this role (1) to this user (${user}) in this course(${course}).`,
    );
    const closed = sim.addCourse({ fullname: 'Closed', shortname: 'CLOSED-1', manualEnrol: false });
    moodleError(
      await ws('enrol_manual_enrol_users', { ...args, 'enrolments[0][courseid]': String(closed) }),
      'moodle_exception', 'wsnoinstance', `Manual enrolment plugin instance doesn't exist or is disabled for the course (id = ${closed})`,
    );
    const missingRole = await ws('enrol_manual_enrol_users', { 'enrolments[0][userid]': String(user), 'enrolments[0][courseid]': String(course) });
    assert.equal(missingRole.json.errorcode, 'invalidparameter');
    const enrolled = await ws('core_enrol_get_enrolled_users', { courseid: String(course) });
    assert.equal(enrolled.json[0].roles[0].roleid, 5);
    const un = { 'enrolments[0][userid]': String(user), 'enrolments[0][courseid]': String(course) };
    assert.equal((await ws('enrol_manual_unenrol_users', un)).text, 'null');
    assert.equal((await ws('enrol_manual_unenrol_users', un)).text, 'null');
    assert.equal(sim.enrolments(course).length, 0);
  });

  test('update_courses hides a course and reports an unknown one as a warning', async () => {
    const course = sim.addCourse({ fullname: 'Hide', shortname: 'HIDE-1' });
    const r = await ws('core_course_update_courses', { 'courses[0][id]': String(course), 'courses[0][visible]': '0' });
    assert.deepEqual(r.json, { warnings: [] });
    assert.equal(sim.courses().find((c) => c.id === course)!.visible, 0);
    const w = await ws('core_course_update_courses', { 'courses[0][id]': '99999', 'courses[0][visible]': '0' });
    assert.equal(w.json.warnings[0].itemid, 99999);
  });

  test('unexpected keys and non-integers are invalidparameter', async () => {
    assert.equal((await ws('core_course_get_courses_by_field', { field: 'id', value: '1', colour: 'red' })).json.errorcode, 'invalidparameter');
    assert.equal((await ws('core_enrol_get_enrolled_users', { courseid: 'abc' })).json.errorcode, 'invalidparameter');
  });

  test('injected faults: maintenance as an error body, a proxy 502, an empty 200', async () => {
    sim.inject({ wsfunction: 'core_course_get_courses_by_field', errorcode: 'sitemaintenance', message: 'Site is in maintenance mode' });
    assert.equal((await ws('core_course_get_courses_by_field')).json.errorcode, 'sitemaintenance');
    sim.inject({ httpStatus: 502 });
    const bad = await ws('core_course_get_courses_by_field');
    assert.equal(bad.status, 502);
    assert.equal(bad.json, undefined);
    sim.inject({ httpStatus: 200 });
    const empty = await ws('core_course_get_courses_by_field');
    assert.equal(empty.text, '');
    assert.equal((await ws('core_course_get_courses_by_field')).json.warnings.length, 0, 'faults are used up');
  });
});
