import type { FailureClass } from '../failure.js';

const CONFIG = new Set([
  'invalidtoken', 'invalidtimedtoken', 'invalidiptoken', 'accessexception', 'servicenotavailable',
  'nopermissions', 'wsusercannotassign', 'wsnoinstance', 'wscannotenrol',
]);
const TRANSIENT = new Set(['sitemaintenance', 'dmlwriteexception', 'dmlreadexception', 'ddlexecuteerror']);

/**
 * The failure class of a Moodle error body ({exception, errorcode,
 * message}), after external-apis.md §3.2. `shortnametaken` is
 * already_done: ensureCourseCopy looks the course up and adopts it when it
 * is the one it wanted. invalidparameter is permanent; the recipes look
 * state up before they give up on it.
 */
export function classifyMoodle(e: { exception?: string; errorcode?: string }): FailureClass {
  const code = e.errorcode ?? '';
  const exception = e.exception ?? '';
  if (CONFIG.has(code)) return 'permanent_config';
  if (TRANSIENT.has(code)) return 'transient';
  if (code === 'shortnametaken') return 'already_done';
  if (exception === 'webservice_access_exception' || exception === 'required_capability_exception') return 'permanent_config';
  // Database trouble other than a missing record is the database, not the request.
  if (exception.startsWith('dml_') && exception !== 'dml_missing_record_exception') return 'transient';
  return 'permanent';
}

/** The class of an answer that is not a Moodle JSON body: a proxy error page, an empty body, a PHP fatal. */
export function classifyMoodleHttp(status: number): FailureClass {
  // No server.php at that path: MOODLE_URL is wrong.
  if (status === 404) return 'permanent_config';
  return 'transient';
}
