import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, sleep } from '../http-listen.js';
import { asList, parseBracketParams, type PhpValue } from './params.js';

/**
 * A simulated Moodle web-service REST endpoint (external-apis.md §3, what
 * §3.5 lists): one URL, form and query parameters merged, bracket arrays,
 * errors inside HTTP 200, token → service → functions, strict parameter
 * cleaning, and the functions OpenVLE's worker calls. Courses, users and
 * enrolments live in memory.
 */
export interface MoodleSimOptions {
  https?: boolean;
  port?: number;
  /** Path Moodle is installed under ('' = the web root, '/moodle' = a sub directory). */
  basePath?: string;
  /**
   * Tokens, the functions each may call (all when omitted) and whether its
   * user may see hidden courses (moodle/course:viewhiddencourses; default
   * true). Default: the token 'sim-moodle-token', allowed everything.
   */
  tokens?: Record<string, { functions?: string[]; viewHidden?: boolean }>;
  /** Adds `debuginfo` to error bodies (site developer debugging). Default false. */
  debug?: boolean;
  /** Time core_course_duplicate_course takes (the new course appears half-way); the copy is made even if the client left. */
  duplicateDelayMs?: number;
  /** Site setting allowaccountssameemail. Default false. */
  allowAccountsSameEmail?: boolean;
}

export interface SimCourse {
  id: number;
  fullname: string;
  shortname: string;
  categoryid: number;
  visible: number;
  idnumber: string;
  summary: string;
  /** False when the manual enrolment instance is missing or disabled. */
  manualEnrol: boolean;
}
export interface SimMoodleUser {
  id: number;
  username: string;
  firstname: string;
  lastname: string;
  email: string;
  auth: string;
  idnumber: string;
  suspended: boolean;
}
export interface SimEnrolment {
  userid: number;
  courseid: number;
  roleid: number;
  timestart: number;
  timeend: number;
  suspend: number;
}

export interface MoodleFault {
  /** Function it hits; omitted = any. */
  wsfunction?: string;
  times?: number;
  /** An error body in HTTP 200 (`sitemaintenance`, `dmlwriteexception`, ...). */
  exception?: string;
  errorcode?: string;
  message?: string;
  /** A non-JSON answer instead: an HTTP status with an HTML page (a proxy 502) or, with status 200, an empty body. */
  httpStatus?: number;
  delayMs?: number;
}

export interface MoodleSim {
  /** The site URL (what MOODLE_URL takes), without a trailing slash. */
  url: string;
  /** The endpoint: url + /webservice/rest/server.php. */
  endpoint: string;
  port: number;
  /** A token allowed to call every function. */
  token: string;
  close(): Promise<void>;
  addCategory(name: string): number;
  addCourse(c: { fullname: string; shortname: string; categoryid?: number; visible?: number; idnumber?: string; manualEnrol?: boolean }): number;
  addUser(u: { username: string; email: string; firstname?: string; lastname?: string; auth?: string }): number;
  setDebug(on: boolean): void;
  setDuplicateDelayMs(ms: number): void;
  inject(fault: MoodleFault): void;
  courses(): SimCourse[];
  users(): SimMoodleUser[];
  enrolments(courseid?: number): SimEnrolment[];
  /** Calls seen per function (a test counts duplicates and creates). */
  calls(wsfunction: string): number;
  /** Duplications that have not finished yet. */
  readonly pendingDuplicates: number;
}

class MoodleError {
  constructor(
    readonly exception: string,
    readonly errorcode: string,
    readonly message: string,
    readonly debuginfo?: string,
  ) {}
}

const invalidParameter = (debuginfo: string): MoodleError =>
  new MoodleError('invalid_parameter_exception', 'invalidparameter', 'Invalid parameter value detected', debuginfo);
const missingRecord = (table: string): MoodleError =>
  new MoodleError('dml_missing_record_exception', 'invalidrecord', `Can't find data record in database table ${table}.`);

