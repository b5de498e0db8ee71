import { failure, failureClassOf } from '../failure.js';
import type { MoodleCallOptions, MoodleClient } from './client.js';

/**
 * The idempotent steps of external-apis.md §3.4. Moodle's duplicate and
 * create calls are not idempotent and a timeout does not stop them on the
 * server, so every step looks up what an earlier attempt may have made,
 * by shortname or username, before and after writing.
 */

export interface CourseCopySpec {
  templateCourseId: number;
  fullname: string;
  /** Deterministic per event: it is how a retry finds the copy an earlier attempt made. */
  shortname: string;
  categoryid: number;
  visible?: boolean;
}

/** Adopts the course with this shortname if it exists, else duplicates the template; returns its id. */
export async function ensureCourseCopy(client: MoodleClient, spec: CourseCopySpec, opts: MoodleCallOptions = {}): Promise<{ id: number; adopted: boolean }> {
  const existing = await client.getCourseByShortname(spec.shortname, opts);
  if (existing) return { id: existing.id, adopted: true };
  try {
    const copy = await client.duplicateCourse(
      { courseid: spec.templateCourseId, fullname: spec.fullname, shortname: spec.shortname, categoryid: spec.categoryid, visible: spec.visible ?? true, options: { users: false } },
      opts,
    );
    return { id: copy.id, adopted: false };
  } catch (err) {
    const cls = failureClassOf(err);
    // A timeout or a lost answer may hide a copy that was made; shortnametaken says one exists.
    if (cls !== 'transient' && cls !== 'already_done') throw err;
    opts.signal?.throwIfAborted();
    const made = await client.getCourseByShortname(spec.shortname, opts);
    if (made) return { id: made.id, adopted: true };
    if (cls === 'already_done') {
      // Taken by a course the token cannot see (hidden, or another category): not ours to adopt.
      throw failure('permanent', `Moodle shortname '${spec.shortname}' is used by a course this token cannot see`, { system: 'moodle', operation: 'core_course_duplicate_course', code: 'shortnametaken' }, err);
    }
    throw err;
  }
}

export interface MoodleUserSpec {
  username: string;
  email: string;
  firstname: string;
  lastname: string;
  /** Omitted: Moodle generates one and mails it. */
  password?: string;
  /** Defaults to MOODLE_USER_AUTH. */
  auth?: string;
}

/**
 * Finds the user by username (lower-cased, as Moodle stores it) and
 * creates it when missing, one user per call. After an invalidparameter
 * (a duplicate among other reasons, its detail hidden in debuginfo) it
 * looks again by username and then e-mail and adopts what it finds.
 */
export async function ensureUser(client: MoodleClient, spec: MoodleUserSpec, opts: MoodleCallOptions = {}): Promise<{ id: number; username: string; created: boolean }> {
  const username = spec.username.trim().toLowerCase();
  const found = await client.getUsersByField('username', [username], opts);
  if (found[0]) return { id: found[0].id, username, created: false };
  try {
    const [created] = await client.createUsers([{ ...spec, username }], opts);
    if (!created) throw failure('transient', 'Moodle core_user_create_users returned no user', { system: 'moodle', operation: 'core_user_create_users' });
    return { id: created.id, username, created: true };
  } catch (err) {
    const code = (err as { details?: { code?: string } }).details?.code;
    if (code !== 'invalidparameter' && failureClassOf(err) !== 'transient') throw err;
    opts.signal?.throwIfAborted();
    const again = await client.getUsersByField('username', [username], opts);
    if (again[0]) return { id: again[0].id, username, created: false };
    const byEmail = await client.getUsersByField('email', [spec.email], opts).catch(() => []);
    if (byEmail.length === 1) return { id: byEmail[0]!.id, username: byEmail[0]!.username, created: false };
    throw err;
  }
}

/** Enrols a user with a role (default MOODLE_STUDENT_ROLE_ID); Moodle updates an existing enrolment, so repeating is safe. */
export async function enrol(client: MoodleClient, e: { userid: number; courseid: number; roleid?: number }, opts: MoodleCallOptions = {}): Promise<void> {
  await client.enrolUsers([{ userid: e.userid, courseid: e.courseid, roleid: e.roleid ?? client.config.studentRoleId }], opts);
}

/** Removes a user's manual enrolment; a user who is not enrolled is left as is. */
export async function unenrol(client: MoodleClient, e: { userid: number; courseid: number }, opts: MoodleCallOptions = {}): Promise<void> {
  await client.unenrolUsers([{ userid: e.userid, courseid: e.courseid }], opts);
}

/**
 * Unenrols everyone holding the student role (MOODLE_STUDENT_ROLE_ID) and
 * no other role, as an event's end asks: instructors stay. Returns the ids
 * unenrolled.
 */
export async function unenrolStudents(client: MoodleClient, courseid: number, opts: MoodleCallOptions = {}): Promise<number[]> {
  const student = client.config.studentRoleId;
  const users = await client.getEnrolledUsers(courseid, opts);
  const ids = users.filter((u) => (u.roles ?? []).length > 0 && (u.roles ?? []).every((r) => r.roleid === student)).map((u) => u.id);
  if (ids.length) await client.unenrolUsers(ids.map((userid) => ({ userid, courseid })), opts);
  return ids;
}

/** Hides a course from students (visible=0); hiding a hidden course changes nothing. */
export async function hideCourse(client: MoodleClient, courseid: number, opts: MoodleCallOptions = {}): Promise<void> {
  const warnings = await client.updateCourses([{ id: courseid, visible: false }], opts);
  if (warnings.length) {
    const w = warnings[0]!;
    throw failure('permanent', `Moodle core_course_update_courses: ${w.message ?? w.warningcode ?? 'warning'} (course ${courseid})`, {
      system: 'moodle',
      operation: 'core_course_update_courses',
      ...(w.warningcode ? { code: w.warningcode } : {}),
    });
  }
}
