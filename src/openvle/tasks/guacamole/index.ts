import type { TaskDefinition } from '../define.js';

export const GUACAMOLE_TASKS: TaskDefinition[] = [];
