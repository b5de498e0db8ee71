import type { RowDataPacket } from 'mysql2';
import { deleteConnection } from '../../clients/guacamole/index.js';
import { Args, BadArgumentError } from '../args.js';
import { defineTask } from '../define.js';
import { runContext } from '../job-context.js';
import type { TaskServices } from '../services.js';
import { findVm, readVmRef } from './rows.js';

const NAME = 'openvle.guacamole.cleanup';

interface ConnRow extends RowDataPacket {
  id: number;
  name: string;
  guac_connection_id: string | null;
}

/**
 * openvle.guacamole.cleanup: deletes a VM's Guacamole connections (or one,
 * by the OpenVLE row id `connection_id`) and their rows. Deleting a
 * connection takes its sharing profile and grants with it; the user stays.
 * A connection or row already gone counts as done, so a re-run succeeds.
 */
export async function cleanup(s: TaskServices, kwargs: Record<string, unknown>): Promise<{ deleted: number } | { skipped: string }> {
  const a = new Args(NAME, kwargs);
  const ref = readVmRef(NAME, a, { optional: true });
  const connectionId = a.optionalInt('connection_id', { min: 1 });
  a.done();
  if ((ref === undefined) === (connectionId === undefined)) throw new BadArgumentError(NAME, "takes 'vmid' or 'vm_name', or 'connection_id'");
  if (!s.config.guacamole) return { skipped: 'Guacamole is not configured' };

  let rows: ConnRow[];
  if (ref) {
    const vm = await findVm(s.pool, ref);
    if (!vm) return { deleted: 0 };
    [rows] = await s.pool.query<ConnRow[]>('SELECT id, name, guac_connection_id FROM guacamole_connections WHERE vm_id = ? ORDER BY id', [vm.id]);
  } else {
    [rows] = await s.pool.query<ConnRow[]>('SELECT id, name, guac_connection_id FROM guacamole_connections WHERE id = ?', [connectionId]);
  }
  const { signal } = runContext();
  const opts = signal ? { signal } : {};
  const guac = s.guacamole();
  let deleted = 0;
  for (const row of rows) {
    await s.pool.query("UPDATE guacamole_connections SET status = 'deleting' WHERE id = ?", [row.id]);
    let identifier = row.guac_connection_id ?? undefined;
    if (identifier === undefined) {
      // A provision that crashed before recording the identifier: find its connection by title.
      const all = await guac.listConnections(opts);
      identifier = Object.entries(all).find(([, c]) => c.name === row.name && (c.parentIdentifier ?? 'ROOT') === 'ROOT')?.[0];
    }
    if (identifier !== undefined) await deleteConnection(guac, identifier, opts);
    await s.pool.query('DELETE FROM guacamole_connections WHERE id = ?', [row.id]);
    deleted++;
  }
  return { deleted };
}

export const CLEANUP = defineTask({
  name: NAME,
  queue: 'guacamole',
  label: 'Clean up Guacamole',
  action: 'Delete Guacamole connections',
  run: cleanup,
});
