import type { TaskDefinition } from '../define.js';
import { ARCHIVE_COURSE } from './archive-course.js';
import { DEPLOY_COURSE } from './deploy-course.js';
import { ENROL_USER } from './enrol-user.js';

export const MOODLE_TASKS: TaskDefinition[] = [DEPLOY_COURSE, ENROL_USER, ARCHIVE_COURSE];

export { deployCourse } from './deploy-course.js';
export { enrolUser } from './enrol-user.js';
export { archiveCourse } from './archive-course.js';
export { courseShortname } from './rows.js';
