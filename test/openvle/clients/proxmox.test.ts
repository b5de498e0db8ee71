// The Proxmox client against the simulator (a real HTTP(S) server): every row of
// external-apis.md §1.6 the simulator reproduces, TLS policies, timeouts and aborts,
// and the idempotent clone recipe across crashes and id races.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UnrecoverableError, type Logger } from '../../../src/index.js';
import { ExternalError, failureClassOf, PermanentExternalError } from '../../../src/openvle/clients/failure.js';
import {
  classifyProxmoxFailure,
  cloneVmIdempotent,
  deleteVmIdempotent,
  parseUpid,
  ProxmoxClient,
  proxmoxConfigFromEnv,
  TASK_FAILED,
  type ProxmoxClientOptions,
  type ProxmoxConfig,
} from '../../../src/openvle/clients/proxmox/index.js';
import { ConfigError, EnvReader } from '../../../src/openvle/config/env.js';
import { startProxmoxSim, type ProxmoxSim } from '../../../src/sim/proxmox/index.js';
import { until } from '../../helpers/util.js';

function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (m: string) => void lines.push(m);
  return { lines, debug: push, info: push, warning: push, error: push };
}

function configFor(sim: ProxmoxSim, extra: Partial<ProxmoxConfig> = {}): ProxmoxConfig {
  return {
    apiUrl: sim.apiUrl,
    user: sim.token.user,
    tokenName: sim.token.tokenId,
    tokenValue: sim.token.secret,
    verifySsl: true,
    vmsPool: 'OpenVLE-VMs',
    fullCloneDefault: false,
    ...extra,
  };
}

const FAST: ProxmoxClientOptions = { taskPoll: { minMs: 5, maxMs: 15 }, timeoutMs: 10_000 };

/** The rejection of `p`, which must reject. */
async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

describe('proxmoxConfigFromEnv', () => {
  it('reads PVE_HOSTNAME as https on 8006, applies defaults and accepts True/False', () => {
    const r = new EnvReader({
      PVE_HOSTNAME: 'pve1.lab.example', PVE_USER: 'labsvc@pve', PVE_TOKEN_NAME: 'provisioner', PVE_TOKEN_VALUE: '"3f2b9c1e"',
      PVE_VERIFY_SSL: 'False', PVE_VMS_FULL_CLONE_DEFAULT: 'true',
    });
    const c = proxmoxConfigFromEnv(r);
    r.check();
    assert.equal(c.apiUrl, 'https://pve1.lab.example:8006/api2/json');
    assert.equal(c.tokenValue, '3f2b9c1e');
    assert.equal(c.verifySsl, false);
    assert.equal(c.fullCloneDefault, true);
    assert.equal(c.vmsPool, 'OpenVLE-VMs');
  });

  it('lets PVE_URL win over PVE_HOSTNAME, keeping an explicit /api2/json', () => {
    const base = { PVE_USER: 'a@pve', PVE_TOKEN_NAME: 't1', PVE_TOKEN_VALUE: 'x' };
    const c1 = proxmoxConfigFromEnv(new EnvReader({ ...base, PVE_HOSTNAME: 'h:1', PVE_URL: 'http://127.0.0.1:9/' }));
    assert.equal(c1.apiUrl, 'http://127.0.0.1:9/api2/json');
    const c2 = proxmoxConfigFromEnv(new EnvReader({ ...base, PVE_URL: 'https://proxy/pve/api2/json' }));
    assert.equal(c2.apiUrl, 'https://proxy/pve/api2/json');
    assert.equal(proxmoxConfigFromEnv(new EnvReader({ ...base, PVE_HOSTNAME: 'h:8443' })).apiUrl, 'https://h:8443/api2/json');
  });

  it('reports every bad variable at once, one line each, never echoing the token', () => {
    const r = new EnvReader({
      PVE_USER: 'labsvc@pve!provisioner', PVE_TOKEN_VALUE: 'sekrit value', PVE_VERIFY_SSL: 'maybe',
      PVE_FINGERPRINT: 'AA:BB', PVE_CA_FILE: '/nonexistent/ca.pem', PVE_TOKEN_NAME: 'has space',
    });
    proxmoxConfigFromEnv(r);
    const err = (() => {
      try {
        r.check();
      } catch (e) {
        return e as ConfigError;
      }
      return undefined;
    })();
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    for (const name of ['PVE_HOSTNAME or PVE_URL', 'PVE_USER', 'PVE_TOKEN_NAME', 'PVE_TOKEN_VALUE', 'PVE_VERIFY_SSL', 'PVE_FINGERPRINT', 'PVE_CA_FILE']) {
      assert.match(text, new RegExp(name), name);
    }
    assert.equal(err.problems.length, 7);
    assert.doesNotMatch(text, /sekrit/);
  });
});

