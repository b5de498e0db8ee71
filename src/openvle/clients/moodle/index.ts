export { moodleConfigFromEnv, type MoodleConfig } from './config.js';
export { classifyMoodle, classifyMoodleHttp } from './classify.js';
export {
  MoodleClient,
  encodeMoodleParams,
  type MoodleParam,
  type MoodleCourse,
  type MoodleUser,
  type NewMoodleUser,
  type Enrolment,
  type MoodleWarning,
  type MoodleCallOptions,
} from './client.js';
export { ensureCourseCopy, ensureUser, enrol, unenrol, unenrolStudents, hideCourse, type CourseCopySpec, type MoodleUserSpec } from './recipes.js';
