import type { TaskDefinition } from '../define.js';

export const EVENT_TASKS: TaskDefinition[] = [];