describe('parseUpid', () => {
  it('splits the nine fields and rejects anything else', () => {
    const u = parseUpid('UPID:pve-a:0019F2C4:02A7E15B:66F1A0D2:qmclone:9000:labsvc@pve!provisioner:');
    assert.deepEqual(
      { node: u.node, pid: u.pid, type: u.type, id: u.id, user: u.user, starttime: u.starttime },
      { node: 'pve-a', pid: 0x19f2c4, type: 'qmclone', id: '9000', user: 'labsvc@pve!provisioner', starttime: 0x66f1a0d2 },
    );
    assert.throws(() => parseUpid('UPID:pve-a:0019F2C4:02A7E15B:66F1A0D2:qmclone:9000:labsvc@pve'), TypeError);
    assert.throws(() => parseUpid('hello'), TypeError);
  });
});

describe('Proxmox client against the simulator', () => {
  let sim: ProxmoxSim;
  let client: ProxmoxClient;
  let log: ReturnType<typeof memoryLogger>;
  before(async () => {
    sim = await startProxmoxSim();
    sim.state.addTemplate(9000, 'pve-a', 'tpl-ubuntu-2404');
    log = memoryLogger();
    client = new ProxmoxClient(configFor(sim), { ...FAST, logger: log });
  });
  after(async () => {
    await client.close();
    await sim.close();
  });

  it('reads nextid as a string or a number, resources, templates, nodes and node status', async () => {
    assert.equal(await client.nextId(), 100);
    sim.state.nextIdAsNumber = true;
    try {
      assert.equal(await client.nextId(), 100);
    } finally {
      sim.state.nextIdAsNumber = false;
    }
    assert.deepEqual((await client.templates()).map((t) => [t.vmid, t.node]), [[9000, 'pve-a']]);
    assert.deepEqual((await client.nodes()).map((n) => n.node).sort(), ['pve-a', 'pve-b']);
    const st = await client.nodeStatus('pve-b');
    assert.equal(typeof (st.memory as { total: number }).total, 'number');
    assert.equal((await client.findVmByName('tpl-ubuntu-2404'))?.vmid, 9000);
    assert.equal(await client.findVmByName('nope'), undefined);
  });

  it('sends form bodies with 1/0 booleans, config changes with URL-encoded sshkeys, and reads them back', async () => {
    sim.state.addVm({ vmid: 300, node: 'pve-a', name: 'cfg' });
    await client.setVmConfig('pve-a', 300, { description: 'job 42', onboot: true, sshkeys: 'ssh-ed25519 AAAA x@y' });
    const cfg = await client.vmConfig('pve-a', 300);
    assert.equal(cfg.description, 'job 42');
    assert.equal(cfg.onboot, '1');
    assert.equal(cfg.sshkeys, encodeURIComponent('ssh-ed25519 AAAA x@y'));
    const stale = await rejection(client.setVmConfig('pve-a', 300, { description: 'again', digest: '0'.repeat(40) }));
    assert.equal(stale.failureClass, 'replan');
  });

  it('classifies power actions: start, start again (already_done), stop twice, reset of a stopped VM, delete running, delete, delete again', async () => {
    sim.state.addVm({ vmid: 310, node: 'pve-a', name: 'pow' });
    const upids: string[] = [];
    const s1 = await client.startVm('pve-a', 310, { onTask: (u) => void upids.push(u) });
    assert.equal(s1.outcome, 'done');
    assert.equal(upids[0], s1.upid);
    assert.equal((await client.vmStatus('pve-a', 310)).status, 'running');
    const s2 = await client.startVm('pve-a', 310);
    assert.equal(s2.outcome, 'already_done');
    assert.equal(s2.exitstatus, 'VM 310 already running');
    const del = await rejection(client.deleteVm('pve-a', 310));
    assert.ok(del instanceof ExternalError);
    assert.equal(del.failureClass, 'replan');
    assert.equal(del.details.status, 500);
    assert.equal((await client.stopVm('pve-a', 310)).outcome, 'done');
    assert.equal((await client.stopVm('pve-a', 310)).outcome, 'done');
    assert.equal((await client.shutdownVm('pve-a', 310)).outcome, 'done');
    const reset = await rejection(client.resetVm('pve-a', 310));
    assert.ok(reset instanceof PermanentExternalError);
    assert.ok(reset instanceof UnrecoverableError);
    assert.match(reset.message, /VM 310 not running/);
    assert.equal((await client.deleteVm('pve-a', 310)).outcome, 'done');
    assert.equal(sim.state.vms.has(310), false);
    const again = await client.deleteVm('pve-a', 310);
    assert.equal(again.outcome, 'already_done');
    const tpl = await rejection(client.startVm('pve-a', 9000));
    assert.equal(tpl.failureClass, 'permanent');
    assert.equal(tpl.details.code, TASK_FAILED);
  });

  it('treats a task ending WARNINGS: n as success', async () => {
    sim.state.addVm({ vmid: 315, node: 'pve-b', name: 'warn' });
    sim.faults.failNextTask('qmstart', 'WARNINGS: 2');
    const r = await client.startVm('pve-b', 315);
    assert.deepEqual([r.outcome, r.exitstatus], ['done', 'WARNINGS: 2']);
    const log = await client.taskLog(r.upid!);
    assert.equal(log.at(-1)?.t, 'TASK WARNINGS: 2');
  });

  it('classifies a shutdown that times out in the guest as replan, and a paused VM as replan', async () => {
    sim.state.addVm({ vmid: 320, node: 'pve-a', name: 'hung', status: 'running' });
    sim.faults.failNextTask('qmshutdown', 'VM quit/powerdown failed - got timeout');
    const err = await rejection(client.shutdownVm('pve-a', 320));
    assert.equal(err.failureClass, 'replan');
    sim.state.vms.get(320)!.config.qmpstatus = 'paused';
    assert.equal((await rejection(client.shutdownVm('pve-a', 320))).failureClass, 'replan');
    assert.equal((await client.shutdownVm('pve-a', 320, { forceStop: true })).outcome, 'done');
  });

  it('classifies locks, quorum loss and proxy failures as transient', async () => {
    sim.state.setTaskDuration('qmclone', 2000);
    try {
      const upid = await client.clone('pve-a', 9000, { newid: 330, name: 'locked-one' });
      const locked = await rejection(client.setVmConfig('pve-a', 330, { description: 'x' }));
      assert.ok(locked instanceof ExternalError);
      assert.equal(locked.failureClass, 'transient');
      assert.match(locked.message, /VM 330 is locked \(clone\)/);
      const startLocked = await rejection(client.startVm('pve-a', 330));
      assert.equal(startLocked.failureClass, 'transient');
      assert.equal((await client.waitTask(upid)).outcome, 'done');
    } finally {
      sim.state.setTaskDuration('qmclone', 30);
    }
    sim.faults.quorumLost = true;
    try {
      assert.equal((await rejection(client.startVm('pve-a', 330))).failureClass, 'transient');
    } finally {
      sim.faults.quorumLost = false;
    }
    for (const code of [595, 596] as const) {
      sim.faults.nodeDown(sim.state, 'pve-b', code);
      const e = await rejection(client.vmStatus('pve-b', 330));
      assert.ok(e instanceof ExternalError);
      assert.equal(e.failureClass, 'transient');
      assert.equal(e.details.status, code);
    }
    sim.faults.nodeDown(sim.state, 'pve-b', undefined);
  });

  it('classifies clone task failures: cfs-lock and file-lock timeouts transient, a lost id replan; sync errors by their text', async () => {
    sim.faults.cloneCfsLockTimeouts = 1;
    const u1 = await client.clone('pve-a', 9000, { newid: 340, name: 'cfs' });
    const e1 = await rejection(client.waitTask(u1));
    assert.equal(e1.failureClass, 'transient');
    assert.equal(e1.details.code, TASK_FAILED);
    assert.match(e1.message, /cfs-lock 'storage-local-lvm' error: got lock request timeout/);
    sim.faults.cloneFileLockTimeouts = 1;
    const u2 = await client.clone('pve-a', 9000, { newid: 341 });
    assert.equal((await rejection(client.waitTask(u2))).failureClass, 'transient');
    sim.faults.configAlreadyExists = 1;
    assert.equal((await rejection(client.clone('pve-a', 9000, { newid: 342 }))).failureClass, 'replan');
    const taken = await rejection(client.nextId({ vmid: 9000 }));
    assert.equal(taken.failureClass, 'replan');
    const wrongNode = await rejection(client.clone('pve-b', 9000, { newid: 343 }));
    assert.equal(wrongNode.failureClass, 'permanent');
    const linked = await rejection(client.clone('pve-a', 9000, { newid: 343, storage: 'local-lvm' }));
    assert.equal(linked.failureClass, 'permanent');
    assert.match(linked.message, /storage: parameter 'storage' not allowed for linked clones/);
    const pool = await rejection(client.clone('pve-a', 9000, { newid: 343, pool: 'missing' }));
    assert.equal(pool.failureClass, 'permanent_config');
    const badNode = await rejection(client.migrateVm('pve-a', 9000, 'pve-z'));
    assert.equal(badNode.failureClass, 'permanent_config');
  });

  it('migrates and addresses the VM under its new node', async () => {
    sim.state.addVm({ vmid: 350, node: 'pve-a', name: 'mover', status: 'running' });
    assert.equal((await rejection(client.migrateVm('pve-a', 350, 'pve-b'))).failureClass, 'permanent');
    const r = await client.migrateVm('pve-a', 350, 'pve-b', { online: true });
    assert.equal(r.outcome, 'done');
    assert.equal(parseUpid(r.upid!).node, 'pve-a');
    assert.equal((await client.findVm(350))?.node, 'pve-b');
    assert.equal((await client.vmStatus('pve-b', 350)).status, 'running');
  });

  it('403 is permanent_config; the raw answer is logged', async () => {
    sim.faults.forbid('/nodes/pve-a/qemu/9000/clone', '/vms/9000', 'VM.Clone');
    try {
      const e = await rejection(client.clone('pve-a', 9000, { newid: 360 }));
      assert.ok(e instanceof PermanentExternalError);
      assert.equal(e.failureClass, 'permanent_config');
      assert.equal(e.details.status, 403);
      assert.ok(log.lines.some((l) => l.includes('403 Permission check failed (/vms/9000, VM.Clone)')));
    } finally {
      sim.faults.forbidden.clear();
    }
  });

  it('keeps polling through 595 until the node answers again', async () => {
    sim.state.setTaskDuration('qmclone', 300);
    try {
      const upid = await client.clone('pve-a', 9000, { newid: 370, name: 'poll-through' });
      sim.faults.nodeDown(sim.state, 'pve-a', 595);
      const done = client.waitTask(upid);
      const polls = () => sim.requests.filter((r) => r.path.includes('/tasks/')).length;
      const before = polls();
      await until(() => polls() >= before + 3, 20_000);
      sim.faults.nodeDown(sim.state, 'pve-a', undefined);
      assert.equal((await done).outcome, 'done');
      assert.ok(log.lines.some((l) => /polling failed, will poll again/.test(l)));
    } finally {
      sim.faults.nodeDown(sim.state, 'pve-a', undefined);
      sim.state.setTaskDuration('qmclone', 30);
    }
  });

  it('gives up polling at the deadline as transient, and a persisted UPID can be polled again later', async () => {
    sim.state.setTaskDuration('qmclone', 1500);
    try {
      const upid = await client.clone('pve-a', 9000, { newid: 380 });
      const e = await rejection(client.waitTask(upid, { deadlineMs: 50 }));
      assert.equal(e.failureClass, 'transient');
      assert.match(e.message, /still running/);
      assert.equal((await client.waitTask(upid, { deadlineMs: 20_000 })).outcome, 'done');
    } finally {
      sim.state.setTaskDuration('qmclone', 30);
    }
  });

  it('times out a slow call as transient, and an abort rejects with the signal reason, unclassified', async () => {
    sim.faults.slow.set('/cluster/nextid', 3000);
    try {
      const e = await rejection(client.nextId({ timeoutMs: 150 }));
      assert.ok(e instanceof ExternalError);
      assert.equal(e.failureClass, 'transient');
      assert.match(e.message, /timed out after 150 ms/);
      const ac = new AbortController();
      const p = client.nextId({ signal: ac.signal });
      const reason = new Error('job cancelled');
      setImmediate(() => ac.abort(reason));
      assert.equal(await rejection(p), reason);
    } finally {
      sim.faults.slow.clear();
    }
    sim.state.setTaskDuration('qmclone', 5000);
    try {
      const upid = await client.clone('pve-a', 9000, { newid: 390 });
      const ac = new AbortController();
      const p = client.waitTask(upid, { signal: ac.signal });
      const reason = new Error('job cancelled while polling');
      await until(() => sim.requests.some((r) => r.path.includes(encodeURIComponent(upid))), 20_000);
      ac.abort(reason);
      assert.equal(await rejection(p), reason);
      assert.equal(failureClassOf(reason), undefined);
    } finally {
      sim.state.setTaskDuration('qmclone', 30);
    }
  });

  it('a wrong token is permanent_config, and the token never reaches the log or the error', async () => {
    const lg = memoryLogger();
    const bad = new ProxmoxClient(configFor(sim, { tokenValue: 'wrong-secret-value' }), { ...FAST, logger: lg });
    try {
      const e = await rejection(bad.nextId());
      assert.ok(e instanceof PermanentExternalError);
      assert.equal(e.failureClass, 'permanent_config');
      assert.equal(e.details.status, 401);
      assert.match(e.message, /Authentication failed!/);
      const all = lg.lines.join('\n') + e.message + JSON.stringify(e.details);
      assert.doesNotMatch(all, /wrong-secret-value/);
      assert.ok(lg.lines.length > 0);
    } finally {
      await bad.close();
    }
  });

  it('works against a pre-8.4 server (no message field): texts come from the reason phrase', async () => {
    const old = await startProxmoxSim({ messageField: false, tokens: [sim.token] });
    const c = new ProxmoxClient(configFor(old), FAST);
    try {
      old.state.addVm({ vmid: 100, node: 'pve-a', name: 'x', status: 'running' });
      assert.equal((await rejection(c.deleteVm('pve-a', 100))).failureClass, 'replan');
      assert.equal((await c.deleteVm('pve-a', 555)).outcome, 'already_done');
    } finally {
      await c.close();
      await old.close();
    }
  });
});

