// The Proxmox tasks end to end: a private Redis, an in-process engine Worker
// running the tracked OpenVLE tasks, a real MariaDB database of this file's
// own, and the simulated Proxmox server (external-apis.md §1.8).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { Job, Queue, Retry, TaskRegistry, createRedis, type Worker } from '../../../src/index.js';
import { loadConfig, type OpenVleConfig } from '../../../src/openvle/config/config.js';
import { migrate } from '../../../src/openvle/db/migrate.js';
import { createPool, type Pool } from '../../../src/openvle/db/pool.js';
import { createTaskServices, enqueueTracked, registerOpenVleTasks, type TaskServices } from '../../../src/openvle/tasks/index.js';
import { PVE_TASKS, VmStore } from '../../../src/openvle/tasks/pve/index.js';
import { TaskTracker } from '../../../src/openvle/tracking/tracker.js';
import { startProxmoxSim, type ProxmoxSim } from '../../../src/sim/proxmox/server.js';
import { engineFixture } from '../../helpers/engine.js';
import { freePort, testRedis } from '../../helpers/redis.js';
import { uniq, until } from '../../helpers/util.js';
import { PYTHON, py1, pyEnv } from '../../interop/helpers.js';
import { testDatabase } from '../db.js';

const fx = engineFixture();
// Reported as skipped (never as passed) where Debian's python3-rq is missing.
const noPythonRq = spawnSync(PYTHON, ['-c', 'import rq, redis'], { env: pyEnv() }).status !== 0 ? 'Python RQ is not installed (/usr/bin/python3 -c "import rq")' : false;
const WAIT = 60_000;
const CLI = join(import.meta.dirname, '../../../src/cli/main.ts');
const TEMPLATE = 9000;
const POOL = 'OpenVLE-VMs';

let sim: ProxmoxSim;
let pool: Pool;
let drop: () => Promise<void>;
let env: Record<string, string>;
let config: OpenVleConfig;
let services: TaskServices;
let tracker: TaskTracker;
let worker: Worker & { done: Promise<void> };
let eventId: number;
let participantId: number;
const children: ChildProcess[] = [];

before(async () => {
  const db = await testDatabase('ovpve');
  drop = db.drop;
  pool = createPool(db.config);
  await migrate(pool);
  sim = await startProxmoxSim({});
  sim.state.setTaskDuration('default', 100);
  sim.state.addVm({ vmid: TEMPLATE, node: 'pve-a', name: 'tpl-ubuntu', template: true, pool: POOL });
  env = {
    PVE_URL: sim.url,
    PVE_USER: sim.token.user,
    PVE_TOKEN_NAME: sim.token.tokenId,
    PVE_TOKEN_VALUE: sim.token.secret,
    PVE_VMS_POOL: POOL,
    MARIADB_HOST: db.config.host,
    MARIADB_PORT: String(db.config.port),
    MARIADB_USER: db.config.user,
    MARIADB_PASSWORD: db.config.password,
    MARIADB_DATABASE: db.config.database,
  };
  config = loadConfig(env);
  services = createTaskServices({ config, pool, redis: fx.redis, clients: { proxmox: { taskPoll: { minMs: 20, maxMs: 50 } } } });
  tracker = new TaskTracker({ pool, redis: fx.redis, reconciler: { interval: 3_600_000 } });
  const reg = new TaskRegistry();
  registerOpenVleTasks(reg, tracker, services);
  // The queues' default retries as OpenVLE's worker sets them (queueRetry), with 1 s waits to keep the tests short.
  worker = fx.worker(['pve_vm_clone', 'pve_vm_actions', 'pve_periodic'], reg, {
    withScheduler: true,
    queueRetry: { pve_vm_clone: { max: 1, intervals: [1] }, pve_vm_actions: { max: 5, intervals: [1] }, pve_periodic: { max: 1, intervals: [1] } },
  });
  tracker.attach(worker);
  const [ev] = await pool.query<RowDataPacket[]>("INSERT INTO events (name, short_name, start_date) VALUES ('Linux basics', 'lnx1', '2026-12-01') RETURNING id");
  eventId = Number(ev![0]!.id);
  const [p] = await pool.query<RowDataPacket[]>("INSERT INTO event_participants (event_id, username, email) VALUES (?, 'alice', 'alice@example.test') RETURNING id", [eventId]);
  participantId = Number(p![0]!.id);
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  worker.stop();
  await worker.done;
  await tracker.close();
  await services.close();
  sim.close();
  await pool.end();
  await drop();
});

