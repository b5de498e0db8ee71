/**
 * openvle.periodic.pve_sync (every WORKER_PVE_PERIODIC_INTERVAL seconds):
 * what the cluster says about its nodes, the templates in OpenVLE's pool
 * and OpenVLE's VMs, into MariaDB; and a time-stamped node snapshot into
 * MongoDB when MONGODB_URL is set. Rows are upserted or marked, never
 * deleted: Tasks, environments and connections refer to them.
 */
import type { ResultSetHeader } from 'mysql2/promise';
import { MongoClient } from 'mongodb';
import { currentJob } from '../../../index.js';
import { redactSecrets } from '../../clients/failure.js';
import type { NodeResource, VmResource } from '../../clients/proxmox/index.js';
import { Args } from '../args.js';
import { defineTask } from '../define.js';
import type { TaskServices } from '../services.js';
import { VmStore, type VmRowStatus } from './vms.js';

export const PVE_SYNC = 'openvle.periodic.pve_sync';

/** The MongoDB collection of node snapshots, one document per sync. */
export const NODE_SNAPSHOTS = 'pve_node_snapshots';

export interface PveSyncResult {
  nodes: number;
  /** Listed by Proxmox as not online. */
  nodes_offline: number;
  /** Rows of nodes the cluster no longer lists, now status unknown. */
  nodes_gone: number;
  templates: number;
  templates_gone: number;
  vms_updated: number;
  vms_missing: number;
  /** Whether a node snapshot went to MongoDB (false when MONGODB_URL is unset). */
  snapshot: boolean;
}

const n = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : null);

function vmStatusOf(vm: VmResource): VmRowStatus {
  if (vm.lock === 'clone') return 'cloning';
  if (vm.status === 'running' || vm.status === 'stopped' || vm.status === 'paused') return vm.status;
  return 'unknown';
}

async function syncNodes(s: TaskServices, nodes: NodeResource[]): Promise<number> {
  for (const node of nodes) {
    const status = node.status === 'online' || node.status === 'offline' ? node.status : 'unknown';
    await s.pool.query(
      `INSERT INTO pve_nodes (name, status, cpu_usage, max_cpu, mem_used, mem_total, uptime, synced_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP(3))
       ON DUPLICATE KEY UPDATE status = VALUES(status), cpu_usage = VALUES(cpu_usage), max_cpu = VALUES(max_cpu),
         mem_used = VALUES(mem_used), mem_total = VALUES(mem_total), uptime = VALUES(uptime), synced_at = VALUES(synced_at)`,
      [node.node, status, n(node.cpu), n(node.maxcpu), n(node.mem), n(node.maxmem), n(node.uptime)],
    );
  }
  // A node that left the cluster: its state is no longer known.
  const names = nodes.map((x) => x.node);
  const [r] = await s.pool.query<ResultSetHeader>(
    `UPDATE pve_nodes SET status = 'unknown' WHERE status <> 'unknown'${names.length ? ' AND name NOT IN (?)' : ''}`,
    names.length ? [names] : [],
  );
  return r.affectedRows;
}

async function syncTemplates(s: TaskServices, vms: VmResource[]): Promise<{ templates: number; gone: number }> {
  const pool = s.config.proxmox?.vmsPool ?? '';
  // The templates OpenVLE may clone are those in its pool; with no pool configured, every template.
  const templates = vms.filter((v) => Number(v.template) === 1 && (pool === '' || v.pool === pool));
  for (const t of templates) {
    const maxmem = n(t.maxmem);
    await s.pool.query(
      `INSERT INTO vm_templates (vmid, name, node, cores, memory_mb, present, synced_at)
       VALUES (?, ?, ?, ?, ?, 1, CURRENT_TIMESTAMP(3))
       ON DUPLICATE KEY UPDATE name = VALUES(name), node = VALUES(node), cores = VALUES(cores),
         memory_mb = VALUES(memory_mb), present = 1, synced_at = VALUES(synced_at)`,
      [t.vmid, t.name ?? `template-${t.vmid}`, t.node, n(t.maxcpu), maxmem === null ? null : Math.round(maxmem / 1048576)],
    );
  }
  const ids = templates.map((t) => t.vmid);
  const [r] = await s.pool.query<ResultSetHeader>(`UPDATE vm_templates SET present = 0 WHERE present = 1${ids.length ? ' AND vmid NOT IN (?)' : ''}`, ids.length ? [ids] : []);
  return { templates: templates.length, gone: r.affectedRows };
}