const ALL_FUNCTIONS = [
  'core_webservice_get_site_info',
  'core_course_duplicate_course',
  'core_course_get_courses_by_field',
  'core_course_update_courses',
  'core_user_get_users_by_field',
  'core_user_create_users',
  'core_enrol_get_enrolled_users',
  'enrol_manual_enrol_users',
  'enrol_manual_unenrol_users',
];
const ROLES: Record<number, string> = { 1: 'manager', 2: 'coursecreator', 3: 'editingteacher', 4: 'teacher', 5: 'student', 6: 'guest', 7: 'user', 8: 'frontpage' };
/** Roles the manual enrolment plugin may assign in a course on a standard install. */
const ASSIGNABLE = [3, 4, 5];
const AUTH_PLUGINS = ['manual', 'nologin', 'email', 'ldap', 'oauth2', 'saml2', 'shibboleth', 'cas', 'db'];
const DUPLICATE_OPTIONS = ['activities', 'blocks', 'filters', 'users', 'role_assignments', 'comments', 'userscompletion', 'logs', 'grade_histories', 'enrolments'];

// --- parameter cleaning (Moodle's external_api::validate_parameters) ---

function str(v: PhpValue | undefined, name: string, required = true): string | undefined {
  if (v === undefined) {
    if (required) throw invalidParameter(`Missing required key in single structure: ${name}`);
    return undefined;
  }
  if (typeof v !== 'string') throw invalidParameter(`${name} => Invalid parameter value detected (Scalar type expected, array or object received.)`);
  return v;
}
function int(v: PhpValue | undefined, name: string, required = true): number | undefined {
  const s = str(v, name, required);
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s)) throw invalidParameter(`${name} => Invalid parameter value detected (Invalid external api parameter: the value is "${s}", the server was expecting "int" type)`);
  return Number(s);
}
function struct(v: PhpValue | undefined, name: string, allowed: string[]): Record<string, PhpValue> {
  if (v === undefined || typeof v === 'string') throw invalidParameter(`${name} => Invalid parameter value detected (Only arrays accepted. The bad value is: '${v ?? ''}')`);
  const extra = Object.keys(v).filter((k) => !allowed.includes(k));
  if (extra.length) throw invalidParameter(`${name} => Invalid parameter value detected (Unexpected keys (${extra.join(', ')}) detected in parameter array.)`);
  return v;
}
function list(v: PhpValue | undefined, name: string): PhpValue[] {
  const l = asList(v);
  if (!l) throw invalidParameter(`${name} => Invalid parameter value detected (Only arrays accepted. The bad value is: '${String(v)}')`);
  return l;
}
function topLevel(params: Record<string, PhpValue>, allowed: string[]): void {
  const extra = Object.keys(params).filter((k) => !allowed.includes(k));
  if (extra.length) throw invalidParameter(`Unexpected keys (${extra.join(', ')}) detected in parameter array.`);
}
/** PARAM_USERNAME: lower case, letters, digits and _-.@ only. */
function cleanUsername(s: string): string {
  return s.trim().toLowerCase().replace(/[^a-z0-9_\-.@]/g, '');
}
function validEmail(s: string): boolean {
  return /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/.test(s);
}