describe('Proxmox client TLS', () => {
  let sim: ProxmoxSim;
  let dir: string;
  before(async () => {
    sim = await startProxmoxSim({ https: true });
    dir = mkdtempSync(join(tmpdir(), 'pve-tls-'));
  });
  after(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function nextIdWith(extra: Partial<ProxmoxConfig>): Promise<number> {
    const c = new ProxmoxClient(configFor(sim, extra), FAST);
    try {
      return await c.nextId();
    } finally {
      await c.close();
    }
  }

  it('verifies by default: a self-signed server is refused as permanent_config', async () => {
    const e = await rejection(nextIdWith({}));
    assert.ok(e instanceof PermanentExternalError, String(e));
    assert.equal(e.failureClass, 'permanent_config');
  });

  it('trusts a CA file', async () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, sim.tls!.cert);
    assert.ok((await nextIdWith({ caFile: ca })) >= 100);
  });

  it('trusts a pinned fingerprint, and refuses a wrong one', async () => {
    assert.ok((await nextIdWith({ fingerprint: sim.tls!.fingerprint256 })) >= 100);
    const wrong = sim.tls!.fingerprint256.replace(/^../, sim.tls!.fingerprint256.startsWith('00') ? '11' : '00');
    const e = await rejection(nextIdWith({ fingerprint: wrong }));
    assert.equal(e.failureClass, 'permanent_config');
    assert.match(e.message, /does not match PVE_FINGERPRINT/);
  });

  it('works from its PVE_* variables alone (as printed by the simulator started by hand)', async () => {
    sim.state.addTemplate(9100, 'pve-b', 'tpl-env');
    const reader = new EnvReader({
      PVE_URL: `"${sim.url}"`, PVE_USER: sim.token.user, PVE_TOKEN_NAME: sim.token.tokenId, PVE_TOKEN_VALUE: sim.token.secret,
      PVE_FINGERPRINT: sim.tls!.fingerprint256.toLowerCase(), PVE_VMS_FULL_CLONE_DEFAULT: 'True',
    });
    const config = proxmoxConfigFromEnv(reader);
    reader.check();
    const c = new ProxmoxClient(config, FAST);
    try {
      const r = await cloneVmIdempotent(c, { templateVmid: 9100, name: 'from-env' });
      const vm = sim.state.vms.get(r.vmid)!;
      assert.equal(vm.node, 'pve-b');
      assert.equal(vm.pool, 'OpenVLE-VMs');
      assert.equal(vm.clonedFrom?.full, true);
    } finally {
      await c.close();
    }
  });

  it('skips verification only when configured', async () => {
    assert.ok((await nextIdWith({ verifySsl: false })) >= 100);
  });
});

