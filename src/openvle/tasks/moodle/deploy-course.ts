import { ensureCourseCopy } from '../../clients/moodle/index.js';
import { Args } from '../args.js';
import { defineTask } from '../define.js';
import type { TaskServices } from '../services.js';
import { courseShortname, gone, openMoodleEvent } from './rows.js';

const NAME = 'openvle.moodle.deploy_course';

/**
 * openvle.moodle.deploy_course: copies the environment's template course
 * (without users) into the template's category as `openvle-<short name>`,
 * titled with the event's name, and stores its id on the event. A course
 * with that shortname already there (an earlier attempt whose answer was
 * lost) is adopted, never copied twice.
 */
export async function deployCourse(s: TaskServices, kwargs: Record<string, unknown>): Promise<{ course_id: number } | { skipped: string }> {
  const a = new Args(NAME, kwargs);
  const eventId = a.int('event_id', { min: 1 });
  a.done();
  const opened = await openMoodleEvent(s, NAME, eventId);
  if ('skipped' in opened) return opened;
  const { moodle, event, opts } = opened;
  if (event.template_course_id === null) return { skipped: "the event's environment has no Moodle template course" };
  if (event.moodle_course_id !== null && (await moodle.getCourseById(event.moodle_course_id, opts))) return { course_id: event.moodle_course_id };
  const template = await moodle.getCourseById(event.template_course_id, opts);
  if (!template) throw gone(NAME, `template course ${event.template_course_id} does not exist in Moodle (or the token cannot see it)`);
  const copy = await ensureCourseCopy(moodle, { templateCourseId: template.id, fullname: event.name, shortname: courseShortname(event.short_name), categoryid: template.categoryid, visible: true }, opts);
  await s.pool.query('UPDATE events SET moodle_course_id = ? WHERE id = ?', [copy.id, event.id]);
  if (copy.adopted) s.log.info(`${NAME}: event ${event.id}: adopted course ${copy.id} made by an earlier attempt`);
  return { course_id: copy.id };
}

export const DEPLOY_COURSE = defineTask({
  name: NAME,
  queue: 'moodle',
  label: 'Deploy Moodle course',
  action: 'Copy the Moodle template course',
  // A duplicate is a backup and restore on the server: the client waits up to 10 minutes.
  jobTimeout: 900,
  run: deployCourse,
});