function def(name: string) {
  const d = PVE_TASKS.find((t) => t.name === name);
  assert.ok(d, `task ${name} is defined`);
  return d;
}

/** Enqueues a task as a producer would, with a short retry policy of the test's choosing. */
async function enqueue(name: string, kwargs: Record<string, unknown>, retry?: Retry): Promise<Job> {
  const d = def(name);
  return new Queue(d.queue, fx.redis).enqueue(d.name, { kwargs, ...(retry ? { retry } : {}), ...(d.jobTimeout ? { jobTimeout: d.jobTimeout } : {}) });
}

async function ended(job: Job): Promise<string> {
  let status: string | null = null;
  await until(async () => {
    status = await job.getStatus();
    return status === 'finished' || status === 'failed';
  }, WAIT, 50);
  return status!;
}

async function run(name: string, kwargs: Record<string, unknown>, retry?: Retry): Promise<unknown> {
  const job = await enqueue(name, kwargs, retry);
  const status = await ended(job);
  if (status !== 'finished') assert.fail(`${name} ended ${status}: ${(await job.latestResult())?.excString ?? ''}`);
  return job.returnValue();
}

async function taskOf(job: Job) {
  let id: number | undefined;
  await until(async () => (id = (await tracker.store.findByJobId(job.id))?.id) !== undefined, WAIT, 50);
  // The worker writes the Task's end after the job's status changes: wait until the Task has ended too.
  await until(async () => {
    const t = await tracker.store.getTask(id!);
    return t !== undefined && t !== null && ['success', 'failed', 'canceled'].includes(t.status) && (await tracker.store.subTasks(id!)).every((x) => x.status !== 'processing');
  }, WAIT, 50);
  return { task: (await tracker.store.getTask(id!))!, subTasks: await tracker.store.subTasks(id!) };
}

const vmRow = (name: string) => new VmStore(pool).byName(name);

/** A clone whose VM is recorded in MariaDB, for the action tests. */
async function clonedVm(name = uniq('vm').replace(/_/g, '-')): Promise<{ name: string; vmid: number; node: string }> {
  const r = (await run('openvle.pve.clone_vm', { template_vmid: TEMPLATE, name })) as { vmid: number; node: string };
  return { name, ...r };
}

test('clone_vm: returns {vmid, node}, records the VM in MariaDB and describes it with its Task id', async () => {
  const name = 'lnx1-alice-ubuntu';
  const job = await enqueue('openvle.pve.clone_vm', { template_vmid: TEMPLATE, name, event_id: eventId, participant_id: participantId });
  assert.equal(await ended(job), 'finished');
  const result = (await job.returnValue()) as { vmid: number; node: string };
  assert.deepEqual(Object.keys(result).sort(), ['node', 'vmid']);
  assert.equal(result.node, 'pve-a', "the template's node");
  const vms = sim.state.vmsNamed(name);
  assert.equal(vms.length, 1);
  assert.equal(vms[0]!.vmid, result.vmid);
  assert.equal(vms[0]!.pool, POOL, 'PVE_VMS_POOL by default');
  assert.equal(vms[0]!.clonedFrom?.full, false, 'linked clone: PVE_VMS_FULL_CLONE_DEFAULT is False');
  const { task, subTasks } = await taskOf(job);
  assert.match(vms[0]!.description ?? '', new RegExp(`Task ${task.id}\\b`));
  assert.equal(task.status, 'success');
  assert.equal(task.progress, 100);
  assert.equal(task.eventId, eventId);
  assert.deepEqual(subTasks.map((s) => [s.attempt, s.status, s.action]), [[1, 'success', 'Clone VM']]);
  const row = (await vmRow(name))!;
  assert.deepEqual(
    { vmid: row.vmid, node: row.node, templateVmid: row.templateVmid, eventId: row.eventId, participantId: row.participantId, status: row.status, cloneTaskId: row.cloneTaskId },
    { vmid: result.vmid, node: 'pve-a', templateVmid: TEMPLATE, eventId, participantId, status: 'stopped', cloneTaskId: task.id },
  );
  assert.ok(row.cloneUpid?.startsWith('UPID:pve-a:'), 'the clone task UPID was persisted');
  assert.equal(row.reservedVmid, result.vmid);

  // A second run of the same request (the backend enqueued twice) adopts the VM: still one.
  const again = await run('openvle.pve.clone_vm', { template_vmid: TEMPLATE, name });
  assert.deepEqual(again, result);
  assert.equal(sim.state.vmsNamed(name).length, 1);
  assert.equal(sim.state.clonesNamed(name), 1);
});

