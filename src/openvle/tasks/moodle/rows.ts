import type { MoodleClient } from '../../clients/moodle/index.js';
import { runContext } from '../job-context.js';
import type { TaskServices } from '../services.js';
import type { RowDataPacket } from 'mysql2';
import { failure } from '../../clients/failure.js';
import type { Pool } from '../../db/pool.js';

export interface EventRow extends RowDataPacket {
  id: number;
  name: string;
  short_name: string;
  moodle_course_id: number | null;
  template_course_id: number | null;
}

export interface ParticipantRow extends RowDataPacket {
  id: number;
  event_id: number;
  username: string;
  email: string;
  first_name: string;
  last_name: string;
  role: 'instructor' | 'student';
  moodle_user_id: number | null;
}

export const gone = (task: string, what: string) => failure('permanent', `${task}: ${what}`, { system: 'moodle', operation: task });

/** The event with its environment's template course; a missing event is permanent (no retry brings it back). */
export async function loadEvent(pool: Pool, task: string, eventId: number): Promise<EventRow> {
  const [rows] = await pool.query<EventRow[]>(
    `SELECT e.id, e.name, e.short_name, e.moodle_course_id, env.moodle_template_course_id AS template_course_id
       FROM events e LEFT JOIN environments env ON env.id = e.environment_id WHERE e.id = ?`,
    [eventId],
  );
  if (!rows[0]) throw gone(task, `no event ${eventId}`);
  return rows[0];
}

/**
 * What every Moodle event task starts with: the client (or a skip when
 * Moodle is disabled), the event, and the job's abort signal for the calls.
 */
export async function openMoodleEvent(
  s: TaskServices,
  task: string,
  eventId: number,
): Promise<{ moodle: MoodleClient; event: EventRow; opts: { signal?: AbortSignal } } | { skipped: string }> {
  const moodle = s.moodle();
  if (!moodle) return { skipped: 'Moodle is disabled' };
  const event = await loadEvent(s.pool, task, eventId);
  const { signal } = runContext();
  return { moodle, event, opts: signal ? { signal } : {} };
}

/** The event's course's shortname in Moodle: deterministic, so a retry finds the copy an earlier attempt made. */
export function courseShortname(eventShortName: string): string {
  return `openvle-${eventShortName}`;
}
