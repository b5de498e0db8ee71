import type { TaskDefinition } from '../define.js';
import { deleteVmTask, migrateVmTask, resetVmTask, startVmTask, stopVmTask } from './actions.js';
import { cloneVmTask } from './clone.js';
import { pveSyncTask } from './sync.js';

/** The Proxmox tasks (docs/tasks-pve.md): clone, power actions, migrate, delete, and the periodic sync. */
export const PVE_TASKS: TaskDefinition[] = [cloneVmTask, startVmTask, stopVmTask, resetVmTask, deleteVmTask, migrateVmTask, pveSyncTask];

export { CLONE_VM, type CloneVmResult } from './clone.js';
export { START_VM, STOP_VM, RESET_VM, MIGRATE_VM, DELETE_VM, type PowerResult } from './actions.js';
export { PVE_SYNC, NODE_SNAPSHOTS, type PveSyncResult } from './sync.js';
export { VmStore, type VmRow, type VmRowStatus } from './vms.js';
