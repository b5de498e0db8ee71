import type { Agent } from 'undici';
import { silentLogger, type Logger } from '../../../index.js';
import { clip, ExternalError, failure, redactSecrets, type FailureDetails } from '../failure.js';
import { makeAgent, TransportError, webCall } from '../web-call.js';
import { classifyMoodle, classifyMoodleHttp } from './classify.js';
import type { MoodleConfig } from './config.js';

export type MoodleParam = string | number | boolean | MoodleParam[] | { [key: string]: MoodleParam | undefined };

/**
 * Flattens arguments into Moodle's PHP-style bracket keys:
 * { users: [{ username: 'a' }] } → users[0][username]=a. Booleans become
 * 1/0, numbers their decimal text; undefined members are left out.
 */
export function encodeMoodleParams(params: Record<string, MoodleParam | undefined>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const walk = (key: string, v: MoodleParam | undefined): void => {
    if (v === undefined) return;
    if (Array.isArray(v)) v.forEach((x, i) => walk(`${key}[${i}]`, x));
    else if (typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(`${key}[${k}]`, x);
    else out.push([key, typeof v === 'boolean' ? (v ? '1' : '0') : String(v)]);
  };
  for (const [k, v] of Object.entries(params)) walk(k, v);
  return out;
}

export interface MoodleCourse {
  id: number;
  shortname: string;
  fullname: string;
  categoryid: number;
  visible: number;
  [key: string]: unknown;
}
export interface MoodleUser {
  id: number;
  username: string;
  email: string;
  firstname: string;
  lastname: string;
  auth?: string;
  suspended?: boolean;
  [key: string]: unknown;
}
export interface NewMoodleUser {
  username: string;
  firstname: string;
  lastname: string;
  email: string;
  /** Omitted: Moodle generates a password and mails it (createpassword=1). */
  password?: string;
  auth?: string;
  idnumber?: string;
}
export interface Enrolment {
  userid: number;
  courseid: number;
  roleid: number;
  timestart?: number;
  timeend?: number;
  suspend?: boolean;
}
export interface MoodleWarning {
  item?: string;
  itemid?: number;
  warningcode?: string;
  message?: string;
}

export interface MoodleCallOptions {
  signal?: AbortSignal;
  /** Overrides the configured deadline for this call. */
  timeoutMs?: number;
}

/**
 * Moodle's web-service REST endpoint: every call is a form POST to
 * /webservice/rest/server.php with wstoken, wsfunction and
 * moodlewsrestformat=json. Errors come back inside HTTP 200 as
 * {exception, errorcode, message}; those, non-JSON answers and transport
 * failures are thrown as classified by classifyMoodle (shortnametaken as an
 * ExternalError of class already_done).
 */
export class MoodleClient {
  private readonly agent: Agent;
  private readonly logger: Logger;

  constructor(
    readonly config: MoodleConfig,
    opts: { logger?: Logger } = {},
  ) {
    this.agent = makeAgent({ verify: config.verifyTls, caFile: config.caFile });
    this.logger = opts.logger ?? silentLogger;
  }

  private redact(text: string): string {
    return redactSecrets(text, [this.config.token]);
  }

  private details(operation: string, status?: number, code?: string, body?: string): FailureDetails {
    return {
      system: 'moodle',
      operation,
      ...(status !== undefined ? { status } : {}),
      ...(code !== undefined ? { code } : {}),
      ...(body !== undefined ? { body: clip(this.redact(body)) } : {}),
    };
  }

  /** Calls one web-service function and returns its decoded result (null for functions that return nothing). */
  async call<T>(wsfunction: string, params: Record<string, MoodleParam | undefined> = {}, opts: MoodleCallOptions = {}): Promise<T> {
    // The token goes in the body, never the URL, so it stays out of access logs.
    const form = new URLSearchParams([['wstoken', this.config.token], ['wsfunction', wsfunction], ['moodlewsrestformat', 'json'], ...encodeMoodleParams(params)]);
    const operation = wsfunction;
    let answer;
    try {
      answer = await webCall(this.agent, {
        method: 'POST',
        url: `${this.config.url}/webservice/rest/server.php`,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: form.toString(),
        timeoutMs: opts.timeoutMs ?? this.config.timeoutMs,
        signal: opts.signal,
      });
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      this.logger.warning(`moodle ${operation}: ${this.redact(err.message)}`);
      throw failure(err.kind === 'tls' ? 'permanent_config' : 'transient', `Moodle ${operation}: ${this.redact(err.message)}`, this.details(operation, undefined, err.code), err);
    }
    let body: unknown;
    let json = answer.status === 200;
    if (json) {
      try {
        body = JSON.parse(answer.text);
      } catch {
        json = false;
      }
    }
    if (!json) {
      const cls = classifyMoodleHttp(answer.status);
      this.logger.warning(`moodle ${operation} -> HTTP ${answer.status}, not a JSON answer: ${clip(this.redact(answer.text)) || '(empty body)'}`);
      throw failure(
        cls === 'already_done' || cls === 'replan' ? 'transient' : cls,
        `Moodle ${operation}: HTTP ${answer.status} without a JSON answer`,
        this.details(operation, answer.status, undefined, answer.text),
      );
    }
    if (typeof body === 'object' && body !== null && !Array.isArray(body) && 'exception' in body) {
      const e = body as { exception?: string; errorcode?: string; message?: string; debuginfo?: string };
      const cls = classifyMoodle(e);
      this.logger.warning(`moodle ${operation} -> ${clip(this.redact(answer.text))}`);
      const message = `Moodle ${operation}: ${this.redact(e.message ?? e.errorcode ?? 'error')} (${e.errorcode ?? e.exception})`;
      const details = this.details(operation, 200, e.errorcode, answer.text);
      if (cls === 'already_done') throw new ExternalError(message, 'already_done', details);
      throw failure(cls === 'replan' ? 'transient' : cls, message, details);
    }
    return body as T;
  }

  // --- courses ---
  async getCourseByShortname(shortname: string, opts?: MoodleCallOptions): Promise<MoodleCourse | undefined> {
    const r = await this.call<{ courses?: MoodleCourse[] }>('core_course_get_courses_by_field', { field: 'shortname', value: shortname }, opts);
    return r.courses?.find((c) => c.shortname === shortname);
  }
  async getCourseById(id: number, opts?: MoodleCallOptions): Promise<MoodleCourse | undefined> {
    const r = await this.call<{ courses?: MoodleCourse[] }>('core_course_get_courses_by_field', { field: 'id', value: id }, opts);
    return r.courses?.find((c) => c.id === id);
  }
  /** Copies a course (backup and restore on the server; minutes), with the long duplicate deadline. */
  async duplicateCourse(
    a: { courseid: number; fullname: string; shortname: string; categoryid: number; visible?: boolean; options?: Record<string, boolean> },
    opts: MoodleCallOptions = {},
  ): Promise<{ id: number; shortname: string }> {
    const options = Object.entries(a.options ?? { users: false }).map(([name, value]) => ({ name, value: value ? 1 : 0 }));
    return this.call('core_course_duplicate_course', { courseid: a.courseid, fullname: a.fullname, shortname: a.shortname, categoryid: a.categoryid, visible: a.visible ?? true, options }, {
      ...opts,
      timeoutMs: opts.timeoutMs ?? this.config.duplicateTimeoutMs,
    });
  }
  /** Updates courses; Moodle reports a course it could not update as a warning, returned here. */
  async updateCourses(courses: Array<{ id: number; visible?: boolean; fullname?: string; shortname?: string }>, opts?: MoodleCallOptions): Promise<MoodleWarning[]> {
    const r = await this.call<{ warnings?: MoodleWarning[] } | null>('core_course_update_courses', { courses }, opts);
    return r?.warnings ?? [];
  }

  // --- users ---
  async getUsersByField(field: 'id' | 'idnumber' | 'username' | 'email', values: Array<string | number>, opts?: MoodleCallOptions): Promise<MoodleUser[]> {
    return (await this.call<MoodleUser[] | null>('core_user_get_users_by_field', { field, values }, opts)) ?? [];
  }
  async createUsers(users: NewMoodleUser[], opts?: MoodleCallOptions): Promise<Array<{ id: number; username: string }>> {
    const items = users.map((u) => ({
      username: u.username,
      firstname: u.firstname,
      lastname: u.lastname,
      email: u.email,
      auth: u.auth ?? this.config.userAuth,
      ...(u.password !== undefined ? { password: u.password } : { createpassword: 1 }),
      ...(u.idnumber !== undefined ? { idnumber: u.idnumber } : {}),
    }));
    return this.call('core_user_create_users', { users: items }, opts);
  }

  // --- enrolments ---
  async enrolUsers(enrolments: Enrolment[], opts?: MoodleCallOptions): Promise<void> {
    await this.call('enrol_manual_enrol_users', { enrolments: enrolments.map((e) => ({ ...e })) }, opts);
  }
  async unenrolUsers(enrolments: Array<{ userid: number; courseid: number; roleid?: number }>, opts?: MoodleCallOptions): Promise<void> {
    await this.call('enrol_manual_unenrol_users', { enrolments: enrolments.map((e) => ({ ...e })) }, opts);
  }
  async getEnrolledUsers(courseid: number, opts?: MoodleCallOptions): Promise<Array<MoodleUser & { roles?: Array<{ roleid: number; shortname?: string }> }>> {
    return (await this.call<Array<MoodleUser & { roles?: Array<{ roleid: number }> }> | null>('core_enrol_get_enrolled_users', { courseid }, opts)) ?? [];
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