async function syncVms(s: TaskServices, vms: VmResource[], snapshotAt: Date): Promise<{ updated: number; missing: number }> {
  const store = new VmStore(s.pool);
  const byVmid = new Map(vms.map((v) => [v.vmid, v]));
  let updated = 0;
  let missing = 0;
  for (const row of await store.withVmid()) {
    const vm = byVmid.get(row.vmid!);
    // Same VMID but another name: Proxmox reused the id of a VM removed behind OpenVLE's back.
    if (!vm || vm.name !== row.name) {
      if (await store.missing(row.id, snapshotAt)) missing++;
    } else if (await store.synced(row.id, vmStatusOf(vm), vm.node, snapshotAt)) {
      updated++;
    }
  }
  return { updated, missing };
}

async function snapshotToMongo(url: string, takenAt: Date, nodes: NodeResource[]): Promise<void> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 10_000, connectTimeoutMS: 10_000 });
  try {
    await client.connect();
    // The database named in the URL, else 'openvle'.
    const db = client.db(new URL(url.replace(/^mongodb\+srv:/, 'http:').replace(/^mongodb:/, 'http:')).pathname.slice(1) || 'openvle');
    await db.collection(NODE_SNAPSHOTS).insertOne({
      taken_at: takenAt,
      nodes: nodes.map((x) => ({
        name: x.node,
        status: x.status,
        cpu: n(x.cpu),
        max_cpu: n(x.maxcpu),
        mem_used: n(x.mem),
        mem_total: n(x.maxmem),
        disk_used: n(x.disk),
        disk_total: n(x.maxdisk),
        uptime: n(x.uptime),
      })),
    });
  } catch (err) {
    // The driver's messages may carry the URL, with its password.
    throw new Error(`MongoDB node snapshot not written: ${redactSecrets((err as Error).message, [url])}`);
  } finally {
    await client.close().catch(() => {});
  }
}

async function pveSync(s: TaskServices, kwargs: Record<string, unknown>): Promise<PveSyncResult> {
  new Args(PVE_SYNC, kwargs).done();
  const { signal } = currentJob();
  const client = s.proxmox();
  // Rows changed after this instant (a clone finishing meanwhile) may be newer than what
  // Proxmox tells us next: left for the next sync. MariaDB's clock, as updated_at is.
  const [[now]] = (await s.pool.query('SELECT CURRENT_TIMESTAMP(3) AS now')) as unknown as [[{ now: Date }]];
  const snapshotAt = now!.now;
  const [nodes, vms] = await Promise.all([client.nodes({ signal }), client.listVms({ signal })]);
  const gone = await syncNodes(s, nodes);
  const tpl = await syncTemplates(s, vms);
  const v = await syncVms(s, vms, snapshotAt);
  let snapshot = false;
  const url = s.config.mongodb.url;
  if (url) {
    await snapshotToMongo(url, new Date(), nodes);
    snapshot = true;
  }
  return {
    nodes: nodes.length,
    nodes_offline: nodes.filter((x) => x.status !== 'online').length,
    nodes_gone: gone,
    templates: tpl.templates,
    templates_gone: tpl.gone,
    vms_updated: v.updated,
    vms_missing: v.missing,
    snapshot,
  };
}

export const pveSyncTask = defineTask({
  name: PVE_SYNC,
  queue: 'pve_periodic',
  label: 'Proxmox node info',
  action: 'Synchronize Proxmox',
  jobTimeout: 300,
  run: pveSync,
});