test('clone_vm with start, full, target_node: the VM runs on the target node', async () => {
  const name = uniq('started').replace(/_/g, '-');
  const r = (await run('openvle.pve.clone_vm', { template_vmid: TEMPLATE, name, start: true, full: true, target_node: 'pve-b' })) as { vmid: number; node: string };
  assert.equal(r.node, 'pve-b');
  const vm = sim.state.vms.get(r.vmid)!;
  assert.equal(vm.status, 'running');
  assert.equal(vm.clonedFrom?.full, true);
  assert.equal((await vmRow(name))!.status, 'running');
});

test('clone_vm re-run after a crash with the UPID persisted: polls the same Proxmox task, exactly one VM', async () => {
  const name = uniq('crashed').replace(/_/g, '-');
  // What an attempt that crashed right after persisting the UPID leaves: the row and a running clone task.
  sim.state.setTaskDuration('qmclone', 1500);
  try {
    const client = services.proxmox();
    const vmid = await client.nextId();
    const upid = await client.clone('pve-a', TEMPLATE, { newid: vmid, name, pool: POOL });
    await pool.query("INSERT INTO vms (name, template_vmid, status, reserved_vmid, clone_upid) VALUES (?, ?, 'cloning', ?, ?)", [name, TEMPLATE, vmid, upid]);
    const clonePostsBefore = sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/clone')).length;
    const r = (await run('openvle.pve.clone_vm', { template_vmid: TEMPLATE, name })) as { vmid: number; node: string };
    assert.deepEqual(r, { vmid, node: 'pve-a' });
    assert.equal(sim.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/clone')).length, clonePostsBefore, 'no second clone call');
    assert.ok(sim.requests.some((q) => q.method === 'GET' && q.path.includes(encodeURIComponent(upid)) && q.path.endsWith('/status')), 'polled the persisted UPID');
    assert.equal(sim.state.vmsNamed(name).length, 1);
    assert.equal(sim.state.clonesNamed(name), 1);
    const row = (await vmRow(name))!;
    assert.equal(row.vmid, vmid);
    assert.equal(row.status, 'stopped');
  } finally {
    sim.state.setTaskDuration('qmclone', 100);
  }
});

test('clone_vm enqueued as OpenVLE does (Task row first, the queue\'s retry): a clone lock timeout is transient, the retry succeeds with one VM', async () => {
  const name = uniq('locked').replace(/_/g, '-');
  sim.faults.cloneCfsLockTimeouts = 1;
  const { jobId, taskId } = await enqueueTracked(services, def('openvle.pve.clone_vm'), { template_vmid: TEMPLATE, name }, { jobId: `clone-${name}` });
  const job = await Job.fetch(fx.redis, jobId);
  assert.equal(job.timeout, 1800, "the task's job timeout");
  assert.equal(await ended(job), 'finished');
  const { task, subTasks } = await taskOf(job);
  assert.equal(task.id, taskId);
  assert.equal(task.status, 'success');
  assert.equal(subTasks.length, 2);
  assert.equal(subTasks[0]!.status, 'error');
  assert.match(subTasks[0]!.errorMessage ?? '', /got lock request timeout/);
  assert.equal(subTasks[1]!.status, 'success');
  assert.equal(sim.state.vmsNamed(name).length, 1, 'the failed clone left no VM; the retry made one');
  const row = (await vmRow(name))!;
  assert.equal(row.vmid, ((await job.returnValue()) as { vmid: number }).vmid);
  assert.equal(row.status, 'stopped');
  assert.equal(row.lastError, null, 'success clears the recorded error');
});

test('clone_vm: a missing template is permanent: no retry, the Task failed, the VM row failed', async () => {
  const name = uniq('notpl').replace(/_/g, '-');
  const job = await enqueue('openvle.pve.clone_vm', { template_vmid: 4242, name }, new Retry({ max: 3, interval: [1] }));
  assert.equal(await ended(job), 'failed');
  const { task, subTasks } = await taskOf(job);
  assert.equal(task.status, 'failed');
  assert.match(task.error ?? '', /template 4242 not found/);
  assert.equal(subTasks.length, 1, 'no retry');
  const row = (await vmRow(name))!;
  assert.equal(row.status, 'failed');
  assert.match(row.lastError ?? '', /template 4242 not found/);
  assert.equal(row.vmid, null);
  assert.equal(sim.state.vmsNamed(name).length, 0);
});

test('clone_vm: lock timeouts on every attempt: the last retry fails, the VM row failed with the error, no VM left', async () => {
  const name = uniq('alwayslocked');
  sim.faults.cloneFileLockTimeouts = 2;
  // No Retry of its own: the queue's (one retry here) applies, and the second attempt is the last.
  const job = await enqueue('openvle.pve.clone_vm', { template_vmid: TEMPLATE, name });
  assert.equal(await ended(job), 'failed');
  const { task, subTasks } = await taskOf(job);
  assert.equal(task.status, 'failed');
  assert.deepEqual(subTasks.map((s) => s.status), ['error', 'error']);
  const row = (await vmRow(name))!;
  assert.equal(row.status, 'failed');
  assert.match(row.lastError ?? '', /can't lock file/);
  assert.equal(row.cloneUpid, null, 'a later clone of this name starts afresh');
  assert.equal(sim.state.vmsNamed(name).length, 0);
  // The backend asks again later: the same name clones anew, and the row recovers.
  const r = (await run('openvle.pve.clone_vm', { template_vmid: TEMPLATE, name })) as { vmid: number };
  const again = (await vmRow(name))!;
  assert.deepEqual([again.status, again.vmid, again.lastError], ['stopped', r.vmid, null]);
  assert.equal(sim.state.vmsNamed(name).length, 1);
});

test('a Python RQ producer enqueues clone_vm with keyword arguments and reads {vmid, node}', { skip: noPythonRq }, async () => {
  const name = uniq('frompython');
  const { id } = await py1<{ id: string }>(fx.url, {
    op: 'enqueue',
    queue: 'pve_vm_clone',
    func: 'openvle.pve.clone_vm',
    kwargs: { template_vmid: TEMPLATE, name, start: true, event_id: eventId, participant_id: participantId },
    job_timeout: 1800,
  });
  await until(async () => (await py1<{ status: string }>(fx.url, { op: 'fetch', id })).status === 'finished', WAIT, 100);
  const view = await py1<{ return_value: { vmid: number; node: string } }>(fx.url, { op: 'fetch', id });
  const vm = sim.state.vmsNamed(name);
  assert.equal(vm.length, 1);
  assert.deepEqual(view.return_value, { vmid: vm[0]!.vmid, node: 'pve-a' });
  assert.equal(vm[0]!.status, 'running');
  const row = (await vmRow(name))!;
  assert.deepEqual([row.vmid, row.eventId, row.participantId, row.status], [vm[0]!.vmid, eventId, participantId, 'running']);
});

test('bad arguments fail at once, naming the argument', async () => {
  for (const [name, kwargs, pattern] of [
    ['openvle.pve.clone_vm', { template_vmid: TEMPLATE }, /'name' is required/],
    ['openvle.pve.clone_vm', { template_vmid: TEMPLATE, name: 'not a dns name' }, /DNS name/],
    ['openvle.pve.clone_vm', { template_vmid: TEMPLATE, name: 'x1', password: 'hunter2' }, /unknown argument 'password'/],
    ['openvle.pve.clone_vm', { template_vmid: TEMPLATE, name: 'x2', event_id: 999999 }, /no such event or participant/],
    ['openvle.pve.start_vm', {}, /needs 'vmid' or 'name'/],
    ['openvle.pve.stop_vm', { vmid: 101, name: 'x' }, /not both/],
    ['openvle.pve.migrate_vm', { vmid: 101 }, /'target_node' is required/],
  ] as const) {
    const job = await enqueue(name, kwargs, new Retry({ max: 3, interval: [1] }));
    assert.equal(await ended(job), 'failed', `${name} ${JSON.stringify(kwargs)}`);
    const { task, subTasks } = await taskOf(job);
    assert.match(task.error ?? '', pattern);
    assert.doesNotMatch(task.error ?? '', /hunter2/);
    assert.equal(subTasks.length, 1);
  }
});

test('start_vm by name (as event deploy enqueues it) and stop_vm of a stopped VM both succeed', async () => {
  const vm = await clonedVm();
  assert.deepEqual(await run('openvle.pve.start_vm', { name: vm.name }), { vmid: vm.vmid, node: vm.node, status: 'running' });
  assert.equal(sim.state.vms.get(vm.vmid)!.status, 'running');
  assert.equal((await vmRow(vm.name))!.status, 'running');
  // Start again: already running is success.
  assert.deepEqual(await run('openvle.pve.start_vm', { vmid: vm.vmid }), { vmid: vm.vmid, node: vm.node, status: 'running' });
  assert.deepEqual(await run('openvle.pve.reset_vm', { vmid: vm.vmid }), { vmid: vm.vmid, node: vm.node, status: 'running' });
  assert.deepEqual(await run('openvle.pve.stop_vm', { vmid: vm.vmid }), { vmid: vm.vmid, node: vm.node, status: 'stopped' });
  assert.deepEqual(await run('openvle.pve.stop_vm', { vmid: vm.vmid, node: vm.node }), { vmid: vm.vmid, node: vm.node, status: 'stopped' });
  assert.equal(sim.state.vms.get(vm.vmid)!.status, 'stopped');
  assert.equal((await vmRow(vm.name))!.status, 'stopped');
});

test('start_vm: a 596 from the VM\'s node is transient; the retry succeeds once the node answers', async () => {
  const vm = await clonedVm();
  sim.faults.nodeDown(sim.state, 'pve-a', 596);
  let job: Job;
  try {
    job = await enqueue('openvle.pve.start_vm', { vmid: vm.vmid });
    await until(async () => {
      const t = await tracker.store.findByJobId(job.id);
      return !!t && (await tracker.store.subTasks(t.id)).some((s) => s.status === 'error');
    }, WAIT, 50);
  } finally {
    sim.faults.nodeDown(sim.state, 'pve-a', undefined);
  }
  assert.equal(await ended(job), 'finished');
  const { task, subTasks } = await taskOf(job);
  assert.equal(task.status, 'success');
  assert.match(subTasks[0]!.errorMessage ?? '', /596/);
  assert.equal(subTasks.at(-1)!.status, 'success');
  assert.equal(sim.state.vms.get(vm.vmid)!.status, 'running');
});

test('start_vm: a name nobody cloned and a VMID Proxmox does not have are permanent', async () => {
  for (const kwargs of [{ name: 'never-cloned' }, { vmid: 98765 }]) {
    const job = await enqueue('openvle.pve.start_vm', kwargs, new Retry({ max: 3, interval: [1] }));
    assert.equal(await ended(job), 'failed');
    const { subTasks } = await taskOf(job);
    assert.equal(subTasks.length, 1, `${JSON.stringify(kwargs)}: no retry`);
  }
});

test('migrate_vm moves the VM and records its node; again is success', async () => {
  const vm = await clonedVm();
  await run('openvle.pve.start_vm', { vmid: vm.vmid });
  assert.deepEqual(await run('openvle.pve.migrate_vm', { vmid: vm.vmid, target_node: 'pve-b' }), { vmid: vm.vmid, node: 'pve-b' });
  assert.equal(sim.state.vms.get(vm.vmid)!.node, 'pve-b');
  assert.equal(sim.state.vms.get(vm.vmid)!.status, 'running', 'a running VM migrates live');
  assert.equal((await vmRow(vm.name))!.node, 'pve-b');
  assert.deepEqual(await run('openvle.pve.migrate_vm', { name: vm.name, target_node: 'pve-b' }), { vmid: vm.vmid, node: 'pve-b' });
  // Actions follow the VM to its new node whatever node the caller names.
  assert.deepEqual(await run('openvle.pve.stop_vm', { vmid: vm.vmid, node: 'pve-a' }), { vmid: vm.vmid, node: 'pve-b', status: 'stopped' });
});

test('delete_vm removes the VM, its row and its connections\' rows; deleting twice succeeds', async () => {
  const vm = await clonedVm();
  await run('openvle.pve.start_vm', { vmid: vm.vmid });
  const row = (await vmRow(vm.name))!;
  await pool.query("INSERT INTO guacamole_connections (name, vm_id, status) VALUES (?, ?, 'active')", [`conn-${vm.name}`, row.id]);
  assert.deepEqual(await run('openvle.pve.delete_vm', { name: vm.name }), { vmid: vm.vmid });
  assert.equal(sim.state.vms.has(vm.vmid), false);
  assert.equal(await vmRow(vm.name), undefined);
  const [conns] = await pool.query<RowDataPacket[]>('SELECT id FROM guacamole_connections WHERE vm_id = ?', [row.id]);
  assert.equal(conns.length, 0);
  assert.deepEqual(await run('openvle.pve.delete_vm', { vmid: vm.vmid }), { vmid: vm.vmid });
  assert.deepEqual(await run('openvle.pve.delete_vm', { name: vm.name }), { vmid: null });
  // A stop in an archive chain re-run after the delete: the VM is gone, which is stopped enough.
  assert.deepEqual(await run('openvle.pve.stop_vm', { vmid: vm.vmid }), { vmid: vm.vmid, node: null, status: 'missing' });
});

test('delete_vm: a protected VM fails for good and its row says so; a row whose VMID Proxmox reused is removed alone', async () => {
  const protectedVm = await clonedVm();
  sim.state.vms.get(protectedVm.vmid)!.protection = true;
  const job = await enqueue('openvle.pve.delete_vm', { vmid: protectedVm.vmid }, new Retry({ max: 3, interval: [1] }));
  assert.equal(await ended(job), 'failed');
  assert.equal((await taskOf(job)).subTasks.length, 1, 'permanent: no retry');
  const row = (await vmRow(protectedVm.name))!;
  assert.equal(row.status, 'error');
  assert.match(row.lastError ?? '', /protection mode/);
  assert.ok(sim.state.vms.has(protectedVm.vmid));

  const reused = await clonedVm();
  // Behind OpenVLE's back: the VM went and another VM got its VMID.
  sim.state.vms.get(reused.vmid)!.name = 'someone-elses-vm';
  assert.deepEqual(await run('openvle.pve.delete_vm', { name: reused.name }), { vmid: reused.vmid });
  assert.equal(await vmRow(reused.name), undefined);
  assert.equal(sim.state.vms.get(reused.vmid)?.name, 'someone-elses-vm', 'the other VM is left alone');
});

test('delete_vm refuses a template', async () => {
  const job = await enqueue('openvle.pve.delete_vm', { vmid: TEMPLATE }, new Retry({ max: 3, interval: [1] }));
  assert.equal(await ended(job), 'failed');
  assert.match((await taskOf(job)).task.error ?? '', /is a template/);
  assert.ok(sim.state.vms.has(TEMPLATE));
});

test('pve_sync: nodes, templates in the pool and VM status into MariaDB; vanished VMs marked missing', async () => {
  const kept = await clonedVm();
  const gone = await clonedVm();
  sim.state.addVm({ vmid: 9100, node: 'pve-b', name: 'tpl-other-pool', template: true, pool: 'elsewhere' });
  // Behind OpenVLE's back: one VM started, one deleted.
  sim.state.vms.get(kept.vmid)!.status = 'running';
  sim.state.vms.delete(gone.vmid);
  const r = (await run('openvle.periodic.pve_sync', {})) as Record<string, unknown>;
  assert.equal(r.nodes, 2);
  assert.equal(r.nodes_offline, 0);
  assert.equal(r.templates, 1, 'only the template in PVE_VMS_POOL');
  assert.equal(r.vms_missing, 1);
  assert.ok((r.vms_updated as number) >= 1);
  assert.equal(r.snapshot, Boolean(process.env.MONGODB_URL));
  const [nodes] = await pool.query<RowDataPacket[]>('SELECT name, status, max_cpu, mem_total FROM pve_nodes ORDER BY name');
  assert.deepEqual(nodes.map((n) => [n.name, n.status, n.max_cpu]), [['pve-a', 'online', 32], ['pve-b', 'online', 32]]);
  assert.ok(Number(nodes[0]!.mem_total) > 0);
  const [tpls] = await pool.query<RowDataPacket[]>('SELECT vmid, name, node, present FROM vm_templates');
  assert.deepEqual(tpls.map((t) => [t.vmid, t.name, t.node, t.present]), [[TEMPLATE, 'tpl-ubuntu', 'pve-a', 1]]);
  assert.equal((await vmRow(kept.name))!.status, 'running');
  const goneRow = (await vmRow(gone.name))!;
  assert.equal(goneRow.status, 'missing', 'marked, not deleted');
  // A node going down is seen by the next sync.
  sim.faults.nodeDown(sim.state, 'pve-b', 595);
  try {
    const r2 = (await run('openvle.periodic.pve_sync', {})) as Record<string, unknown>;
    assert.equal(r2.nodes_offline, 1);
    assert.equal(r2.vms_missing, 0, 'a missing VM is counted once');
    const [[b]] = (await pool.query<RowDataPacket[]>("SELECT status FROM pve_nodes WHERE name = 'pve-b'")) as unknown as [[RowDataPacket]];
    assert.equal(b!.status, 'offline');
  } finally {
    sim.faults.nodeDown(sim.state, 'pve-b', undefined);
  }
});

test('pve_sync writes a time-stamped node snapshot to MongoDB', { skip: process.env.MONGODB_URL ? false : 'MONGODB_URL is not set: no MongoDB server to write to here' }, async () => {
  const { MongoClient } = await import('mongodb');
  const url = process.env.MONGODB_URL!;
  const mongoConfig = loadConfig({ ...env, MONGODB_URL: url });
  const s = createTaskServices({ config: mongoConfig, pool, redis: fx.redis });
  const reg = new TaskRegistry();
  const t = new TaskTracker({ pool, redis: fx.redis, reconciler: { interval: 3_600_000 } });
  registerOpenVleTasks(reg, t, s);
  const queue = uniq('pve_periodic_mongo');
  const w = fx.worker([queue], reg);
  const before = new Date();
  try {
    const job = await new Queue(queue, fx.redis).enqueue('openvle.periodic.pve_sync', { kwargs: {} });
    assert.equal(await ended(job), 'finished');
    assert.equal(((await job.returnValue()) as { snapshot: boolean }).snapshot, true);
    const mc = new MongoClient(url);
    try {
      await mc.connect();
      const dbName = new URL(url.replace(/^mongodb(\+srv)?:/, 'http:')).pathname.slice(1) || 'openvle';
      const doc = await mc.db(dbName).collection('pve_node_snapshots').findOne({ taken_at: { $gte: before } });
      assert.ok(doc, 'a snapshot taken by this sync');
      assert.deepEqual((doc.nodes as Array<{ name: string }>).map((n) => n.name).sort(), ['pve-a', 'pve-b']);
    } finally {
      await mc.close();
    }
  } finally {
    w.stop();
    await w.done;
    await t.close();
    await s.close();
  }
});

test('pve_sync with an unreachable MongoDB: MariaDB is synced, the job fails naming MongoDB without its password', async () => {
  const url = `mongodb://openvle:mongo-s3cret-pw@127.0.0.1:${await freePort()}/openvle`;
  const s = createTaskServices({ config: loadConfig({ ...env, MONGODB_URL: url }), pool, redis: fx.redis, clients: { proxmox: { taskPoll: { minMs: 20, maxMs: 50 } } } });
  const t = new TaskTracker({ pool, redis: fx.redis, reconciler: { interval: 3_600_000 } });
  const reg = new TaskRegistry();
  registerOpenVleTasks(reg, t, s);
  const queue = uniq('pve_periodic_nomongo');
  const w = fx.worker([queue], reg);
  t.attach(w);
  try {
    await pool.query('UPDATE pve_nodes SET synced_at = NULL');
    const job = await new Queue(queue, fx.redis).enqueue('openvle.periodic.pve_sync', { kwargs: {} });
    assert.equal(await ended(job), 'failed');
    const exc = (await job.latestResult())?.excString ?? '';
    assert.match(exc, /MongoDB node snapshot not written/);
    assert.doesNotMatch(exc, /mongo-s3cret-pw/);
    const [rows] = await pool.query<RowDataPacket[]>('SELECT name FROM pve_nodes WHERE synced_at IS NOT NULL');
    assert.equal(rows.length, 2, 'the nodes were synced before the snapshot was tried');
  } finally {
    w.stop();
    await w.done;
    await t.close();
    await s.close();
  }
});

test('SIGKILL of the clone worker process while Proxmox clones: a new worker process finishes the job, exactly one VM', async () => {
  const name = uniq('killed').replace(/_/g, '-');
  const fixture = join(import.meta.dirname, '../../fixtures/openvle-pve-worker.ts');
  const spawnWorker = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, fx.url, JSON.stringify(env), 'pve_vm_clone_kill'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    return Object.assign(child, { exited: new Promise((r) => child.once('exit', r)) });
  };
  sim.state.setTaskDuration('qmclone', 8000);
  try {
    // Its own queue, so that this file's in-process worker does not take the job.
    const job = await new Queue('pve_vm_clone_kill', fx.redis).enqueue('openvle.pve.clone_vm', { kwargs: { template_vmid: TEMPLATE, name }, retry: new Retry({ max: 2, interval: [0] }) });
    const first = spawnWorker();
    // Killed while the Proxmox clone task runs: its UPID is persisted and the VM is still locked.
    const upid = await until(async () => (await vmRow(name))?.cloneUpid ?? undefined, WAIT, 50);
    assert.equal(sim.state.vmsNamed(name)[0]?.lock, 'clone');
    first.kill('SIGKILL');
    await first.exited;
    const second = spawnWorker();
    try {
      assert.equal(await ended(job), 'finished');
      const r = (await job.returnValue()) as { vmid: number; node: string };
      assert.equal(sim.state.vmsNamed(name).length, 1, 'exactly one VM of that name');
      assert.equal(sim.state.clonesNamed(name), 1, 'the clone was not started again');
      const row = (await vmRow(name))!;
      assert.equal(row.cloneUpid, upid, 'the second worker polled the same task');
      assert.equal(row.vmid, r.vmid);
      // The Task's end is written by the worker process after the job's: wait for it.
      const taskId = (await tracker.store.findByJobId(job.id))!.id;
      await until(async () => (await tracker.store.getTask(taskId))?.status === 'success', WAIT, 50);
      const subTasks = await tracker.store.subTasks(taskId);
      assert.deepEqual(subTasks.map((s) => [s.attempt, s.status, s.errorMessage]), [[1, 'error', 'worker died'], [2, 'success', null]]);
    } finally {
      second.kill('SIGTERM');
      await second.exited;
    }
  } finally {
    sim.state.setTaskDuration('qmclone', 100);
  }
});

test('the same with the production wiring: `openvle-rq worker --role worker-vm-clone` SIGKILLed mid-clone, a second one finishes: one VM', async () => {
  // A Redis of this test's own: the file's in-process worker also serves pve_vm_clone and must not take the job.
  const redis = await testRedis();
  const conn = createRedis(redis.url);
  const name = uniq('served');
  const cliEnv: NodeJS.ProcessEnv = { ...process.env, ...env, NO_COLOR: '1' };
  for (const k of ['RQ_REDIS_URL', 'REDIS_URL', 'NODE_OPTIONS', 'SERVICE_ROLE', 'MONGODB_URL']) delete cliEnv[k];
  const serve = () => {
    // `worker --role` is `serve`'s wiring plus the worker's flags: heartbeats every second, so a
    // killed worker is found dead within ~20 s instead of minutes.
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', '--role', 'worker-vm-clone', '--url', redis.url, '--job-monitoring-interval', '1'], {
      env: cliEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    children.push(child);
    return Object.assign(child, { exited: new Promise((r) => child.once('exit', r)), stderr: () => stderr });
  };
  sim.state.setTaskDuration('qmclone', 8000);
  try {
    const job = await new Queue('pve_vm_clone', conn).enqueue('openvle.pve.clone_vm', { kwargs: { template_vmid: TEMPLATE, name } });
    const first = serve();
    const upid = await until(async () => {
      if (first.exitCode !== null) assert.fail(`the worker exited: ${first.stderr()}`);
      return (await vmRow(name))?.cloneUpid ?? undefined;
    }, WAIT, 100);
    assert.equal(sim.state.vmsNamed(name)[0]?.lock, 'clone', 'killed while Proxmox clones');
    first.kill('SIGKILL');
    await first.exited;
    const second = serve();
    try {
      // Found dead (~20 s), retried on the queue's policy (10 s), then the clone task's end is polled.
      let status: string | null = null;
      await until(async () => ['finished', 'failed'].includes((status = await job.getStatus()) ?? ''), 180_000, 200);
      assert.equal(status, 'finished', (await job.latestResult())?.excString ?? '');
      assert.equal(sim.state.vmsNamed(name).length, 1, 'exactly one VM of that name');
      assert.equal(sim.state.clonesNamed(name), 1, 'the clone was not started again');
      const row = (await vmRow(name))!;
      assert.equal(row.cloneUpid, upid);
      assert.equal(row.vmid, ((await job.returnValue()) as { vmid: number }).vmid);
      const taskId = (await tracker.store.findByJobId(job.id))!.id;
      await until(async () => (await tracker.store.getTask(taskId))?.status === 'success', WAIT, 100);
      assert.deepEqual((await tracker.store.subTasks(taskId)).map((s) => [s.attempt, s.status, s.errorMessage]), [[1, 'error', 'worker died'], [2, 'success', null]]);
    } finally {
      second.kill('SIGTERM');
      await second.exited;
    }
  } finally {
    sim.state.setTaskDuration('qmclone', 100);
    conn.disconnect();
    await redis.close();
  }
});
