import { hideCourse, unenrolStudents } from '../../clients/moodle/index.js';
import { Args } from '../args.js';
import { defineTask } from '../define.js';
import type { TaskServices } from '../services.js';
import { openMoodleEvent } from './rows.js';

const NAME = 'openvle.moodle.archive_course';

/**
 * openvle.moodle.archive_course: at the event's end, unenrols everyone
 * whose only role in the course is student (instructors stay) and hides
 * the course. Both steps are safe to repeat; a re-run reports the students
 * it found still enrolled.
 */
export async function archiveCourse(s: TaskServices, kwargs: Record<string, unknown>): Promise<{ unenrolled: number; hidden: boolean } | { skipped: string }> {
  const a = new Args(NAME, kwargs);
  const eventId = a.int('event_id', { min: 1 });
  a.done();
  const opened = await openMoodleEvent(s, NAME, eventId);
  if ('skipped' in opened) return opened;
  const { moodle, event, opts } = opened;
  if (event.moodle_course_id === null) return { skipped: 'the event has no Moodle course' };
  const ids = await unenrolStudents(moodle, event.moodle_course_id, opts);
  if (ids.length) {
    await s.pool.query('UPDATE event_participants SET moodle_enrolled_at = NULL WHERE event_id = ? AND moodle_user_id IN (?)', [event.id, ids]);
  }
  await hideCourse(moodle, event.moodle_course_id, opts);
  return { unenrolled: ids.length, hidden: true };
}

export const ARCHIVE_COURSE = defineTask({
  name: NAME,
  queue: 'moodle',
  label: 'Archive Moodle course',
  action: 'Unenrol students and hide the course',
  run: archiveCourse,
});
