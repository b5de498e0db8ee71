/**
 * openvle.pve.clone_vm: a lab VM from a template, exactly once whatever
 * crashes. The VM's name is the caller's (deterministic: event deploy
 * builds it from the event, participant and template), so a re-run finds
 * it; the reserved VMID and the clone's UPID go into the `vms` row the
 * moment they are known, so a re-run polls that clone instead of starting
 * another (cloneVmIdempotent, external-apis.md §1.7).
 */
import { currentJob } from '../../../index.js';
import { failure } from '../../clients/failure.js';
import { cloneVmIdempotent } from '../../clients/proxmox/index.js';
import { currentAttempt, progress } from '../../tracking/index.js';
import { Args, BadArgumentError } from '../args.js';
import { defineTask } from '../define.js';
import type { TaskServices } from '../services.js';
import { isFinalFailure, vmName } from './target.js';
import { VmStore } from './vms.js';

export const CLONE_VM = 'openvle.pve.clone_vm';

/** Thirty minutes: a full clone of a large disk is slow. Polling stops a little earlier, so the attempt ends as a clean transient failure that the retry resumes. */
const JOB_TIMEOUT_S = 1800;
const POLL_DEADLINE_MS = (JOB_TIMEOUT_S - 120) * 1000;

export interface CloneVmResult {
  vmid: number;
  node: string;
}

async function cloneVm(s: TaskServices, kwargs: Record<string, unknown>): Promise<CloneVmResult> {
  const a = new Args(CLONE_VM, kwargs);
  const templateVmid = a.int('template_vmid', { min: 100 });
  const name = vmName(CLONE_VM, a, 'name', true);
  const node = a.optionalString('node', { max: 64 });
  const targetNode = a.optionalString('target_node', { max: 64 });
  const full = a.optionalBool('full');
  const pool = a.optionalString('pool', { max: 64 });
  const start = a.optionalBool('start') ?? false;
  const eventId = a.optionalInt('event_id', { min: 1 }) ?? null;
  const participantId = a.optionalInt('participant_id', { min: 1 }) ?? null;
  a.done();

  const { job, signal } = currentJob();
  const taskId = currentAttempt()?.taskId ?? null;
  const store = new VmStore(s.pool);
  const client = s.proxmox();
  const row = await store.openClone({ name, templateVmid, eventId, participantId, taskId }).catch((err: unknown) => {
    // ER_NO_REFERENCED_ROW_2: the event or participant the backend named is not in MariaDB; retrying will not add it.
    if ((err as { errno?: number }).errno === 1452) throw new BadArgumentError(CLONE_VM, `event_id ${eventId ?? '-'} / participant_id ${participantId ?? '-'}: no such event or participant`);
    throw err;
  });
  if (row.templateVmid !== null && row.templateVmid !== templateVmid) {
    // The name is the VM's identity: the same name from another template is another request's VM.
    throw failure('permanent', `${CLONE_VM}: a VM named '${name}' already exists from template ${row.templateVmid}, not ${templateVmid}`, { system: 'proxmox', operation: 'clone' });
  }
  progress(5, 'looking for the VM');

  let vmid: number;
  let vmNode: string;
  try {
    const cloned = await cloneVmIdempotent(
      client,
      {
        templateVmid,
        name,
        // For people reading the Proxmox UI: which OpenVLE Task and job made it.
        description: `OpenVLE: cloned by Task ${taskId ?? '?'} (job ${job.id})`,
        node,
        targetNode,
        full,
        pool,
      },
      {
        signal,
        knownVmid: row.reservedVmid ?? row.vmid ?? undefined,
        knownUpid: row.cloneUpid ?? undefined,
        deadlineMs: POLL_DEADLINE_MS,
        onReserved: async (id) => {
          await store.setReserved(row.id, id);
          progress(10, `VMID ${id} reserved`);
        },
        onTask: async (upid) => {
          await store.setCloneUpid(row.id, upid);
          progress(20, 'cloning');
        },
      },
    );
    vmid = cloned.vmid;
    vmNode = cloned.node;
    if (cloned.adopted) s.log.info(`${CLONE_VM}: VM ${vmid} '${name}' on ${vmNode} adopted (an earlier attempt cloned it)`);
    // A re-run of a finished clone keeps the state the row knows (it may have been started since).
    const known = cloned.adopted && row.vmid === vmid && (row.status === 'running' || row.status === 'paused') ? row.status : 'stopped';
    await store.cloned(row.id, vmid, vmNode, known);
    progress(80, 'cloned');
  } catch (err) {
    await store.recordError(row.id, err, isFinalFailure(err)).catch((e: unknown) => s.log.warning(`${CLONE_VM}: could not record the failure on VM row ${row.id}: ${(e as Error).message}`));
    throw err;
  }

  if (start) {
    progress(85, 'starting');
    // already_done (a re-run finds it running) is success too.
    await client.startVm(vmNode, vmid, { signal });
    await store.setStatus(row.id, 'running');
  }
  return { vmid, node: vmNode };
}

export const cloneVmTask = defineTask({
  name: CLONE_VM,
  queue: 'pve_vm_clone',
  label: 'Clone VM',
  action: 'Clone VM',
  jobTimeout: JOB_TIMEOUT_S,
  run: cloneVm,
});
