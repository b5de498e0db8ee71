import type { ResultSetHeader, RowDataPacket } from 'mysql2';
import { failure } from '../../clients/failure.js';
import { ensureConnection, ensureUser, grantConnection } from '../../clients/guacamole/index.js';
import { progress } from '../../tracking/attempt.js';
import { Args } from '../args.js';
import { defineTask } from '../define.js';
import { runContext } from '../job-context.js';
import type { TaskServices } from '../services.js';
import { describeVmRef, findVm, readVmRef, type VmRow } from './rows.js';

const NAME = 'openvle.guacamole.provision';

/** Sharing profile made for every connection: lets its user share the session read-only (with an instructor, say). */
export const SHARING_PROFILE = { name: 'Read-only', parameters: { 'read-only': 'true' } };

interface ConnectionTemplateRow extends RowDataPacket {
  id: number;
  name: string;
  protocol: 'ssh' | 'rdp';
  port: number;
  username: string;
  password: string;
}

interface ParticipantRow extends RowDataPacket {
  id: number;
  event_id: number;
  username: string;
  email: string;
  first_name: string;
  last_name: string;
}

const notFound = (what: string) => failure('permanent', `${NAME}: ${what}`, { system: 'guacamole', operation: 'provision' });

/**
 * The connection's title, which the user sees in Guacamole: event name,
 * participant, VM template and connection template, so it is the same on
 * every run (it is how a re-run finds the connection) and unique per
 * participant and VM template.
 */
export function connectionTitle(p: { eventName?: string | null; vmName: string; templateName?: string | null; username: string; label: string }): string {
  const head = p.eventName || p.vmName;
  return `${head} – ${p.username} – ${p.templateName || p.vmName}: ${p.label}`.slice(0, 255);
}

function labels(cts: ConnectionTemplateRow[]): Map<number, string> {
  const base = (ct: ConnectionTemplateRow) => ct.name.trim() || `${ct.protocol.toUpperCase()} ${ct.port}`;
  const count = new Map<string, number>();
  for (const ct of cts) count.set(base(ct), (count.get(base(ct)) ?? 0) + 1);
  // Two templates of one VM with the same label would share a title: the id tells them apart.
  return new Map(cts.map((ct) => [ct.id, count.get(base(ct))! > 1 ? `${base(ct)} #${ct.id}` : base(ct)]));
}

function parametersFor(ct: ConnectionTemplateRow, host: string): Record<string, string | number | boolean> {
  const common = { hostname: host, port: ct.port, username: ct.username, password: ct.password };
  // Lab VMs have self-signed RDP certificates; Guacamole refuses them unless told otherwise.
  return ct.protocol === 'rdp' ? { ...common, security: 'any', 'ignore-cert': true } : common;
}

/** Records the connection's row (pending) by its title; a row of another VM with that title is a clash, resolved by adding the VM name. */
async function claimRow(s: TaskServices, title: string, vm: VmRow, ct: ConnectionTemplateRow, participantId: number, eventId: number | null): Promise<{ id: number; name: string }> {
  for (const name of [title, `${title} (${vm.name})`.slice(0, 255)]) {
    const [res] = await s.pool.query<ResultSetHeader>(
      `INSERT INTO guacamole_connections (name, vm_id, connection_template_id, participant_id, event_id, status)
       VALUES (?, ?, ?, ?, ?, 'pending') ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)`,
      [name, vm.id, ct.id, participantId, eventId],
    );
    const [rows] = await s.pool.query<RowDataPacket[]>('SELECT id, vm_id FROM guacamole_connections WHERE id = ?', [res.insertId]);
    if (rows[0] && Number(rows[0].vm_id) === vm.id) return { id: res.insertId, name };
  }
  throw notFound(`connection title '${title}' is taken by another VM's connection`);
}

export async function provision(s: TaskServices, kwargs: Record<string, unknown>): Promise<unknown> {
  const a = new Args(NAME, kwargs);
  const ref = readVmRef(NAME, a)!;
  const participantId = a.int('participant_id', { min: 1 });
  const eventArg = a.optionalInt('event_id', { min: 1 });
  a.done();
  if (!s.config.guacamole) return { skipped: 'Guacamole is not configured' };

  const vm = await findVm(s.pool, ref);
  if (!vm) throw notFound(`no VM ${describeVmRef(ref)} in the database`);
  const [parts] = await s.pool.query<ParticipantRow[]>('SELECT id, event_id, username, email, first_name, last_name FROM event_participants WHERE id = ?', [participantId]);
  const participant = parts[0];
  if (!participant) throw notFound(`no participant ${participantId}`);
  const eventId = eventArg ?? vm.event_id ?? participant.event_id;
  const [events] = await s.pool.query<RowDataPacket[]>('SELECT name FROM events WHERE id = ?', [eventId]);
  const [tpls] = await s.pool.query<RowDataPacket[]>('SELECT name FROM vm_templates WHERE id = ?', [vm.template_id]);
  // The VM template's connection templates, and any made for this VM alone. Passwords stay in this process.
  const [cts] = await s.pool.query<ConnectionTemplateRow[]>(
    'SELECT id, name, protocol, port, username, password FROM connection_templates WHERE vm_template_id = ? OR vm_id = ? ORDER BY id',
    [vm.template_id ?? 0, vm.id],
  );

  const { signal } = runContext();
  const opts = signal ? { signal } : {};
  const guac = s.guacamole();
  const username = participant.username;
  const fullName = `${participant.first_name} ${participant.last_name}`.trim();
  // No password: participants reach Guacamole through OpenVLE, never by a password of their own.
  await ensureUser(guac, { username, ...(fullName ? { fullName } : {}), email: participant.email }, opts);

  const host = vm.ip_address ?? vm.name;
  const label = labels(cts);
  const connections: Array<{ id: number; identifier: string }> = [];
  for (const [i, ct] of cts.entries()) {
    const title = connectionTitle({ eventName: events[0]?.name as string | undefined, vmName: vm.name, templateName: tpls[0]?.name as string | undefined, username, label: label.get(ct.id)! });
    const row = await claimRow(s, title, vm, ct, participant.id, eventId ?? null);
    const ensured = await ensureConnection(guac, { name: row.name, protocol: ct.protocol, parameters: parametersFor(ct, host), sharingProfile: SHARING_PROFILE }, opts);
    // Persisted before the grant: a cleanup after a crash here finds the connection by its id.
    await s.pool.query('UPDATE guacamole_connections SET guac_connection_id = ?, guac_sharing_profile_id = ?, guac_username = ? WHERE id = ?', [
      ensured.identifier,
      ensured.sharingProfileIdentifier ?? null,
      username,
      row.id,
    ]);
    await grantConnection(guac, username, { connectionId: ensured.identifier, ...(ensured.sharingProfileIdentifier ? { sharingProfileId: ensured.sharingProfileIdentifier } : {}) }, opts);
    await s.pool.query("UPDATE guacamole_connections SET status = 'active' WHERE id = ?", [row.id]);
    connections.push({ id: row.id, identifier: ensured.identifier });
    progress(Math.round(((i + 1) * 100) / cts.length), `connection ${i + 1} of ${cts.length}`);
  }
  return { username, connections };
}

export const PROVISION = defineTask({
  name: NAME,
  queue: 'guacamole',
  label: 'Provision Guacamole',
  action: 'Create Guacamole user and connections',
  run: provision,
});
