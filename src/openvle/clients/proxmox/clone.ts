/**
 * The idempotent "clone a lab VM from a template" recipe (external-apis.md
 * §1.7). A job may crash or be retried at any point; what keeps it from
 * making a second VM is, in order: a persisted UPID is polled again rather
 * than cloning again, a VM already carrying the job's deterministic name is
 * adopted, and only then is a new VMID taken.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ExternalError, failure, failureClassOf } from '../failure.js';
import type { ProxmoxClient, VmResource } from './client.js';
import { TASK_FAILED } from './client.js';

export interface CloneSpec {
  templateVmid: number;
  /** Deterministic per job (a DNS name): how a retry finds the VM an earlier attempt made. */
  name: string;
  /** Should carry the job id, for humans reading the Proxmox UI. */
  description?: string;
  /** Where the template is believed to be; re-resolved from /cluster/resources anyway. */
  node?: string;
  /** Node the clone should live on (needs shared storage); default the template's node. */
  targetNode?: string;
  /** Default: the client's PVE_VMS_FULL_CLONE_DEFAULT. */
  full?: boolean;
  /** Default: the client's PVE_VMS_POOL; '' for no pool. */
  pool?: string;
  storage?: string;
}

export interface CloneHooks {
  /** The VMID about to be used, before the clone call: persist it with the job. */
  onReserved?: (vmid: number) => void | Promise<void>;
  /** The clone task's UPID, as soon as it is returned: persist it with the job. */
  onTask?: (upid: string) => void | Promise<void>;
  /** Persisted by an earlier attempt of the same job. */
  knownVmid?: number;
  knownUpid?: string;
  signal?: AbortSignal;
  /** New VMIDs tried after id collisions before giving up as transient; default 5. */
  maxReplans?: number;
  /** Polling deadline of the clone task. */
  deadlineMs?: number;
  /** How often to look again while an adopted VM is still locked by its clone; default 2 s. */
  lockPollMs?: number;
}

export interface CloneResult {
  vmid: number;
  node: string;
  /** True when an earlier attempt's VM was found and used instead of cloning. */
  adopted: boolean;
}

export async function cloneVmIdempotent(client: ProxmoxClient, spec: CloneSpec, hooks: CloneHooks = {}): Promise<CloneResult> {
  const { signal } = hooks;
  const opts = { signal };

  // A persisted task: wait for it instead of cloning again.
  if (hooks.knownUpid) {
    try {
      await client.waitTask(hooks.knownUpid, { signal, deadlineMs: hooks.deadlineMs });
      const vm = findOurs(await client.listVms(opts), spec.name, hooks.knownVmid);
      if (vm) return { vmid: vm.vmid, node: vm.node, adopted: true };
    } catch (err) {
      // The earlier clone ended failed with a lock timeout or a lost id race: the
      // job's retry has already backed off, so clone afresh below. Anything else
      // (a permanent failure, a node that cannot be polled, the deadline) is
      // this attempt's failure.
      const cls = failureClassOf(err);
      const ended = err instanceof ExternalError && err.details.code === TASK_FAILED;
      if (!ended || (cls !== 'transient' && cls !== 'replan')) throw err;
    }
  }

  const vms = await client.listVms(opts);
  const template = vms.find((v) => v.vmid === spec.templateVmid && Number(v.template) === 1);
  if (!template) {
    throw failure('permanent', `Proxmox template ${spec.templateVmid} not found`, { system: 'proxmox', operation: 'clone' });
  }

  const existing = findOurs(vms, spec.name, hooks.knownVmid);
  if (existing) {
    const vm = await waitUnlocked(client, existing, hooks, spec);
    if (vm) return { vmid: vm.vmid, node: vm.node, adopted: true };
  }

  const maxReplans = hooks.maxReplans ?? 5;
  const full = spec.full ?? client.config.fullCloneDefault;
  const pool = (spec.pool ?? client.config.vmsPool) || undefined;
  for (let attempt = 0; ; attempt++) {
    const vmid = await client.nextId(opts);
    await hooks.onReserved?.(vmid);
    let upid: string;
    try {
      upid = await client.clone(
        template.node,
        spec.templateVmid,
        {
          newid: vmid,
          name: spec.name,
          description: spec.description,
          full,
          pool,
          target: spec.targetNode && spec.targetNode !== template.node ? spec.targetNode : undefined,
          storage: full ? spec.storage : undefined,
        },
        opts,
      );
    } catch (err) {
      if (failureClassOf(err) === 'replan' && attempt < maxReplans) continue;
      throw replanExhausted(err);
    }
    await hooks.onTask?.(upid);
    try {
      await client.waitTask(upid, { signal, deadlineMs: hooks.deadlineMs });
    } catch (err) {
      if (failureClassOf(err) === 'replan' && attempt < maxReplans) continue;
      throw replanExhausted(err);
    }
    const vm = await client.findVm(vmid, opts);
    return { vmid, node: vm?.node ?? spec.targetNode ?? template.node, adopted: false };
  }
}

/** A re-plan that ran out of attempts is reported transient: later, ids will have moved on. */
function replanExhausted(err: unknown): unknown {
  if (failureClassOf(err) !== 'replan' || !(err instanceof ExternalError)) return err;
  return failure('transient', `${err.message} (gave up after repeated VMID collisions)`, err.details, err);
}

/** The job's VM: the persisted VMID if it still carries the job's name, else the lowest VMID with that name. */
function findOurs(vms: VmResource[], name: string, knownVmid: number | undefined): VmResource | undefined {
  const byId = knownVmid !== undefined ? vms.find((v) => v.vmid === knownVmid && v.name === name) : undefined;
  return byId ?? vms.filter((v) => v.name === name).sort((a, b) => a.vmid - b.vmid)[0];
}

/**
 * An adopted VM may still be under its clone (the earlier attempt crashed
 * before persisting the UPID): wait until the lock goes. If the VM vanishes,
 * that clone failed and removed it; the caller clones anew.
 */
async function waitUnlocked(client: ProxmoxClient, vm: VmResource, hooks: CloneHooks, spec: CloneSpec): Promise<VmResource | undefined> {
  const end = Date.now() + (hooks.deadlineMs ?? 2 * 3600_000);
  let cur: VmResource | undefined = vm;
  while (cur && cur.lock === 'clone') {
    if (Date.now() >= end) {
      throw failure('transient', `Proxmox VM ${vm.vmid} (${spec.name}) is still locked by its clone`, { system: 'proxmox', operation: 'clone' });
    }
    try {
      await sleep(hooks.lockPollMs ?? 2000, undefined, { signal: hooks.signal });
    } catch (err) {
      throw hooks.signal?.reason ?? err;
    }
    cur = await client.findVm(vm.vmid, { signal: hooks.signal });
    if (cur && cur.name !== spec.name) cur = undefined;
  }
  return cur;
}

