export { ProxmoxClient, encodeParams, TASK_FAILED } from './client.js';
export type {
  ProxmoxClientOptions,
  CallOptions,
  WaitOptions,
  ActionOptions,
  ActionResult,
  TaskStatus,
  VmResource,
  NodeResource,
  VmStatus,
  CloneParams,
} from './client.js';
export { cloneVmIdempotent, type CloneSpec, type CloneHooks, type CloneResult } from './clone.js';
export { classifyProxmoxFailure, classifyNetworkError, opOfTaskType, type ProxmoxOp, type ProxmoxFailure } from './classify.js';
export { proxmoxConfigFromEnv, apiUrlOf, type ProxmoxConfig } from './config.js';
export { parseUpid, type Upid } from './upid.js';
export { proxmoxDispatcher, FingerprintMismatchError } from './transport.js';
export { deleteVmIdempotent, type DeleteResult } from './delete.js';
