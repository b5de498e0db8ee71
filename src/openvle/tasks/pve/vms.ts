/**
 * The `vms` rows the Proxmox tasks keep (docs/schema.md): one per VM an
 * OpenVLE clone made, keyed by its deterministic name, found again by a
 * resumed clone and by the actions that know only the name.
 */
import type { RowDataPacket, ResultSetHeader } from 'mysql2/promise';
import { clip, redactSecrets } from '../../clients/failure.js';
import type { Pool } from '../../db/pool.js';

export type VmRowStatus = 'cloning' | 'stopped' | 'running' | 'paused' | 'unknown' | 'deleting' | 'error' | 'failed' | 'missing';

export interface VmRow {
  id: number;
  vmid: number | null;
  node: string | null;
  name: string;
  templateVmid: number | null;
  eventId: number | null;
  participantId: number | null;
  status: VmRowStatus;
  cloneTaskId: number | null;
  reservedVmid: number | null;
  cloneUpid: string | null;
  lastError: string | null;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toRow(r: RowDataPacket): VmRow {
  return {
    id: Number(r.id),
    vmid: num(r.vmid),
    node: r.node ?? null,
    name: String(r.name),
    templateVmid: num(r.template_vmid),
    eventId: num(r.event_id),
    participantId: num(r.participant_id),
    status: r.status as VmRowStatus,
    cloneTaskId: num(r.clone_task_id),
    reservedVmid: num(r.reserved_vmid),
    cloneUpid: r.clone_upid ?? null,
    lastError: r.last_error ?? null,
  };
}

const COLUMNS = 'id, vmid, node, name, template_vmid, event_id, participant_id, status, clone_task_id, reserved_vmid, clone_upid, last_error';

export class VmStore {
  constructor(private readonly pool: Pool) {}

  async byName(name: string): Promise<VmRow | undefined> {
    const [rows] = await this.pool.query<RowDataPacket[]>(`SELECT ${COLUMNS} FROM vms WHERE name = ?`, [name]);
    return rows[0] ? toRow(rows[0]) : undefined;
  }

  async byVmid(vmid: number): Promise<VmRow | undefined> {
    const [rows] = await this.pool.query<RowDataPacket[]>(`SELECT ${COLUMNS} FROM vms WHERE vmid = ?`, [vmid]);
    return rows[0] ? toRow(rows[0]) : undefined;
  }

  async withVmid(): Promise<VmRow[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(`SELECT ${COLUMNS} FROM vms WHERE vmid IS NOT NULL ORDER BY id`);
    return rows.map(toRow);
  }

  /**
   * The clone's row, made before anything happens in Proxmox. A row the
   * same clone left earlier is kept with its reserved VMID and UPID (that
   * is how the resumed attempt finds them); one that failed for good or
   * went missing starts over as `cloning` without them. (MariaDB applies
   * ON DUPLICATE KEY UPDATE assignments in order, each seeing the ones
   * before it: `status` must come last.)
   */
  async openClone(v: { name: string; templateVmid: number; eventId: number | null; participantId: number | null; taskId: number | null }): Promise<VmRow> {
    const [tpl] = await this.pool.query<RowDataPacket[]>('SELECT id FROM vm_templates WHERE vmid = ?', [v.templateVmid]);
    const templateId = tpl[0] ? Number(tpl[0].id) : null;
    await this.pool.query(
      `INSERT INTO vms (name, template_id, template_vmid, event_id, participant_id, status, clone_task_id)
       VALUES (?, ?, ?, ?, ?, 'cloning', ?)
       ON DUPLICATE KEY UPDATE
         reserved_vmid = IF(status IN ('failed','missing'), NULL, reserved_vmid),
         clone_upid = IF(status IN ('failed','missing'), NULL, clone_upid),
         vmid = IF(status IN ('failed','missing'), NULL, vmid),
         template_id = IF(status IN ('failed','missing'), VALUES(template_id), template_id),
         template_vmid = IF(status IN ('failed','missing'), VALUES(template_vmid), template_vmid),
         status = IF(status IN ('failed','missing'), 'cloning', status),
         clone_task_id = COALESCE(VALUES(clone_task_id), clone_task_id),
         event_id = COALESCE(VALUES(event_id), event_id),
         participant_id = COALESCE(VALUES(participant_id), participant_id)`,
      [v.name, templateId, v.templateVmid, v.eventId, v.participantId, v.taskId],
    );
    return (await this.byName(v.name))!;
  }

