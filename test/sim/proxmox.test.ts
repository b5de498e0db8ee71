// The Proxmox simulator on its own, against external-apis.md §1 — raw HTTP, exact texts —
// so a client bug and a simulator bug cannot hide each other.
import { strict as assert } from 'node:assert';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { startProxmoxSim, type ProxmoxSim } from '../../src/sim/proxmox/index.js';
import { until } from '../helpers/util.js';

interface Raw {
  status: number;
  reason: string;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

function raw(
  sim: ProxmoxSim,
  method: string,
  path: string,
  opts: { auth?: string | null; body?: string; contentType?: string; headers?: Record<string, string> } = {},
): Promise<Raw> {
  const u = new URL(sim.apiUrl + path);
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const auth = opts.auth === undefined ? sim.authorization : opts.auth;
  if (auth !== null) headers.Authorization = auth;
  if (opts.body !== undefined) {
    headers['Content-Type'] = opts.contentType ?? 'application/x-www-form-urlencoded';
    headers['Content-Length'] = String(Buffer.byteLength(opts.body));
  }
  const req = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(u, { method, headers, ...(u.protocol === 'https:' ? { ca: sim.tls!.cert } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, reason: res.statusMessage ?? '', headers: res.headers, text, json });
      });
    });
    r.on('error', reject);
    if (opts.body !== undefined) r.write(opts.body);
    r.end();
  });
}

const UPID_RE = /^UPID:([^:]+):([0-9A-F]{8}):([0-9A-F]{8,9}):([0-9A-F]{8}):([^:]+):([^:]*):([^:]+):$/;

async function waitStopped(sim: ProxmoxSim, upid: string): Promise<any> {
  const node = upid.split(':')[1]!;
  return until(async () => {
    const r = await raw(sim, 'GET', `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`);
    return r.json.data.status === 'stopped' ? r.json.data : undefined;
  }, 20_000);
}

