import { enrol, ensureUser } from '../../clients/moodle/index.js';
import { Args } from '../args.js';
import { defineTask } from '../define.js';
import type { TaskServices } from '../services.js';
import { gone, openMoodleEvent, type ParticipantRow } from './rows.js';

const NAME = 'openvle.moodle.enrol_user';

/**
 * openvle.moodle.enrol_user: makes sure the participant has a Moodle user
 * (found by username, else created with MOODLE_USER_AUTH; its id stored on
 * the participant at once) and enrols it in the event's course as teacher
 * (instructors) or student. Repeating it changes nothing.
 */
export async function enrolUser(s: TaskServices, kwargs: Record<string, unknown>): Promise<{ user_id: number; course_id: number } | { skipped: string }> {
  const a = new Args(NAME, kwargs);
  const eventId = a.int('event_id', { min: 1 });
  const participantId = a.int('participant_id', { min: 1 });
  a.done();
  const opened = await openMoodleEvent(s, NAME, eventId);
  if ('skipped' in opened) return opened;
  const { moodle, event, opts } = opened;
  const [rows] = await s.pool.query<ParticipantRow[]>(
    'SELECT id, event_id, username, email, first_name, last_name, role, moodle_user_id FROM event_participants WHERE id = ? AND event_id = ?',
    [participantId, eventId],
  );
  const p = rows[0];
  if (!p) throw gone(NAME, `no participant ${participantId} in event ${eventId}`);
  if (event.moodle_course_id === null) {
    if (event.template_course_id === null) return { skipped: 'the event has no Moodle course' };
    throw gone(NAME, `event ${eventId} has no Moodle course yet: openvle.moodle.deploy_course must run first`);
  }
  let userId = p.moodle_user_id;
  if (userId === null) {
    const user = await ensureUser(
      moodle,
      // Moodle requires both names; the username stands in for a missing one.
      { username: p.username, email: p.email, firstname: p.first_name || p.username, lastname: p.last_name || p.username, auth: moodle.config.userAuth },
      opts,
    );
    userId = user.id;
    await s.pool.query('UPDATE event_participants SET moodle_user_id = ? WHERE id = ?', [userId, p.id]);
  }
  const roleid = p.role === 'instructor' ? moodle.config.teacherRoleId : moodle.config.studentRoleId;
  await enrol(moodle, { userid: userId, courseid: event.moodle_course_id, roleid }, opts);
  await s.pool.query('UPDATE event_participants SET moodle_enrolled_at = COALESCE(moodle_enrolled_at, CURRENT_TIMESTAMP(3)) WHERE id = ?', [p.id]);
  return { user_id: userId, course_id: event.moodle_course_id };
}

export const ENROL_USER = defineTask({
  name: NAME,
  queue: 'moodle',
  label: 'Enroll Moodle user',
  action: 'Create and enrol the Moodle user',
  run: enrolUser,
});
