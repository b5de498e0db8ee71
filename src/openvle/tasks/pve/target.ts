/**
 * Which VM an action means: a `vmid`, or the `name` its clone recorded in
 * MariaDB (event deploy enqueues the start before the clone knows the
 * VMID). The node comes from the cluster, not the caller: the VM may have
 * migrated since the job was enqueued, so `node` is only a hint.
 */
import { currentJob, isUnrecoverable } from '../../../index.js';
import { failure } from '../../clients/failure.js';
import type { VmResource } from '../../clients/proxmox/index.js';
import { BadArgumentError, type Args } from '../args.js';
import type { TaskServices } from '../services.js';
import { VmStore, type VmRow } from './vms.js';

/** Proxmox' `dns-name` format, which VM names must follow. */
const DNS_NAME = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

export function vmName(task: string, args: Args, argName: string, required: true): string;
export function vmName(task: string, args: Args, argName: string, required: false): string | undefined;
export function vmName(task: string, args: Args, argName: string, required: boolean): string | undefined {
  const v = required ? args.string(argName, { max: 253 }) : args.optionalString(argName, { max: 253 });
  if (v !== undefined && !DNS_NAME.test(v)) throw new BadArgumentError(task, `argument '${argName}' must be a DNS name (letters, digits, '-' and '.'), as Proxmox requires of VM names`);
  return v;
}

export interface TargetArgs {
  vmid?: number;
  name?: string;
  node?: string;
}

/** Reads `vmid` or `name` (exactly one) and the optional `node` hint. */
export function targetArgs(task: string, args: Args): TargetArgs {
  const vmid = args.optionalInt('vmid', { min: 100 });
  const name = vmName(task, args, 'name', false);
  const node = args.optionalString('node', { max: 64 });
  if (vmid === undefined && name === undefined) throw new BadArgumentError(task, "needs 'vmid' or 'name'");
  if (vmid !== undefined && name !== undefined) throw new BadArgumentError(task, "takes 'vmid' or 'name', not both");
  return { vmid, name, node };
}

export interface Target {
  vmid: number;
  /** The VM as the cluster lists it now; undefined when Proxmox has no such VM. */
  vm: VmResource | undefined;
  row: VmRow | undefined;
}

/**
 * Finds the VM's row and its current place in the cluster. A name with no
 * row, or a row whose clone never got a VMID, is permanent: there is no VM
 * to act on, and retrying will not make one.
 */
export async function resolveTarget(task: string, s: TaskServices, t: TargetArgs, opts: { signal: AbortSignal }): Promise<Target> {
  const store = new VmStore(s.pool);
  let row: VmRow | undefined;
  let vmid: number;
  if (t.name !== undefined) {
    row = await store.byName(t.name);
    if (!row) throw failure('permanent', `${task}: no VM named '${t.name}' is recorded (was it cloned?)`, { system: 'proxmox', operation: task });
    if (row.vmid === null) {
      throw failure('permanent', `${task}: VM '${t.name}' has no VMID (its clone is ${row.status}${row.lastError ? `: ${row.lastError}` : ''})`, { system: 'proxmox', operation: task });
    }
    vmid = row.vmid;
  } else {
    vmid = t.vmid!;
    row = await store.byVmid(vmid);
  }
  const vm = await s.proxmox().findVm(vmid, { signal: opts.signal });
  if (vm && t.node !== undefined && vm.node !== t.node) s.log.info(`${task}: VM ${vmid} is on ${vm.node}, not ${t.node} as asked; acting there`);
  return { vmid, vm, row };
}

/** Whether this failure ends the job: permanent, or no retry left. A job whose retry policy is unknown here (the queue's default) is not final. */
export function isFinalFailure(err: unknown): boolean {
  if (isUnrecoverable(err)) return true;
  try {
    return currentJob().job.retriesLeft === 0;
  } catch {
    return true;
  }
}
