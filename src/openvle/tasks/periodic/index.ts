import type { TaskDefinition } from '../define.js';

export const PERIODIC_TASKS: TaskDefinition[] = [];
