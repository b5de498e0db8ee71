import type { TaskDefinition } from '../define.js';

export const MOODLE_TASKS: TaskDefinition[] = [];