describe('Proxmox simulator', () => {
  let sim: ProxmoxSim;
  before(async () => {
    sim = await startProxmoxSim();
    sim.state.addTemplate(9000, 'pve-a', 'tpl-ubuntu-2404');
  });
  after(() => sim.close());

  it('answers 401 with an empty body: No ticket without credentials, Authentication failed! for a bad token', async () => {
    const none = await raw(sim, 'GET', '/cluster/nextid', { auth: null });
    assert.equal(none.status, 401);
    assert.equal(none.reason, 'No ticket');
    assert.equal(none.text, '');
    const bad = await raw(sim, 'GET', '/cluster/nextid', { auth: `PVEAPIToken=${sim.token.user}!${sim.token.tokenId}=wrong` });
    assert.equal(bad.status, 401);
    assert.equal(bad.reason, 'Authentication failed!');
    assert.equal(bad.text, '');
  });

  it('serves nextid as a numeric string in the data envelope, and 400 for a taken vmid', async () => {
    const r = await raw(sim, 'GET', '/cluster/nextid');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json;charset=UTF-8');
    assert.deepEqual(r.json, { data: '100' });
    const taken = await raw(sim, 'GET', '/cluster/nextid?vmid=9000');
    assert.equal(taken.status, 400);
    assert.equal(taken.reason, 'Parameter verification failed.');
    assert.deepEqual(taken.json, { data: null, errors: { vmid: 'VM 9000 already exists\n' }, message: 'Parameter verification failed.\n' });
  });

  it('checks parameters like PVE: unknown, missing, form booleans, DNS names; 501 for a DELETE body and unknown paths', async () => {
    const unknown = await raw(sim, 'GET', '/cluster/nextid?bogus=1');
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.errors.bogus, 'property is not defined in schema and the schema does not allow additional properties\n');
    const badBool = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: 'newid=150&full=true' });
    assert.equal(badBool.status, 400);
    assert.equal(badBool.json.errors.full, "type check ('boolean') failed - got 'true'\n");
    const missing = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: 'name=x' });
    assert.equal(missing.json.errors.newid, 'property is missing and it is not optional\n');
    const dns = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: 'newid=150&name=bad_name' });
    assert.equal(dns.json.errors.name, 'invalid format - value does not look like a valid DNS name\n');
    const delBody = await raw(sim, 'DELETE', '/nodes/pve-a/qemu/9000', { body: 'purge=1' });
    assert.equal(delBody.status, 501);
    assert.equal(delBody.reason, "Unexpected content for method 'DELETE'");
    const nope = await raw(sim, 'GET', '/nodes/pve-a/foo');
    assert.equal(nope.status, 501);
    assert.equal(nope.reason, "Method 'GET /nodes/pve-a/foo' not implemented");
    // A JSON body may use true/false.
    const json = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: JSON.stringify({ newid: 151, name: 'json-clone', full: true }), contentType: 'application/json' });
    assert.equal(json.status, 200, json.reason);
    await waitStopped(sim, json.json.data);
    assert.equal(sim.state.vms.get(151)?.clonedFrom?.full, true);
  });

  it('clones as a task: well-formed UPID with the source id, the VM appears at once with lock clone, then unlocks', async () => {
    sim.state.setTaskDuration('qmclone', 400);
    try {
      const r = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: 'newid=200&name=lab-0001&full=0&pool=OpenVLE-VMs&target=pve-b&description=job%201' });
      assert.equal(r.status, 200, r.reason);
      const m = UPID_RE.exec(r.json.data);
      assert.ok(m, r.json.data);
      assert.equal(m[1], 'pve-a');
      assert.equal(m[5], 'qmclone');
      assert.equal(m[6], '9000');
      assert.equal(m[7], 'labsvc@pve!provisioner');
      const cur = await raw(sim, 'GET', '/nodes/pve-b/qemu/200/status/current');
      assert.equal(cur.json.data.lock, 'clone');
      const res = await raw(sim, 'GET', '/cluster/resources?type=vm');
      const entry = res.json.data.find((v: any) => v.vmid === 200);
      assert.equal(entry.lock, 'clone');
      assert.equal(entry.node, 'pve-b');
      assert.equal(entry.pool, 'OpenVLE-VMs');
      const put = await raw(sim, 'PUT', '/nodes/pve-b/qemu/200/config', { body: 'description=x' });
      assert.equal(put.status, 500);
      assert.equal(put.reason, 'VM 200 is locked (clone)');
      assert.equal(put.json.message, 'VM 200 is locked (clone)\n');
      const running = await raw(sim, 'GET', `/nodes/pve-a/tasks/${encodeURIComponent(r.json.data)}/status`);
      assert.equal(running.json.data.status, 'running');
      assert.equal(running.json.data.exitstatus, undefined);
      assert.equal(running.json.data.user, 'labsvc@pve');
      assert.equal(running.json.data.tokenid, 'provisioner');
      const done = await waitStopped(sim, r.json.data);
      assert.equal(done.exitstatus, 'OK');
      const cur2 = await raw(sim, 'GET', '/nodes/pve-b/qemu/200/status/current');
      assert.equal(cur2.json.data.lock, undefined);
      assert.equal(cur2.json.data.status, 'stopped');
      const log = await raw(sim, 'GET', `/nodes/pve-a/tasks/${encodeURIComponent(r.json.data)}/log`);
      assert.equal(log.json.total, log.json.data.length);
      assert.deepEqual(log.json.data.at(-1), { n: log.json.total, t: 'TASK OK' });
      assert.equal(sim.state.clonesNamed('lab-0001'), 1);
      const config = await raw(sim, 'GET', '/nodes/pve-b/qemu/200/config');
      assert.equal(config.json.data.description, 'job 1');
      assert.match(config.json.data.digest, /^[0-9a-f]{40}$/);
    } finally {
      sim.state.setTaskDuration('qmclone', 30);
    }
  });

  it('refuses a clone onto an existing id, unknown source, linked clone with storage, unknown pool', async () => {
    const exists = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: 'newid=9000' });
    assert.equal(exists.status, 500);
    assert.equal(exists.reason, 'unable to create VM 9000: config file already exists');
    const wrongNode = await raw(sim, 'POST', '/nodes/pve-b/qemu/9000/clone', { body: 'newid=300' });
    assert.equal(wrongNode.reason, "Configuration file 'nodes/pve-b/qemu-server/9000.conf' does not exist");
    const storage = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: 'newid=300&storage=local-lvm' });
    assert.equal(storage.json.errors.storage, "parameter 'storage' not allowed for linked clones\n");
    const pool = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: 'newid=300&pool=nope' });
    assert.equal(pool.reason, "pool 'nope' does not exist");
  });

  it('runs power actions and deletion as tasks with the documented outcomes', async () => {
    sim.state.addVm({ vmid: 400, node: 'pve-a', name: 'power-test' });
    const start = await raw(sim, 'POST', '/nodes/pve-a/qemu/400/status/start', { body: '' });
    assert.match(start.json.data, /:qmstart:400:/);
    assert.equal((await waitStopped(sim, start.json.data)).exitstatus, 'OK');
    assert.equal(sim.state.vms.get(400)!.status, 'running');
    const again = await raw(sim, 'POST', '/nodes/pve-a/qemu/400/status/start');
    assert.equal((await waitStopped(sim, again.json.data)).exitstatus, 'VM 400 already running');
    const log = await raw(sim, 'GET', `/nodes/pve-a/tasks/${encodeURIComponent(again.json.data)}/log`);
    assert.equal(log.json.data.at(-1).t, 'TASK ERROR: VM 400 already running');
    const del = await raw(sim, 'DELETE', '/nodes/pve-a/qemu/400?purge=1&destroy-unreferenced-disks=1');
    assert.equal(del.status, 500);
    assert.equal(del.reason, 'VM 400 is running - destroy failed');
    const stop = await raw(sim, 'POST', '/nodes/pve-a/qemu/400/status/stop');
    assert.equal((await waitStopped(sim, stop.json.data)).exitstatus, 'OK');
    const stop2 = await raw(sim, 'POST', '/nodes/pve-a/qemu/400/status/stop');
    assert.equal((await waitStopped(sim, stop2.json.data)).exitstatus, 'OK', 'stopping a stopped VM is a no-op success');
    const reset = await raw(sim, 'POST', '/nodes/pve-a/qemu/400/status/reset');
    assert.equal(reset.status, 500);
    assert.equal(reset.reason, 'VM 400 not running');
    const tpl = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/status/start');
    assert.equal((await waitStopped(sim, tpl.json.data)).exitstatus, "you can't start a vm if it's a template");
    const del2 = await raw(sim, 'DELETE', '/nodes/pve-a/qemu/400?purge=1&destroy-unreferenced-disks=1');
    assert.match(del2.json.data, /:qmdestroy:400:/);
    await waitStopped(sim, del2.json.data);
    const gone = await raw(sim, 'DELETE', '/nodes/pve-a/qemu/400?purge=1');
    assert.equal(gone.status, 500);
    assert.equal(gone.reason, "Configuration file 'nodes/pve-a/qemu-server/400.conf' does not exist");
    const cur = await raw(sim, 'GET', '/nodes/pve-a/qemu/400/status/current');
    assert.equal(cur.reason, "Configuration file 'nodes/pve-a/qemu-server/400.conf' does not exist");
  });

  it('migrates: the task runs on the source node, the VM is under the target node afterwards', async () => {
    sim.state.addVm({ vmid: 500, node: 'pve-a', name: 'mig', status: 'running' });
    const local = await raw(sim, 'POST', '/nodes/pve-a/qemu/500/migrate', { body: 'target=pve-a' });
    assert.equal(local.json.errors.target, 'target is local node.\n');
    const offline = await raw(sim, 'POST', '/nodes/pve-a/qemu/500/migrate', { body: 'target=pve-b' });
    assert.equal(offline.reason, "can't migrate running VM without --online");
    const noNode = await raw(sim, 'POST', '/nodes/pve-a/qemu/500/migrate', { body: 'target=pve-z&online=1' });
    assert.equal(noNode.reason, "no such cluster node 'pve-z'");
    const r = await raw(sim, 'POST', '/nodes/pve-a/qemu/500/migrate', { body: 'target=pve-b&online=1' });
    assert.match(r.json.data, /^UPID:pve-a:.*:qmigrate:500:/);
    await waitStopped(sim, r.json.data);
    assert.equal((await raw(sim, 'GET', '/nodes/pve-b/qemu/500/status/current')).status, 200);
    assert.equal((await raw(sim, 'GET', '/nodes/pve-a/qemu/500/status/current')).status, 500);
  });

  it('ends a task on its Nth status poll when so configured, and logs TASK WARNINGS for a warnings exit', async () => {
    sim.state.taskPolls.qmstart = 3;
    try {
      sim.state.addVm({ vmid: 510, node: 'pve-b', name: 'polled' });
      sim.faults.failNextTask('qmstart', 'WARNINGS: 1');
      const r = await raw(sim, 'POST', '/nodes/pve-b/qemu/510/status/start');
      const path = `/nodes/pve-b/tasks/${encodeURIComponent(r.json.data)}/status`;
      assert.equal((await raw(sim, 'GET', path)).json.data.status, 'running');
      assert.equal((await raw(sim, 'GET', path)).json.data.status, 'running');
      const third = (await raw(sim, 'GET', path)).json.data;
      assert.equal(third.status, 'stopped');
      assert.equal(third.exitstatus, 'WARNINGS: 1');
      const log = await raw(sim, 'GET', `/nodes/pve-b/tasks/${encodeURIComponent(r.json.data)}/log?start=0&limit=50`);
      assert.deepEqual(log.json.data, [{ n: 1, t: 'TASK WARNINGS: 1' }]);
      assert.equal(log.json.total, 1);
    } finally {
      delete sim.state.taskPolls.qmstart;
    }
  });

  it('answers 400 no such task / unable to parse worker upid', async () => {
    const unknown = await raw(sim, 'GET', `/nodes/pve-a/tasks/${encodeURIComponent('UPID:pve-a:00000001:00000001:00000001:qmstart:1:x@pve:')}/status`);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.errors.upid, 'no such task\n');
    const bad = await raw(sim, 'GET', '/nodes/pve-a/tasks/garbage/status');
    assert.equal(bad.json.errors.upid, 'unable to parse worker upid\n');
  });

  it('injects faults: 595/596 per node, 403 per path, lock timeouts in clone tasks, config exists, nextid races, no quorum', async () => {
    sim.faults.nodeDown(sim.state, 'pve-b', 595);
    const down = await raw(sim, 'GET', '/nodes/pve-b/status');
    assert.equal(down.status, 595);
    assert.equal(down.reason, 'Errors during connection establishment, proxy handshake: Connection refused');
    const res = await raw(sim, 'GET', '/cluster/resources?type=node');
    assert.equal(res.json.data.find((n: any) => n.node === 'pve-b').status, 'offline');
    sim.faults.nodeDown(sim.state, 'pve-b', 596);
    assert.equal((await raw(sim, 'GET', '/nodes/pve-b/status')).status, 596);
    sim.faults.nodeDown(sim.state, 'pve-b', undefined);
    const ok = await raw(sim, 'GET', '/nodes/pve-b/status');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json.data.loadavg.map((x: unknown) => typeof x), ['string', 'string', 'string']);

    sim.faults.forbid('/nodes/pve-a/qemu/9000/clone', '/vms/9000', 'VM.Clone');
    const forbidden = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: 'newid=600' });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.reason, 'Permission check failed (/vms/9000, VM.Clone)');
    sim.faults.forbidden.clear();

    sim.faults.cloneCfsLockTimeouts = 1;
    const c1 = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: 'newid=601&name=cfs' });
    const st = await waitStopped(sim, c1.json.data);
    assert.equal(st.exitstatus, "clone failed: cfs-lock 'storage-local-lvm' error: got lock request timeout");
    assert.equal(sim.state.vms.has(601), false, 'a failed clone removes its partial VM');
    sim.faults.cloneFileLockTimeouts = 1;
    const c2 = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: 'newid=602' });
    assert.equal((await waitStopped(sim, c2.json.data)).exitstatus, "clone failed: can't lock file '/var/lock/qemu-server/lock-602.conf' - got timeout");

    sim.faults.configAlreadyExists = 1;
    const c3 = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: 'newid=603' });
    assert.equal(c3.reason, 'unable to create VM 603: config file already exists');

    sim.faults.nextIdTaken = 1;
    const id = (await raw(sim, 'GET', '/cluster/nextid')).json.data;
    const c4 = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: `newid=${id}` });
    assert.equal(c4.reason, `unable to create VM ${id}: config file already exists`);

    sim.faults.quorumLost = true;
    const q = await raw(sim, 'POST', '/nodes/pve-a/qemu/9000/clone', { body: 'newid=604' });
    assert.equal(q.reason, 'cluster not ready - no quorum?');
    sim.faults.quorumLost = false;

    sim.faults.failNextTask('qmshutdown', 'VM quit/powerdown failed - got timeout');
    sim.state.addVm({ vmid: 605, node: 'pve-a', name: 'hung', status: 'running' });
    const sd = await raw(sim, 'POST', '/nodes/pve-a/qemu/605/status/shutdown');
    assert.equal((await waitStopped(sim, sd.json.data)).exitstatus, 'VM quit/powerdown failed - got timeout');
  });

  it('accepts ticket auth and demands the CSRF token on non-GET calls', async () => {
    const s2 = await startProxmoxSim({ users: [{ username: 'root@pam', password: 'pw' }], messageField: false });
    try {
      const fail = await raw(s2, 'POST', '/access/ticket', { auth: null, body: 'username=root@pam&password=nope' });
      assert.equal(fail.status, 401);
      assert.equal(fail.reason, 'authentication failure');
      const t = await raw(s2, 'POST', '/access/ticket', { auth: null, body: 'username=root%40pam&password=pw' });
      const { ticket, CSRFPreventionToken } = t.json.data;
      assert.match(ticket, /^PVE:root@pam:[0-9A-F]+::/);
      const cookie = `PVEAuthCookie=${encodeURIComponent(ticket)}`;
      assert.equal((await raw(s2, 'GET', '/pools', { auth: null, headers: { Cookie: cookie } })).status, 200);
      const noCsrf = await raw(s2, 'POST', '/pools', { auth: null, headers: { Cookie: cookie }, body: 'poolid=p1' });
      assert.equal(noCsrf.status, 401);
      assert.equal(noCsrf.reason, 'Permission denied - invalid csrf token');
      const okCsrf = await raw(s2, 'POST', '/pools', { auth: null, headers: { Cookie: cookie, CSRFPreventionToken }, body: 'poolid=p1' });
      assert.deepEqual(okCsrf.json, { data: null });
      // Without the message field (pre-8.4) the text is only in the reason phrase.
      const e = await raw(s2, 'GET', '/nodes/pve-a/qemu/777/status/current', { auth: null, headers: { Cookie: cookie } });
      assert.equal(e.reason, "Configuration file 'nodes/pve-a/qemu-server/777.conf' does not exist");
      assert.deepEqual(e.json, { data: null });
    } finally {
      await s2.close();
    }
  });

  it('delays 401 answers when asked to, as pveproxy does', async () => {
    const s4 = await startProxmoxSim({ authFailureDelayMs: 300 });
    try {
      const t0 = Date.now();
      const r = await raw(s4, 'GET', '/version', { auth: 'PVEAPIToken=a@pve!b=c' });
      assert.equal(r.status, 401);
      assert.ok(Date.now() - t0 >= 250, 'the answer waited');
      assert.equal((await raw(s4, 'GET', '/version')).json.data.version, '8.4.1');
    } finally {
      await s4.close();
    }
  });

  it('serves HTTPS with the simulators certificate and lists pools with members', async () => {
    const s3 = await startProxmoxSim({ https: true });
    try {
      assert.match(s3.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.match(s3.tls!.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      s3.state.addVm({ vmid: 700, node: 'pve-a', name: 'member', pool: 'OpenVLE-VMs' });
      const pools = await raw(s3, 'GET', '/pools');
      assert.deepEqual(pools.json.data, [{ poolid: 'OpenVLE-VMs' }]);
      const pool = await raw(s3, 'GET', '/pools/OpenVLE-VMs');
      assert.deepEqual(pool.json.data.members.map((m: any) => m.vmid), [700]);
    } finally {
      await s3.close();
    }
  });
});
