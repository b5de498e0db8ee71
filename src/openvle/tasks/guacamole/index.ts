import type { TaskDefinition } from '../define.js';
import { CLEANUP } from './cleanup.js';
import { PROVISION } from './provision.js';

export const GUACAMOLE_TASKS: TaskDefinition[] = [PROVISION, CLEANUP];

export { provision, connectionTitle, SHARING_PROFILE } from './provision.js';
export { cleanup as cleanupGuacamole } from './cleanup.js';
