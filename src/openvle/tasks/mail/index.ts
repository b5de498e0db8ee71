import type { TaskDefinition } from '../define.js';

export const MAIL_TASKS: TaskDefinition[] = [];