export async function startMoodleSim(opts: MoodleSimOptions = {}): Promise<MoodleSim> {
  const basePath = (opts.basePath ?? '').replace(/\/+$/, '');
  const tokens = opts.tokens ?? { 'sim-moodle-token': {} };
  let debug = opts.debug ?? false;
  let duplicateDelayMs = opts.duplicateDelayMs ?? 0;
  let pendingDuplicates = 0;
  const faults: MoodleFault[] = [];
  const callCounts = new Map<string, number>();
  const categories = new Map<number, string>([[1, 'Miscellaneous']]);
  // Course 1 is the front page and user 1 the guest, 2 the admin, as on a fresh install.
  const courses = new Map<number, SimCourse>([[1, { id: 1, fullname: 'Moodle Site', shortname: 'moodle', categoryid: 0, visible: 1, idnumber: '', summary: '', manualEnrol: false }]]);
  const users = new Map<number, SimMoodleUser>([
    [1, { id: 1, username: 'guest', firstname: 'Guest user', lastname: ' ', email: 'root@localhost', auth: 'manual', idnumber: '', suspended: false }],
    [2, { id: 2, username: 'admin', firstname: 'Admin', lastname: 'User', email: 'admin@example.com', auth: 'manual', idnumber: '', suspended: false }],
  ]);
  let enrolments: SimEnrolment[] = [];
  const seq = { category: 1, course: 1, user: 2 };

  function courseOut(c: SimCourse): Record<string, unknown> {
    return {
      id: c.id, fullname: c.fullname, displayname: c.fullname, shortname: c.shortname, categoryid: c.categoryid,
      categoryname: categories.get(c.categoryid) ?? '', summary: c.summary, summaryformat: 1, visible: c.visible,
      format: 'topics', startdate: 0, enddate: 0, showgrades: true, lang: '', enablecompletion: false,
      courseformatoptions: [], contacts: [], enrollmentmethods: c.manualEnrol ? ['manual'] : [], customfields: [], filters: [],
      idnumber: c.idnumber, timecreated: 0, timemodified: 0,
    };
  }
  function userOut(u: SimMoodleUser): Record<string, unknown> {
    return {
      id: u.id, username: u.username, firstname: u.firstname, lastname: u.lastname, fullname: `${u.firstname} ${u.lastname}`,
      email: u.email, auth: u.auth, suspended: u.suspended, confirmed: true, idnumber: u.idnumber, lang: 'en',
      timezone: '99', firstaccess: 0, lastaccess: 0, profileimageurl: '', profileimageurlsmall: '',
    };
  }

  type Caller = { functions?: string[]; viewHidden?: boolean };
  const fns: Record<string, (p: Record<string, PhpValue>, caller: Caller) => Promise<unknown> | unknown> = {
    core_webservice_get_site_info: (p) => {
      topLevel(p, []);
      return { sitename: 'Simulated Moodle', username: 'admin', userid: 2, release: '4.5 (Build: sim)', version: '2024100700', functions: ALL_FUNCTIONS.map((name) => ({ name, version: '2024100700' })) };
    },

    core_course_duplicate_course: async (p) => {
      topLevel(p, ['courseid', 'fullname', 'shortname', 'categoryid', 'visible', 'options']);
      const courseid = int(p.courseid, 'courseid')!;
      const fullname = str(p.fullname, 'fullname')!;
      const shortname = str(p.shortname, 'shortname')!;
      const categoryid = int(p.categoryid, 'categoryid')!;
      const visible = int(p.visible, 'visible', false) ?? 1;
      for (const [i, o] of list(p.options, 'options').entries()) {
        const opt = struct(o, `options => ${i}`, ['name', 'value']);
        const name = str(opt.name, 'name')!;
        const value = str(opt.value, 'value')!;
        if (!DUPLICATE_OPTIONS.includes(name)) throw new MoodleError('moodle_exception', 'invalidextparam', `Invalid external api parameter: ${name}`);
        if (value !== '0' && value !== '1') throw new MoodleError('moodle_exception', 'invalidextparam', `Invalid external api parameter: ${name} : ${value}`);
      }
      const source = courses.get(courseid);
      if (!source || courseid === 1) throw new MoodleError('moodle_exception', 'invalidcourseid', 'You are trying to use an invalid course ID');
      if (!categories.has(categoryid)) throw missingRecord('course_categories');
      const taken = [...courses.values()].filter((c) => c.shortname === shortname);
      if (taken.length) throw new MoodleError('moodle_exception', 'shortnametaken', `Short name is already used for another course (${taken.map((c) => c.fullname).join(', ')})`);
      // As in course/externallib.php: the backup runs first, then the new
      // course row is created (hidden), then the restore fills it. The
      // shortname was checked only at the start, so two overlapping calls
      // make two courses, and a look-up during the restore finds one.
      pendingDuplicates++;
      try {
        const half = Math.floor(duplicateDelayMs / 2);
        if (half > 0) await sleep(half);
        const id = ++seq.course;
        const course: SimCourse = { id, fullname, shortname, categoryid, visible: 0, idnumber: '', summary: source.summary, manualEnrol: true };
        courses.set(id, course);
        if (duplicateDelayMs - half > 0) await sleep(duplicateDelayMs - half);
        course.visible = visible ? 1 : 0;
        return { id, shortname };
      } finally {
        pendingDuplicates--;
      }
    },

    core_course_get_courses_by_field: (p, caller) => {
      topLevel(p, ['field', 'value']);
      const field = str(p.field, 'field', false) ?? '';
      const value = str(p.value, 'value', false) ?? '';
      const all = [...courses.values()].filter((c) => c.id !== 1 && (c.visible === 1 || caller.viewHidden !== false));
      let found: SimCourse[];
      switch (field) {
        case '': found = all; break;
        case 'id': found = all.filter((c) => String(c.id) === value); break;
        case 'ids': { const ids = value.split(',').map((s) => s.trim()); found = all.filter((c) => ids.includes(String(c.id))); break; }
        case 'shortname': found = all.filter((c) => c.shortname === value); break;
        case 'idnumber': found = all.filter((c) => c.idnumber === value); break;
        case 'category': found = all.filter((c) => String(c.categoryid) === value); break;
        default: throw invalidParameter('Invalid field name');
      }
      return { courses: found.map(courseOut), warnings: [] };
    },

    core_course_update_courses: (p) => {
      topLevel(p, ['courses']);
      const warnings: unknown[] = [];
      const items = list(p.courses, 'courses').map((c, i) => struct(c, `courses => ${i}`, ['id', 'fullname', 'shortname', 'categoryid', 'idnumber', 'summary', 'visible']));
      for (const item of items) {
        const id = int(item.id, 'id')!;
        const course = courses.get(id);
        // Each course is updated on its own; a failure becomes a warning, not an exception.
        if (!course || id === 1) {
          warnings.push({ item: 'course', itemid: id, warningcode: 'invalidcourseid', message: 'You are trying to use an invalid course ID' });
          continue;
        }
        const shortname = str(item.shortname, 'shortname', false);
        if (shortname !== undefined && [...courses.values()].some((c) => c.id !== id && c.shortname === shortname)) {
          warnings.push({ item: 'course', itemid: id, warningcode: 'shortnametaken', message: `Short name is already used for another course (${shortname})` });
          continue;
        }
        const visible = int(item.visible, 'visible', false);
        if (visible !== undefined) course.visible = visible ? 1 : 0;
        if (shortname !== undefined) course.shortname = shortname;
        const fullname = str(item.fullname, 'fullname', false);
        if (fullname !== undefined) course.fullname = fullname;
      }
      return { warnings };
    },

    core_user_get_users_by_field: (p) => {
      topLevel(p, ['field', 'values']);
      const field = str(p.field, 'field')!;
      const values = list(p.values, 'values').map((v, i) => str(v, `values => ${i}`)!);
      if (!['id', 'idnumber', 'username', 'email'].includes(field)) {
        throw new MoodleError('coding_exception', 'codingerror', 'Coding error detected, it must be fixed by a programmer: invalid field parameter');
      }
      for (const v of values) {
        if (field === 'username' && cleanUsername(v) !== v) throw invalidParameter(`The value '${v}' is not a valid username`);
        if (field === 'email' && !validEmail(v)) throw invalidParameter(`The value '${v}' is not a valid email address`);
        if (field === 'id' && !/^\d+$/.test(v)) throw invalidParameter(`The value '${v}' is not a valid id`);
      }
      return [...users.values()]
        .filter((u) => values.some((v) => (field === 'id' ? String(u.id) === v : field === 'email' ? u.email.toLowerCase() === v.toLowerCase() : u[field as 'username' | 'idnumber'] === v)))
        .map(userOut);
    },

    core_user_create_users: (p) => {
      topLevel(p, ['users']);
      const allowed = ['username', 'password', 'createpassword', 'firstname', 'lastname', 'email', 'auth', 'idnumber', 'lang', 'calendartype', 'theme', 'timezone', 'mailformat', 'description', 'city', 'country', 'institution', 'department', 'phone1', 'phone2', 'address', 'middlename', 'alternatename', 'firstnamephonetic', 'lastnamephonetic', 'interests', 'customfields', 'preferences'];
      const items = list(p.users, 'users').map((u, i) => struct(u, `users => ${i}`, allowed));
      const created: SimMoodleUser[] = [];
      // One transaction: everything is checked before anything is stored.
      const seen = new Set<string>();
      for (const u of items) {
        const username = str(u.username, 'username')!;
        if (cleanUsername(username) !== username) throw invalidParameter(`users => Invalid parameter value detected (username => Invalid parameter value detected)`);
        const firstname = str(u.firstname, 'firstname')!;
        const lastname = str(u.lastname, 'lastname')!;
        const email = str(u.email, 'email')!;
        const auth = str(u.auth, 'auth', false) ?? 'manual';
        const createpassword = int(u.createpassword, 'createpassword', false) ?? 0;
        const password = str(u.password, 'password', false);
        if (username.trim() === '') throw invalidParameter('Invalid username: blank');
        if (firstname.trim() === '' || lastname.trim() === '') throw invalidParameter('Invalid first or last name: blank');
        if ([...users.values()].some((x) => x.username === username) || seen.has(username)) throw invalidParameter(`Username already exists: ${username}`);
        if (!AUTH_PLUGINS.includes(auth)) throw invalidParameter(`Invalid authentication type: ${auth}`);
        if (!createpassword && password === undefined) throw invalidParameter('Invalid password: you must provide a password, or set createpassword.');
        if (!validEmail(email)) throw invalidParameter(`Email address is invalid: ${email}`);
        if (!opts.allowAccountsSameEmail && [...users.values()].some((x) => x.email.toLowerCase() === email.toLowerCase())) {
          throw invalidParameter(`Email address already exists: ${email}`);
        }
        // check_password_policy's default: at least 8 characters; its text is the errorcode.
        if (password !== undefined && auth === 'manual' && password.length < 8) {
          const policy = 'Passwords must be at least 8 characters long.';
          throw new MoodleError('moodle_exception', policy, `error/${policy}`);
        }
        seen.add(username);
        created.push({ id: 0, username, firstname, lastname, email, auth, idnumber: str(u.idnumber, 'idnumber', false) ?? '', suspended: false });
      }
      for (const u of created) {
        u.id = ++seq.user;
        users.set(u.id, u);
      }
      return created.map((u) => ({ id: u.id, username: u.username }));
    },

    core_enrol_get_enrolled_users: (p) => {
      topLevel(p, ['courseid', 'options']);
      const courseid = int(p.courseid, 'courseid')!;
      if (!courses.has(courseid)) throw new MoodleError('moodle_exception', 'invalidcourseid', 'You are trying to use an invalid course ID');
      const rows = enrolments.filter((e) => e.courseid === courseid);
      return rows.map((e) => {
        const u = users.get(e.userid)!;
        return { ...userOut(u), roles: [{ roleid: e.roleid, name: '', shortname: ROLES[e.roleid] ?? '', sortorder: 0 }] };
      });
    },

    enrol_manual_enrol_users: (p) => {
      topLevel(p, ['enrolments']);
      const items = list(p.enrolments, 'enrolments').map((e, i) => {
        const s = struct(e, `enrolments => ${i}`, ['roleid', 'userid', 'courseid', 'timestart', 'timeend', 'suspend']);
        return {
          roleid: int(s.roleid, 'roleid')!, userid: int(s.userid, 'userid')!, courseid: int(s.courseid, 'courseid')!,
          timestart: int(s.timestart, 'timestart', false) ?? 0, timeend: int(s.timeend, 'timeend', false) ?? 0, suspend: int(s.suspend, 'suspend', false) ?? 0,
        };
      });
      for (const e of items) {
        const course = courses.get(e.courseid);
        if (!course) throw invalidParameter(`Invalid context: course ${e.courseid}`);
        if (!course.manualEnrol) throw new MoodleError('moodle_exception', 'wsnoinstance', `Manual enrolment plugin instance doesn't exist or is disabled for the course (id = ${e.courseid})`);
        if (!ASSIGNABLE.includes(e.roleid)) throw new MoodleError('moodle_exception', 'wsusercannotassign', `You don't have the permission to assign this role (${e.roleid}) to this user (${e.userid}) in this course(${e.courseid}).`);
        if (!users.has(e.userid)) throw missingRecord('user');
      }
      for (const e of items) {
        const existing = enrolments.find((x) => x.userid === e.userid && x.courseid === e.courseid);
        if (existing) Object.assign(existing, e);
        else enrolments.push(e);
      }
      return null;
    },

    enrol_manual_unenrol_users: (p) => {
      topLevel(p, ['enrolments']);
      const items = list(p.enrolments, 'enrolments').map((e, i) => {
        const s = struct(e, `enrolments => ${i}`, ['userid', 'courseid', 'roleid']);
        return { userid: int(s.userid, 'userid')!, courseid: int(s.courseid, 'courseid')!, roleid: int(s.roleid, 'roleid', false) };
      });
      for (const e of items) {
        const course = courses.get(e.courseid);
        if (!course) throw invalidParameter(`Invalid context: course ${e.courseid}`);
        if (!course.manualEnrol) throw new MoodleError('moodle_exception', 'wsnoinstance', `Manual enrolment plugin instance doesn't exist or is disabled for the course (id = ${e.courseid})`);
        if (!users.has(e.userid)) throw missingRecord('user');
      }
      // Unenrolling someone who is not enrolled changes nothing and is no error.
      enrolments = enrolments.filter((x) => !items.some((e) => e.userid === x.userid && e.courseid === x.courseid));
      return null;
    },
  };

  function xmlEscape(s: string): string {
    return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://sim');
    if (u.pathname !== `${basePath}/webservice/rest/server.php`) {
      res.writeHead(404, { 'Content-Type': 'text/html' });
      res.end('<html><body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>');
      return;
    }
    // Query first, then the body: for keys in both, the body wins.
    const pairs = new Map<string, string>(u.searchParams);
    if (req.method === 'POST' && String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      for (const [k, v] of new URLSearchParams(body)) pairs.set(k, v);
    }
    const format = pairs.get('moodlewsrestformat') === 'json' ? 'json' : 'xml';
    const token = pairs.get('wstoken') ?? '';
    const wsfunction = pairs.get('wsfunction') ?? '';
    pairs.delete('wstoken');
    pairs.delete('wsfunction');
    pairs.delete('moodlewsrestformat');
    callCounts.set(wsfunction, (callCounts.get(wsfunction) ?? 0) + 1);

    const reply = (value: unknown): void => {
      if (format === 'json') {
        const text = JSON.stringify(value);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(text);
      } else {
        res.writeHead(200, { 'Content-Type': 'application/xml; charset=utf-8' });
        if (value instanceof MoodleError) {
          res.end(`<?xml version="1.0" encoding="UTF-8" ?>\n<EXCEPTION class="${value.exception}">\n<ERRORCODE>${xmlEscape(value.errorcode)}</ERRORCODE>\n<MESSAGE>${xmlEscape(value.message)}</MESSAGE>\n</EXCEPTION>\n`);
        } else {
          // A stub: the simulator speaks JSON; XML only proves the format fallback.
          res.end(`<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>\n<VALUE>${xmlEscape(JSON.stringify(value))}</VALUE>\n</RESPONSE>\n`);
        }
      }
    };
    const replyError = (e: MoodleError): void => {
      if (format !== 'json') return reply(e);
      reply({ exception: e.exception, errorcode: e.errorcode, message: e.message, ...(debug && e.debuginfo ? { debuginfo: e.debuginfo } : {}) });
    };

    const fault = faults.find((f) => !f.wsfunction || f.wsfunction === wsfunction);
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
      if (fault.delayMs) await sleep(fault.delayMs);
      if (fault.httpStatus !== undefined) {
        if (fault.httpStatus === 200) {
          res.writeHead(200, { 'Content-Type': 'text/html' });
          res.end();
        } else {
          res.writeHead(fault.httpStatus, { 'Content-Type': 'text/html' });
          res.end(`<html><head><title>${fault.httpStatus}</title></head><body><h1>${fault.httpStatus} Bad Gateway</h1></body></html>`);
        }
        return;
      }
      if (fault.errorcode) return replyError(new MoodleError(fault.exception ?? 'moodle_exception', fault.errorcode, fault.message ?? fault.errorcode));
    }

    const service = tokens[token];
    if (!service) return replyError(new MoodleError('moodle_exception', 'invalidtoken', 'Invalid token - token not found'));
    const fn = fns[wsfunction];
    if (!fn) return replyError(missingRecord('external_functions'));
    if (service.functions && !service.functions.includes(wsfunction)) {
      return replyError(new MoodleError('webservice_access_exception', 'accessexception', 'Access control exception', `Access to the function ${wsfunction}() is not allowed. There could be multiple reasons for this: 1. The service linked to the user token does not contain the function. 2. The service is user-restricted and the user is not listed. 3. The service is IP-restricted and the user IP is not listed. 4. The service is time-restricted and the time has expired. 5. The token is time-restricted and the time has expired. 6. The user has no capability to do it. 7. The service is disabled.`));
    }
    try {
      reply(await fn(parseBracketParams(pairs), service));
    } catch (e) {
      if (e instanceof MoodleError) return replyError(e);
      throw e;
    }
  }

  const server = await listen(handle, { https: opts.https, port: opts.port });
  const url = `${server.origin}${basePath}`;
  return {
    url,
    endpoint: `${url}/webservice/rest/server.php`,
    port: server.port,
    token: Object.entries(tokens).find(([, s]) => !s.functions)?.[0] ?? Object.keys(tokens)[0]!,
    close: () => server.close(),
    addCategory: (name) => {
      const id = ++seq.category;
      categories.set(id, name);
      return id;
    },
    addCourse: (c) => {
      const id = ++seq.course;
      courses.set(id, { id, fullname: c.fullname, shortname: c.shortname, categoryid: c.categoryid ?? 1, visible: c.visible ?? 1, idnumber: c.idnumber ?? '', summary: '', manualEnrol: c.manualEnrol ?? true });
      return id;
    },
    addUser: (x) => {
      const id = ++seq.user;
      users.set(id, { id, username: x.username, email: x.email, firstname: x.firstname ?? 'First', lastname: x.lastname ?? 'Last', auth: x.auth ?? 'manual', idnumber: '', suspended: false });
      return id;
    },
    setDebug: (on) => {
      debug = on;
    },
    setDuplicateDelayMs: (ms) => {
      duplicateDelayMs = ms;
    },
    inject: (f) => faults.push({ ...f }),
    courses: () => [...courses.values()].filter((c) => c.id !== 1).map((c) => ({ ...c })),
    users: () => [...users.values()].map((x) => ({ ...x })),
    enrolments: (courseid) => enrolments.filter((e) => courseid === undefined || e.courseid === courseid).map((e) => ({ ...e })),
    calls: (f) => callCounts.get(f) ?? 0,
    get pendingDuplicates() {
      return pendingDuplicates;
    },
  };
}
