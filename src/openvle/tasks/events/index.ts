import type { TaskDefinition } from '../define.js';
import { archiveEvent, finishArchive } from './archive.js';
import { deployEvent, finishDeploy } from './deploy.js';
import { eventLifecycle } from './lifecycle.js';

/** Event deploy and archive (graphs of dependent jobs) and the daily lifecycle: docs/events.md. */
export const EVENT_TASKS: TaskDefinition[] = [deployEvent, finishDeploy, archiveEvent, finishArchive, eventLifecycle];

export { DependencyNotMetError, REQUIRES_DEPENDENCIES } from './gate.js';
export { EventStateError } from './steps.js';
export { DEPLOY_SUCCESS_MAIL, DEPLOY_FAILED_MAIL } from './deploy.js';
export { DECOMMISSION_STARTED_MAIL, DECOMMISSION_FAILED_MAIL } from './archive.js';
export { START_NOTICE_MAIL, END_NOTICE_MAIL } from './lifecycle.js';
export { vmName } from './data.js';
