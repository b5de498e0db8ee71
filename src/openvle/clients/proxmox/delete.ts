/**
 * The deletion recipe of external-apis.md §1.7: stop (poll), then delete with
 * purge (poll). Safe to repeat after a crash at any step: a VM already
 * stopped or already gone is success.
 */
import type { ActionOptions, ProxmoxClient } from './client.js';

export interface DeleteResult {
  /** deleted: this call removed it; already_done: there was no such VM. */
  outcome: 'deleted' | 'already_done';
  /** Where it was, when found. */
  node?: string;
}

export async function deleteVmIdempotent(
  client: ProxmoxClient,
  vmid: number,
  opts: Pick<ActionOptions, 'signal' | 'deadlineMs' | 'onTask'> = {},
): Promise<DeleteResult> {
  // The VM may have migrated since the job was enqueued: ask the cluster where it is now.
  const vm = await client.findVm(vmid, { signal: opts.signal });
  if (!vm) return { outcome: 'already_done' };
  await client.stopVm(vm.node, vmid, opts);
  const r = await client.deleteVm(vm.node, vmid, opts);
  return { outcome: r.outcome === 'already_done' ? 'already_done' : 'deleted', node: vm.node };
}
