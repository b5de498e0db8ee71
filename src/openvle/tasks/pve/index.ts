import type { TaskDefinition } from '../define.js';

export const PVE_TASKS: TaskDefinition[] = [];
