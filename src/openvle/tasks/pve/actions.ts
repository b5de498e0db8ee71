/**
 * Power actions, migration and deletion of one VM, by `vmid` or by the
 * `name` its clone recorded. Each ends in a wanted state, so a re-run
 * after a crash, or a VM already there, is success: start of a running
 * VM, stop of a stopped (or vanished) one, migrate to where it already is,
 * delete of a VM already gone.
 */
import { currentJob } from '../../../index.js';
import { failure } from '../../clients/failure.js';
import { deleteVmIdempotent } from '../../clients/proxmox/index.js';
import { progress } from '../../tracking/index.js';
import { Args } from '../args.js';
import { defineTask, type TaskDefinition } from '../define.js';
import type { TaskServices } from '../services.js';
import { isFinalFailure, resolveTarget, targetArgs, type Target } from './target.js';
import { VmStore } from './vms.js';

export const START_VM = 'openvle.pve.start_vm';
export const STOP_VM = 'openvle.pve.stop_vm';
export const RESET_VM = 'openvle.pve.reset_vm';
export const MIGRATE_VM = 'openvle.pve.migrate_vm';
export const DELETE_VM = 'openvle.pve.delete_vm';

export interface PowerResult {
  vmid: number;
  node: string | null;
  status: string;
}

function notFound(task: string, t: Target): never {
  throw failure('permanent', `${task}: Proxmox has no VM ${t.vmid}${t.row ? ` ('${t.row.name}')` : ''}`, { system: 'proxmox', operation: task });
}

function refuseTemplate(task: string, t: Target): void {
  if (t.vm && Number(t.vm.template) === 1) throw failure('permanent', `${task}: VM ${t.vmid} is a template; OpenVLE does not act on templates`, { system: 'proxmox', operation: task });
}

type Power = 'start' | 'stop' | 'reset';

function powerTask(task: string, action: Power, label: string): TaskDefinition {
  return defineTask({
    name: task,
    queue: 'pve_vm_actions',
    label,
    action: label,
    // Proxmox' own deadlines for these tasks are 5 minutes (the client's defaults).
    jobTimeout: 600,
    async run(s: TaskServices, kwargs): Promise<PowerResult> {
      const a = new Args(task, kwargs);
      const target = targetArgs(task, a);
      a.done();
      const { signal } = currentJob();
      const t = await resolveTarget(task, s, target, { signal });
      const store = new VmStore(s.pool);
      if (!t.vm) {
        // Stopped is what was asked, and a VM that no longer exists is not running: archive chains re-run after a crash go on.
        if (action === 'stop') return { vmid: t.vmid, node: null, status: 'missing' };
        notFound(task, t);
      }
      refuseTemplate(task, t);
      const client = s.proxmox();
      const opts = { signal };
      const r =
        action === 'start' ? await client.startVm(t.vm.node, t.vmid, opts) : action === 'stop' ? await client.stopVm(t.vm.node, t.vmid, opts) : await client.resetVm(t.vm.node, t.vmid, opts);
      if (r.outcome === 'already_done') s.log.info(`${task}: VM ${t.vmid} was already ${action === 'stop' ? 'stopped' : 'running'}`);
      const status = action === 'stop' ? 'stopped' : 'running';
      if (t.row) await store.setStatus(t.row.id, status, t.vm.node);
      return { vmid: t.vmid, node: t.vm.node, status };
    },
  });
}

export const startVmTask = powerTask(START_VM, 'start', 'Start VM');
export const stopVmTask = powerTask(STOP_VM, 'stop', 'Stop VM');
export const resetVmTask = powerTask(RESET_VM, 'reset', 'Reset VM');

export const migrateVmTask = defineTask({
  name: MIGRATE_VM,
  queue: 'pve_vm_actions',
  label: 'Migrate VM',
  action: 'Migrate VM',
  jobTimeout: 3600,
  async run(s, kwargs): Promise<{ vmid: number; node: string }> {
    const a = new Args(MIGRATE_VM, kwargs);
    const target = targetArgs(MIGRATE_VM, a);
    const targetNode = a.string('target_node', { max: 64 });
    const online = a.optionalBool('online');
    a.done();
    const { signal } = currentJob();
    const t = await resolveTarget(MIGRATE_VM, s, target, { signal });
    if (!t.vm) notFound(MIGRATE_VM, t);
    refuseTemplate(MIGRATE_VM, t);
    const store = new VmStore(s.pool);
    // A re-run after the migration ended (or a VM already there) finds it on the target.
    if (t.vm.node !== targetNode) {
      progress(10, `migrating to ${targetNode}`);
      // Unless told, a running VM migrates live: Proxmox refuses an offline migration of a running VM.
      await s.proxmox().migrateVm(t.vm.node, t.vmid, targetNode, { signal, online: online ?? t.vm.status === 'running', deadlineMs: 3500_000 });
    }
    if (t.row) await store.setStatus(t.row.id, t.row.status, targetNode);
    return { vmid: t.vmid, node: targetNode };
  },
});

export const deleteVmTask = defineTask({
  name: DELETE_VM,
  queue: 'pve_vm_clone',
  label: 'Delete VM',
  action: 'Delete VM',
  jobTimeout: 1800,
  async run(s, kwargs): Promise<{ vmid: number | null }> {
    const a = new Args(DELETE_VM, kwargs);
    const target = targetArgs(DELETE_VM, a);
    a.done();
    const { signal } = currentJob();
    const store = new VmStore(s.pool);
    const client = s.proxmox();
    let row = target.name !== undefined ? await store.byName(target.name) : await store.byVmid(target.vmid!);
    let vmid: number | null = row?.vmid ?? target.vmid ?? null;
    if (vmid === null) {
      // A clone that never recorded its VMID (or a row an earlier run removed) may
      // still have left the VM under its deterministic name.
      vmid = (await client.findVmByName(row?.name ?? target.name!, { signal }))?.vmid ?? null;
    }
    if (vmid !== null) {
      const vm = await client.findVm(vmid, { signal });
      if (vm && row && vm.name !== row.name) {
        // Our VM is gone and Proxmox gave its VMID to another VM: that one is not ours to delete.
        s.log.warning(`${DELETE_VM}: VM ${vmid} in Proxmox is named '${vm.name ?? ''}', not '${row.name}'; only the row is removed`);
      } else if (vm) {
        refuseTemplate(DELETE_VM, { vmid, vm, row });
        if (row) await store.setStatus(row.id, 'deleting');
        progress(20, 'stopping and deleting');
        try {
          await deleteVmIdempotent(client, vmid, { signal });
        } catch (err) {
          // Failed for good (protection mode, ...): the row says so instead of staying 'deleting'.
          if (row && isFinalFailure(err)) await store.deleteFailed(row.id, err).catch(() => {});
          throw err;
        }
      }
    }
    row ??= vmid !== null ? await store.byVmid(vmid) : undefined;
    if (row) await store.remove(row.id);
    return { vmid };
  },
});
