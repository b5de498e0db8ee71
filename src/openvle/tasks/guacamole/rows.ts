import type { RowDataPacket } from 'mysql2';
import type { Pool } from '../../db/pool.js';
import { Args, BadArgumentError } from '../args.js';

export interface VmRow extends RowDataPacket {
  id: number;
  vmid: number | null;
  name: string;
  node: string | null;
  ip_address: string | null;
  template_id: number | null;
  event_id: number | null;
}

/** `vm_name` or `vmid`, exactly one: how the Guacamole tasks name a VM. */
export type VmRef = { vmid: number } | { name: string };

export function readVmRef(task: string, a: Args, opts: { optional?: boolean } = {}): VmRef | undefined {
  const vmid = a.optionalInt('vmid', { min: 1 });
  const name = a.optionalString('vm_name');
  if (vmid !== undefined && name !== undefined) throw new BadArgumentError(task, "takes 'vmid' or 'vm_name', not both");
  if (vmid !== undefined) return { vmid };
  if (name !== undefined) return { name };
  if (opts.optional) return undefined;
  throw new BadArgumentError(task, "needs 'vmid' or 'vm_name'");
}

export function describeVmRef(ref: VmRef): string {
  return 'vmid' in ref ? `VMID ${ref.vmid}` : `named '${ref.name.slice(0, 100)}'`;
}

export async function findVm(pool: Pool, ref: VmRef): Promise<VmRow | undefined> {
  const [rows] = await pool.query<VmRow[]>(
    `SELECT id, vmid, name, node, ip_address, template_id, event_id FROM vms WHERE ${'vmid' in ref ? 'vmid' : 'name'} = ?`,
    ['vmid' in ref ? ref.vmid : ref.name],
  );
  return rows[0];
}