describe('cloneVmIdempotent', () => {
  let sim: ProxmoxSim;
  let client: ProxmoxClient;
  before(async () => {
    sim = await startProxmoxSim();
    sim.state.addTemplate(9000, 'pve-a', 'tpl-ubuntu-2404');
    client = new ProxmoxClient(configFor(sim), FAST);
  });
  after(async () => {
    await client.close();
    await sim.close();
  });
  const spec = (name: string) => ({ templateVmid: 9000, name, description: `job ${name}`, full: false, pool: 'OpenVLE-VMs' });
  const clonePosts = () => sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/clone')).length;

  it('clones once, reporting the VMID and UPID as soon as known', async () => {
    const seen: string[] = [];
    const r = await cloneVmIdempotent(client, { ...spec('lab-a'), targetNode: 'pve-b' }, {
      onReserved: (id) => void seen.push(`vmid ${id}`),
      onTask: (u) => void seen.push(`upid ${parseUpid(u).type}`),
    });
    assert.equal(r.adopted, false);
    assert.equal(r.node, 'pve-b');
    assert.deepEqual(seen, [`vmid ${r.vmid}`, 'upid qmclone']);
    const vm = sim.state.vms.get(r.vmid)!;
    assert.equal(vm.name, 'lab-a');
    assert.equal(vm.pool, 'OpenVLE-VMs');
    assert.equal(vm.lock, undefined);
    // Run again (a retried job that lost its persisted ids): the VM is adopted, not cloned twice.
    const again = await cloneVmIdempotent(client, spec('lab-a'));
    assert.deepEqual(again, { vmid: r.vmid, node: 'pve-b', adopted: true });
    assert.equal(sim.state.clonesNamed('lab-a'), 1);
  });

  it('resumes polling a persisted UPID after a crash instead of cloning again', async () => {
    sim.state.setTaskDuration('qmclone', 400);
    try {
      const persisted: { vmid?: number; upid?: string } = {};
      const crash = new AbortController();
      const first = cloneVmIdempotent(client, spec('lab-b'), {
        signal: crash.signal,
        onReserved: (id) => void (persisted.vmid = id),
        onTask: (u) => {
          persisted.upid = u;
          crash.abort(new Error('worker killed'));
        },
      });
      assert.equal((await rejection(first)).message, 'worker killed');
      assert.equal(sim.state.vms.get(persisted.vmid!)?.lock, 'clone');
      const posts = clonePosts();
      const polls = () => sim.requests.filter((q) => q.path.endsWith(`/tasks/${encodeURIComponent(persisted.upid!)}/status`)).length;
      const polled = polls();
      const r = await cloneVmIdempotent(client, spec('lab-b'), { knownVmid: persisted.vmid, knownUpid: persisted.upid });
      assert.deepEqual(r, { vmid: persisted.vmid, node: 'pve-a', adopted: true });
      assert.equal(clonePosts(), posts, 'no second clone call');
      assert.ok(polls() > polled, 'the persisted UPID was polled');
      assert.equal(sim.state.clonesNamed('lab-b'), 1);
    } finally {
      sim.state.setTaskDuration('qmclone', 30);
    }
  });

  it('adopts a VM still under its clone when the crash came before the UPID was persisted', async () => {
    sim.state.setTaskDuration('qmclone', 400);
    try {
      const crash = new AbortController();
      const first = cloneVmIdempotent(client, spec('lab-c'), { signal: crash.signal, onTask: () => crash.abort(new Error('crash')) });
      await rejection(first);
      const r = await cloneVmIdempotent(client, spec('lab-c'), { lockPollMs: 20 });
      assert.equal(r.adopted, true);
      assert.equal(sim.state.vms.get(r.vmid)?.lock, undefined, 'returned only after the clone finished');
      assert.equal(sim.state.clonesNamed('lab-c'), 1);
    } finally {
      sim.state.setTaskDuration('qmclone', 30);
    }
  });

  it('re-plans on nextid races and config-file collisions, bounded', async () => {
    sim.faults.nextIdTaken = 2;
    sim.faults.configAlreadyExists = 1;
    const r = await cloneVmIdempotent(client, spec('lab-d'));
    assert.equal(sim.state.vms.get(r.vmid)?.name, 'lab-d');
    assert.equal(sim.state.vmsNamed('lab-d').length, 1);
    sim.faults.nextIdTaken = 10;
    try {
      const e = await rejection(cloneVmIdempotent(client, spec('lab-e'), { maxReplans: 2 }));
      assert.ok(e instanceof ExternalError);
      assert.equal(e.failureClass, 'transient');
      assert.match(e.message, /gave up after repeated VMID collisions/);
    } finally {
      sim.faults.nextIdTaken = 0;
    }
  });

  it('two jobs cloning at once get distinct VMs', async () => {
    sim.state.setTaskDuration('qmclone', 100);
    try {
      const [a, b] = await Promise.all([cloneVmIdempotent(client, spec('lab-f')), cloneVmIdempotent(client, spec('lab-g'))]);
      assert.notEqual(a.vmid, b.vmid);
      assert.equal(sim.state.vmsNamed('lab-f').length, 1);
      assert.equal(sim.state.vmsNamed('lab-g').length, 1);
    } finally {
      sim.state.setTaskDuration('qmclone', 30);
    }
  });

  it('a clone task that failed on a lock timeout is transient; the retry with its UPID clones afresh', async () => {
    sim.faults.cloneCfsLockTimeouts = 1;
    const persisted: { vmid?: number; upid?: string } = {};
    const e = await rejection(cloneVmIdempotent(client, spec('lab-h'), { onReserved: (v) => void (persisted.vmid = v), onTask: (u) => void (persisted.upid = u) }));
    assert.equal(e.failureClass, 'transient');
    assert.equal(sim.state.vmsNamed('lab-h').length, 0);
    const r = await cloneVmIdempotent(client, spec('lab-h'), { knownVmid: persisted.vmid, knownUpid: persisted.upid });
    assert.equal(r.adopted, false);
    assert.equal(sim.state.vmsNamed('lab-h').length, 1);
  });

  it('deletes a running VM wherever it now is (stop, then delete), and a second deletion is already_done', async () => {
    sim.state.addVm({ vmid: 800, node: 'pve-b', name: 'to-delete', status: 'running' });
    const tasks: string[] = [];
    const r = await deleteVmIdempotent(client, 800, { onTask: (u) => void tasks.push(parseUpid(u).type) });
    assert.deepEqual(r, { outcome: 'deleted', node: 'pve-b' });
    assert.deepEqual(tasks, ['qmstop', 'qmdestroy']);
    assert.equal(sim.state.vms.has(800), false);
    assert.deepEqual(await deleteVmIdempotent(client, 800), { outcome: 'already_done' });
  });

  it('a missing template is permanent', async () => {
    const e = await rejection(cloneVmIdempotent(client, { ...spec('lab-i'), templateVmid: 9999 }));
    assert.ok(e instanceof PermanentExternalError);
    assert.equal(e.failureClass, 'permanent');
  });
});

describe('classifyProxmoxFailure', () => {
  it('maps the §1.6 rows the simulator does not produce', () => {
    const c = (message: string, op: Parameters<typeof classifyProxmoxFailure>[0]['op'] = 'task', status?: number) =>
      classifyProxmoxFailure({ op, message, status });
    assert.equal(c('got timeout'), 'transient');
    assert.equal(c('interrupted by signal'), 'transient');
    assert.equal(c("clone failed: unable to create image: qemu-img: File exists", 'clone'), 'replan');
    assert.equal(c('VM 100 is locked (suspended)', 'start'), 'permanent');
    assert.equal(c("can't remove VM 100 - protection mode enabled", 'delete', 500), 'permanent');
    assert.equal(c('unable to get any free VMID in range [100, 1000000]', 'nextid', 500), 'permanent');
    assert.equal(c('Linked clone feature is not supported for drive', 'clone', 500), 'permanent');
    assert.equal(c("Method 'GET /x' not implemented", 'read', 501), 'permanent');
    assert.equal(c('Errors during TLS negotiation', 'read', 597), 'transient');
    assert.equal(c('unexpected status'), 'permanent');
  });
});
