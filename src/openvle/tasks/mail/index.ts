import type { TaskDefinition } from '../define.js';
import { MAIL_CLEANUP } from './cleanup.js';
import { SEND_MAIL } from './send.js';

export const MAIL_TASKS: TaskDefinition[] = [SEND_MAIL, MAIL_CLEANUP];

export { sendMail, findTemplate, FALLBACK_LANGUAGE } from './send.js';
export { cleanupMails, CLEANUP_BATCH } from './cleanup.js';
export { renderHtml, renderSubject, flattenVariables, escapeHtml } from './render.js';
