import { accessSync, constants } from 'node:fs';
import type { EnvReader } from '../../config/env.js';

export interface MoodleConfig {
  /** MOODLE_ENABLED; when false the other values are not required and no call should be made. */
  enabled: boolean;
  /** Site URL without a trailing slash; the endpoint is url + /webservice/rest/server.php. */
  url: string;
  token: string;
  verifyTls: boolean;
  caFile?: string;
  /** Deadline of an ordinary call (MOODLE_TIMEOUT seconds). */
  timeoutMs: number;
  /** Deadline of core_course_duplicate_course, a backup and restore in one request: at least 10 minutes (external-apis.md §5). */
  duplicateTimeoutMs: number;
  /** Auth plugin given to created users (MOODLE_USER_AUTH). */
  userAuth: string;
  studentRoleId: number;
  teacherRoleId: number;
}

const TEN_MINUTES = 10 * 60_000;

/** Reads MOODLE_* into a configuration, recording one problem per bad variable on the reader. */
export function moodleConfigFromEnv(reader: EnvReader): MoodleConfig {
  const enabled = reader.bool('MOODLE_ENABLED', false);
  const url = reader.url('MOODLE_URL', { required: enabled }) ?? '';
  const token = enabled ? reader.required('MOODLE_TOKEN', 'is required when MOODLE_ENABLED is True') : (reader.string('MOODLE_TOKEN') ?? '');
  const verifyTls = reader.bool('MOODLE_VERIFY_SSL', true);
  const timeoutMs = reader.int('MOODLE_TIMEOUT', 30, { min: 1, max: 3600 }) * 1000;
  const userAuth = reader.string('MOODLE_USER_AUTH', 'manual');
  if (!/^[a-z0-9_]+$/.test(userAuth)) reader.problems.push(`MOODLE_USER_AUTH must be the name of a Moodle auth plugin such as manual or oauth2 (got '${userAuth}')`);
  const studentRoleId = reader.int('MOODLE_STUDENT_ROLE_ID', 5, { min: 1 });
  const teacherRoleId = reader.int('MOODLE_TEACHER_ROLE_ID', 3, { min: 1 });
  const caFile = reader.string('MOODLE_CA_FILE');
  if (caFile) {
    try {
      accessSync(caFile, constants.R_OK);
    } catch {
      reader.problems.push(`MOODLE_CA_FILE cannot be read: ${caFile}`);
    }
  }
  return {
    enabled, url, token, verifyTls, ...(caFile ? { caFile } : {}), timeoutMs,
    duplicateTimeoutMs: Math.max(TEN_MINUTES, timeoutMs), userAuth, studentRoleId, teacherRoleId,
  };
}