  async setReserved(id: number, vmid: number): Promise<void> {
    await this.pool.query('UPDATE vms SET reserved_vmid = ? WHERE id = ?', [vmid, id]);
  }

  async setCloneUpid(id: number, upid: string): Promise<void> {
    await this.pool.query('UPDATE vms SET clone_upid = ? WHERE id = ?', [upid, id]);
  }

  /**
   * The clone is done: the row takes the VMID. A stale row holding the same
   * VMID (a VM removed outside OpenVLE whose id Proxmox handed out again) is
   * marked missing first, so the unique key never blocks the real owner.
   */
  async cloned(id: number, vmid: number, node: string, status: VmRowStatus): Promise<void> {
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      await conn.query(`UPDATE vms SET vmid = NULL, status = 'missing' WHERE vmid = ? AND id <> ?`, [vmid, id]);
      await conn.query('UPDATE vms SET vmid = ?, node = ?, status = ?, last_error = NULL WHERE id = ?', [vmid, node, status, id]);
      await conn.commit();
    } catch (err) {
      await conn.rollback().catch(() => {});
      throw err;
    } finally {
      conn.release();
    }
  }

  async setStatus(id: number, status: VmRowStatus, node?: string): Promise<void> {
    if (node !== undefined) await this.pool.query('UPDATE vms SET status = ?, node = ? WHERE id = ?', [status, node, id]);
    else await this.pool.query('UPDATE vms SET status = ? WHERE id = ?', [status, id]);
  }

  /** Keeps the latest failure on the row; `failed` also forgets the clone's ids, so a later run clones afresh. */
  async recordError(id: number, err: unknown, final: boolean): Promise<void> {
    const text = clip(redactSecrets(err instanceof Error ? err.message : String(err)), 4000);
    if (final) {
      await this.pool.query(
        `UPDATE vms SET status = 'failed', last_error = ?, reserved_vmid = NULL, clone_upid = NULL WHERE id = ? AND status = 'cloning'`,
        [text, id],
      );
    } else {
      await this.pool.query('UPDATE vms SET last_error = ? WHERE id = ?', [text, id]);
    }
  }

  /** A delete that failed for good: status `error` with the failure, so the row does not stay `deleting`. */
  async deleteFailed(id: number, err: unknown): Promise<void> {
    const text = clip(redactSecrets(err instanceof Error ? err.message : String(err)), 4000);
    await this.pool.query(`UPDATE vms SET status = 'error', last_error = ? WHERE id = ?`, [text, id]);
  }

  /** Removes the VM's row and its Guacamole connections' rows (their Guacamole side is cleaned up before, by openvle.guacamole.cleanup). */
  async remove(id: number): Promise<void> {
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      await conn.query('DELETE FROM guacamole_connections WHERE vm_id = ?', [id]);
      await conn.query('DELETE FROM vms WHERE id = ?', [id]);
      await conn.commit();
    } catch (err) {
      await conn.rollback().catch(() => {});
      throw err;
    } finally {
      conn.release();
    }
  }

  /** Sync: the VM's state as Proxmox reports it, unless the row changed since the snapshot was taken. */
  async synced(id: number, status: VmRowStatus, node: string, snapshotAt: Date): Promise<boolean> {
    const [r] = await this.pool.query<ResultSetHeader>(
      `UPDATE vms SET status = ?, node = ?, synced_at = CURRENT_TIMESTAMP(3)
       WHERE id = ? AND status NOT IN ('cloning','deleting') AND updated_at < ?`,
      [status, node, id, snapshotAt],
    );
    return r.affectedRows > 0;
  }

  /** Sync: Proxmox no longer has the VM; marked, never deleted (Tasks and connections refer to it). */
  async missing(id: number, snapshotAt: Date): Promise<boolean> {
    const [r] = await this.pool.query<ResultSetHeader>(
      `UPDATE vms SET status = 'missing', synced_at = CURRENT_TIMESTAMP(3)
       WHERE id = ? AND status NOT IN ('cloning','deleting','missing') AND updated_at < ?`,
      [id, snapshotAt],
    );
    return r.affectedRows > 0;
  }
}
