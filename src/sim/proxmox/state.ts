/**
 * The simulated cluster's state: nodes, VMs, pools and the task engine
 * (external-apis.md §1.4, §1.5). The HTTP layer (server.ts) only parses,
 * authenticates and formats; every rule of what a call does to the cluster
 * lives here, so tests can drive and read the same state directly.
 */

/** A failure with Proxmox' status and message, turned into a response by the HTTP layer. */
export class PveError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}

export interface SimNode {
  name: string;
  /** 595/596 answers for calls proxied to this node, as when it is down or its pveproxy hangs. */
  down?: 595 | 596;
}

export interface SimVm {
  vmid: number;
  node: string;
  name: string;
  description?: string;
  template: boolean;
  status: 'running' | 'stopped';
  lock?: string;
  pool?: string;
  tags?: string;
  protection?: boolean;
  /** Set for clones: the source vmid and whether the copy was full. */
  clonedFrom?: { vmid: number; full: boolean };
  config: Record<string, string | number>;
  startedAt?: number;
}

export interface SimTask {
  upid: string;
  node: string;
  type: string;
  id: string;
  user: string;
  tokenid?: string;
  pid: number;
  pstart: number;
  starttime: number;
  status: 'running' | 'stopped';
  exitstatus?: string;
  log: string[];
}

/** What a task does when its time is up: returns the exit status ('OK', 'WARNINGS: 1' or an error text). */
type TaskBody = () => string;

export interface Caller {
  /** `user@realm` */
  user: string;
  tokenid?: string;
}

const DEFAULT_TASK_MS = 30;
const CONFIG_DOES_NOT_EXIST = (node: string, vmid: number) =>
  `Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`;

/** Faults the tests switch on; each counter is consumed by the calls it affects. */
export class SimFaults {
  /** Next N clone tasks end `clone failed: cfs-lock 'storage-local-lvm' error: got lock request timeout`. */
  cloneCfsLockTimeouts = 0;
  /** Next N clone tasks end `clone failed: can't lock file '/var/lock/qemu-server/lock-<newid>.conf' - got timeout`. */
  cloneFileLockTimeouts = 0;
  /** Next N clone calls answer 500 `unable to create VM <newid>: config file already exists` (a race lost elsewhere). */
  configAlreadyExists = 0;
  /** Next N /cluster/nextid answers are taken at once by another (phantom) client's VM: the nextid race. */
  nextIdTaken = 0;
  /** Mutating calls answer 500 `cluster not ready - no quorum?`. */
  quorumLost = false;
  /** Exit status forced on the next task of a type, e.g. qmshutdown → 'VM quit/powerdown failed - got timeout'. */
  readonly nextTaskExit = new Map<string, string[]>();
  /** 403 for requests whose API path (after /api2/json) starts with a prefix: prefix → 'Permission check failed (...)' text. */
  readonly forbidden = new Map<string, string>();
  /** Extra delay before answering requests whose path starts with a prefix ('' = every request). */
  readonly slow = new Map<string, number>();

  nodeDown(state: SimState, node: string, status: 595 | 596 | undefined): void {
    const n = state.nodes.get(node);
    if (!n) throw new Error(`no node ${node}`);
    n.down = status;
  }

  failNextTask(type: string, exitstatus: string): void {
    const list = this.nextTaskExit.get(type) ?? [];
    list.push(exitstatus);
    this.nextTaskExit.set(type, list);
  }

  forbid(pathPrefix: string, aclPath = '/', privilege = 'Sys.Audit'): void {
    this.forbidden.set(pathPrefix, `Permission check failed (${aclPath}, ${privilege})`);
  }

  takeTaskExit(type: string): string | undefined {
    const list = this.nextTaskExit.get(type);
    return list?.shift();
  }
}

export class SimState {
  readonly nodes = new Map<string, SimNode>();
  readonly vms = new Map<number, SimVm>();
  readonly pools = new Map<string, { comment?: string }>();
  readonly tasks = new Map<string, SimTask>();
  readonly faults = new SimFaults();
  /** Task run time per task type (ms); `default` for the others. */
  readonly taskDurationMs: Record<string, number> = { default: DEFAULT_TASK_MS };
  /** Tasks of these types end on their Nth status poll instead of after a duration. */
  readonly taskPolls: Record<string, number> = {};
  private readonly pollsLeft = new Map<string, { left: number; finish: () => void }>();
  /** Serialize nextid as a JSON number; real servers usually send a string (§1.4.1), some send a number. */
  nextIdAsNumber = false;
  /** Clone calls that created a VM, per new VM name: how tests see duplicate clones. */
  readonly clonesByName = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextPid = 0x19f2c4;
  private closed = false;

  addNode(name: string): SimNode {
    const node: SimNode = { name };
    this.nodes.set(name, node);
    return node;
  }

  addPool(poolid: string, comment?: string): void {
    this.pools.set(poolid, { comment });
  }

  addVm(vm: Partial<SimVm> & { vmid: number; node: string; name: string }): SimVm {
    if (!this.nodes.has(vm.node)) throw new Error(`no node ${vm.node}`);
    if (this.vms.has(vm.vmid)) throw new Error(`VM ${vm.vmid} exists`);
    const full: SimVm = {
      template: false,
      status: 'stopped',
      config: { cores: 2, memory: 2048, scsi0: `local-lvm:vm-${vm.vmid}-disk-0,size=32G`, net0: macNet(vm.vmid) },
      ...vm,
    };
    this.vms.set(vm.vmid, full);
    return full;
  }

  addTemplate(vmid: number, node: string, name: string): SimVm {
    return this.addVm({ vmid, node, name, template: true });
  }

  listVms(): SimVm[] {
    return [...this.vms.values()].sort((a, b) => a.vmid - b.vmid);
  }

  vmsNamed(name: string): SimVm[] {
    return this.listVms().filter((v) => v.name === name);
  }

  clonesNamed(name: string): number {
    return this.clonesByName.get(name) ?? 0;
  }

  setTaskDuration(type: string, ms: number): void {
    this.taskDurationMs[type] = ms;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ---- checks shared by the calls ----

  node(name: string): SimNode {
    const n = this.nodes.get(name);
    // Real PVE answers this for any node name it cannot resolve in the cluster.
    if (!n) throw new PveError(500, `hostname lookup '${name}' failed - failed to get address info for: ${name}: Name or service not known`);
    return n;
  }

  /** The VM as seen from `node`: Proxmox looks for nodes/<node>/qemu-server/<vmid>.conf. */
  vmOn(node: string, vmid: number): SimVm {
    const vm = this.vms.get(vmid);
    if (!vm || vm.node !== node) throw new PveError(500, CONFIG_DOES_NOT_EXIST(node, vmid));
    return vm;
  }

  private checkLock(vm: SimVm): void {
    if (vm.lock) throw new PveError(500, `VM ${vm.vmid} is locked (${vm.lock})`);
  }

  private checkQuorum(): void {
    if (this.faults.quorumLost) throw new PveError(500, 'cluster not ready - no quorum?');
  }

  // ---- cluster ----

  nextId(vmid?: number): string | number {
    if (vmid !== undefined) {
      if (this.vms.has(vmid)) throw new PveError(400, 'Parameter verification failed.', { vmid: `VM ${vmid} already exists` });
      return String(vmid);
    }
    let id = 100;
    while (this.vms.has(id)) id++;
    if (id >= 1_000_000) throw new PveError(500, 'unable to get any free VMID in range [100, 1000000]');
    if (this.faults.nextIdTaken > 0) {
      this.faults.nextIdTaken--;
      const node = [...this.nodes.keys()][0]!;
      this.addVm({ vmid: id, node, name: `other-${id}` });
    }
    // Perl serializes this integer as a string (§1.4.1).
    return this.nextIdAsNumber ? id : String(id);
  }

  resources(type?: string): unknown[] {
    const out: unknown[] = [];
    if (!type || type === 'node') {
      for (const n of this.nodes.values()) {
        const online = !n.down;
        out.push({
          id: `node/${n.name}`, type: 'node', node: n.name, status: online ? 'online' : 'offline', level: '',
          cpu: online ? 0.031 : 0, maxcpu: 32, mem: 21474836480, maxmem: 137438953472,
          disk: 12884901888, maxdisk: 101203705856, uptime: online ? 864000 : 0, 'cgroup-mode': 2,
        });
      }
    }
    if (!type || type === 'vm') {
      for (const vm of this.listVms()) {
        const nodeDown = this.nodes.get(vm.node)?.down;
        const entry: Record<string, unknown> = {
          id: `qemu/${vm.vmid}`, type: 'qemu', vmid: vm.vmid, node: vm.node, name: vm.name,
          status: nodeDown ? 'unknown' : vm.status, template: vm.template ? 1 : 0,
          maxcpu: Number(vm.config.cores ?? 1), cpu: 0, maxmem: Number(vm.config.memory ?? 512) * 1048576,
          mem: 0, maxdisk: 34359738368, disk: 0, netin: 0, netout: 0, diskread: 0, diskwrite: 0,
          uptime: vm.status === 'running' && vm.startedAt ? Math.floor((Date.now() - vm.startedAt) / 1000) : 0,
        };
        if (vm.pool) entry.pool = vm.pool;
        if (vm.tags) entry.tags = vm.tags;
        if (vm.lock) entry.lock = vm.lock;
        out.push(entry);
      }
    }
    if (!type) for (const p of this.pools.keys()) out.push({ id: `/pool/${p}`, type: 'pool', pool: p });
    return out;
  }

  nodeStatus(node: string): unknown {
    this.node(node);
    return {
      cpu: 0.031, wait: 0.0002, idle: 0, uptime: 864000, loadavg: ['0.42', '0.38', '0.35'],
      cpuinfo: { cores: 16, cpus: 32, sockets: 1, model: 'Simulated CPU @ 3.00GHz', mhz: '3000.000', hvm: '1', flags: '' },
      memory: { total: 137438953472, used: 21474836480, free: 115964116992, available: 115964116992 },
      swap: { total: 8589934592, used: 0, free: 8589934592 },
      rootfs: { total: 101203705856, used: 12884901888, free: 88318803968, avail: 83169882112 },
      ksm: { shared: 0 },
      pveversion: 'pve-manager/8.4.1/2a5fa54a8503f96d',
      kversion: 'Linux 6.8.12-9-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-9',
      'current-kernel': { sysname: 'Linux', release: '6.8.12-9-pve', version: '#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-9', machine: 'x86_64' },
      'boot-info': { mode: 'efi', secureboot: 0 },
    };
  }

  // ---- tasks ----

  private startTask(node: string, type: string, id: string, caller: Caller, body: TaskBody, log: string[] = []): string {
    const now = Math.floor(Date.now() / 1000);
    const pid = this.nextPid++;
    const pstart = 0x02a7e15b + pid;
    const user = caller.tokenid ? `${caller.user}!${caller.tokenid}` : caller.user;
    const upid = `UPID:${node}:${hex8(pid)}:${hex8(pstart)}:${hex8(now)}:${type}:${id}:${user}:`;
    const task: SimTask = { upid, node, type, id, user: caller.user, tokenid: caller.tokenid, pid, pstart, starttime: now, status: 'running', log: [...log] };
    this.tasks.set(upid, task);
    const finish = () => {
      if (this.closed || task.status === 'stopped') return;
      let exit: string;
      try {
        exit = this.faults.takeTaskExit(type) ?? body();
      } catch (err) {
        exit = err instanceof PveError ? err.message : String(err);
      }
      task.status = 'stopped';
      task.exitstatus = exit;
      task.log.push(exit === 'OK' ? 'TASK OK' : exit.startsWith('WARNINGS: ') ? `TASK ${exit}` : `TASK ERROR: ${exit}`);
    };
    const polls = this.taskPolls[type];
    if (polls !== undefined) {
      this.pollsLeft.set(upid, { left: polls, finish });
      return upid;
    }
    const ms = this.taskDurationMs[type] ?? this.taskDurationMs.default ?? DEFAULT_TASK_MS;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      finish();
    }, ms);
    timer.unref();
    this.timers.add(timer);
    return upid;
  }

  task(node: string, upid: string): SimTask {
    if (!/^UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[^:]+:[^:]*:[^:]+:$/.test(upid)) {
      throw new PveError(400, 'Parameter verification failed.', { upid: 'unable to parse worker upid' });
    }
    const t = this.tasks.get(upid);
    if (!t || t.node !== node) throw new PveError(400, 'Parameter verification failed.', { upid: 'no such task' });
    return t;
  }

  /** A status poll: counts towards tasks that end after a number of polls. */
  pollTask(node: string, upid: string): SimTask {
    const t = this.task(node, upid);
    const p = this.pollsLeft.get(upid);
    if (p && --p.left <= 0) {
      this.pollsLeft.delete(upid);
      p.finish();
    }
    return t;
  }

  stopTask(node: string, upid: string): void {
    const t = this.task(node, upid);
    if (t.status === 'running') {
      t.status = 'stopped';
      t.exitstatus = 'unexpected status';
      t.log.push('TASK ERROR: interrupted by signal');
    }
  }

  // ---- VMs ----

  clone(
    node: string,
    vmid: number,
    p: { newid: number; name?: string; description?: string; full?: boolean; target?: string; pool?: string; storage?: string; format?: string },
    caller: Caller,
  ): string {
    this.node(node);
    this.checkQuorum();
    const src = this.vmOn(node, vmid);
    if (p.target !== undefined && !this.nodes.has(p.target)) throw new PveError(500, `no such cluster node '${p.target}'`);
    const full = src.template ? (p.full ?? false) : true;
    if (!full && p.storage !== undefined) throw new PveError(400, 'Parameter verification failed.', { storage: "parameter 'storage' not allowed for linked clones" });
    if (!full && p.format !== undefined) throw new PveError(400, 'Parameter verification failed.', { format: "parameter 'format' not allowed for linked clones" });
    if (p.pool !== undefined && !this.pools.has(p.pool)) throw new PveError(500, `pool '${p.pool}' does not exist`);
    if (this.faults.configAlreadyExists > 0) {
      this.faults.configAlreadyExists--;
      throw new PveError(500, `unable to create VM ${p.newid}: config file already exists`);
    }
    if (this.vms.has(p.newid)) throw new PveError(500, `unable to create VM ${p.newid}: config file already exists`);
    const name = p.name ?? `Copy-of-VM-${src.name}`;
    // The new VM exists at once, locked, until the task ends (§1.4.4).
    const vm = this.addVm({
      vmid: p.newid, node: p.target ?? node, name, description: p.description, pool: p.pool,
      lock: 'clone', clonedFrom: { vmid, full }, config: { ...src.config, net0: macNet(p.newid) }, tags: src.tags,
    });
    this.clonesByName.set(name, this.clonesNamed(name) + 1);
    const cfsFault = this.faults.cloneCfsLockTimeouts > 0 ? (this.faults.cloneCfsLockTimeouts--, true) : false;
    const fileFault = !cfsFault && this.faults.cloneFileLockTimeouts > 0 ? (this.faults.cloneFileLockTimeouts--, true) : false;
    const log = [full ? `create full clone of drive scsi0 (local-lvm:base-${vmid}-disk-0)` : `create linked clone of drive scsi0 (local-lvm:base-${vmid}-disk-0)`];
    return this.startTask(node, 'qmclone', String(vmid), caller, () => {
      const fail = cfsFault
        ? "clone failed: cfs-lock 'storage-local-lvm' error: got lock request timeout"
        : fileFault
          ? `clone failed: can't lock file '/var/lock/qemu-server/lock-${p.newid}.conf' - got timeout`
          : undefined;
      if (fail) {
        // A failed clone removes its partial VM.
        if (this.vms.get(p.newid) === vm) this.vms.delete(p.newid);
        return fail;
      }
      delete vm.lock;
      return 'OK';
    }, log);
  }

  power(node: string, vmid: number, action: 'start' | 'stop' | 'shutdown' | 'reset' | 'reboot', caller: Caller, opts: { forceStop?: boolean } = {}): string {
    this.node(node);
    this.checkQuorum();
    if (action !== 'start') {
      const vm = this.vmOn(node, vmid);
      if ((action === 'reset' || action === 'reboot') && vm.status !== 'running') throw new PveError(500, `VM ${vmid} not running`);
      if (action === 'shutdown' && vm.config.qmpstatus === 'paused' && !opts.forceStop) throw new PveError(500, 'VM is paused - cannot shutdown');
    }
    const type = `qm${action}`;
    return this.startTask(node, type, String(vmid), caller, () => {
      const vm = this.vmOn(node, vmid);
      this.checkLock(vm);
      switch (action) {
        case 'start':
          if (vm.template) return "you can't start a vm if it's a template";
          if (vm.status === 'running') return `VM ${vmid} already running`;
          vm.status = 'running';
          vm.startedAt = Date.now();
          return 'OK';
        case 'stop':
        case 'shutdown':
          vm.status = 'stopped';
          delete vm.startedAt;
          return 'OK';
        default:
          vm.startedAt = Date.now();
          return 'OK';
      }
    });
  }

  destroy(node: string, vmid: number, caller: Caller): string {
    this.node(node);
    this.checkQuorum();
    const vm = this.vmOn(node, vmid);
    if (vm.status === 'running') throw new PveError(500, `VM ${vmid} is running - destroy failed`);
    if (vm.protection) throw new PveError(500, `can't remove VM ${vmid} - protection mode enabled`);
    return this.startTask(node, 'qmdestroy', String(vmid), caller, () => {
      this.checkLock(vm);
      const linked = this.listVms().find((v) => v.clonedFrom?.vmid === vmid && !v.clonedFrom.full);
      if (vm.template && linked) return `base volume 'local-lvm:base-${vmid}-disk-0' is still in use by linked cloned`;
      if (this.vms.get(vmid) === vm) this.vms.delete(vmid);
      return 'OK';
    });
  }

  migrate(node: string, vmid: number, p: { target: string; online?: boolean }, caller: Caller): string {
    this.node(node);
    this.checkQuorum();
    if (p.target === node) throw new PveError(400, 'Parameter verification failed.', { target: 'target is local node.' });
    const vm = this.vmOn(node, vmid);
    if (!this.nodes.has(p.target)) throw new PveError(500, `no such cluster node '${p.target}'`);
    if (vm.status === 'running' && !p.online) throw new PveError(500, "can't migrate running VM without --online");
    this.checkLock(vm);
    vm.lock = 'migrate';
    return this.startTask(node, 'qmigrate', String(vmid), caller, () => {
      delete vm.lock;
      vm.node = p.target;
      return 'OK';
    }, [`starting migration of VM ${vmid} to node '${p.target}'`]);
  }

  vmStatus(node: string, vmid: number): unknown {
    this.node(node);
    const vm = this.vmOn(node, vmid);
    const out: Record<string, unknown> = {
      vmid, name: vm.name, status: vm.status, qmpstatus: vm.status, cpus: Number(vm.config.cores ?? 1), cpu: 0,
      maxmem: Number(vm.config.memory ?? 512) * 1048576, mem: 0, maxdisk: 34359738368, diskread: 0, diskwrite: 0,
      netin: 0, netout: 0, uptime: vm.status === 'running' && vm.startedAt ? Math.floor((Date.now() - vm.startedAt) / 1000) : 0,
      ha: { managed: 0 },
    };
    if (vm.status === 'running') out.pid = 48213;
    if (vm.lock) out.lock = vm.lock;
    if (vm.template) out.template = 1;
    if (vm.tags) out.tags = vm.tags;
    return out;
  }

  vmConfig(node: string, vmid: number): Record<string, unknown> {
    this.node(node);
    const vm = this.vmOn(node, vmid);
    const cfg: Record<string, unknown> = { ...vm.config, name: vm.name };
    if (vm.description !== undefined) cfg.description = vm.description;
    if (vm.template) cfg.template = 1;
    if (vm.lock) cfg.lock = vm.lock;
    if (vm.tags) cfg.tags = vm.tags;
    cfg.digest = digestOf(vm);
    return cfg;
  }

  /** PUT (sync) and POST (task) config updates share the same checks. */
  setConfig(node: string, vmid: number, changes: Record<string, string>, caller: Caller, async: boolean): string | null {
    this.node(node);
    this.checkQuorum();
    const vm = this.vmOn(node, vmid);
    const { digest, delete: del, ...set } = changes;
    if (!Object.keys(set).length && !del) throw new PveError(500, 'no options specified');
    this.checkLock(vm);
    if (digest !== undefined && digest !== digestOf(vm)) throw new PveError(500, 'checksum mismatch (file change by other user?)');
    const apply = () => {
      for (const [k, v] of Object.entries(set)) {
        if (k === 'name') vm.name = v;
        else if (k === 'description') vm.description = v;
        else if (k === 'tags') vm.tags = v;
        else if (k === 'protection') vm.protection = v === '1';
        else vm.config[k] = v;
      }
      for (const k of (del ?? '').split(',').filter(Boolean)) {
        if (k === 'description') delete vm.description;
        else if (k === 'tags') delete vm.tags;
        else delete vm.config[k];
      }
    };
    if (!async) {
      apply();
      return null;
    }
    return this.startTask(node, 'qmconfig', String(vmid), caller, () => (apply(), 'OK'));
  }
}

function hex8(n: number): string {
  return n.toString(16).toUpperCase().padStart(8, '0');
}

function macNet(vmid: number): string {
  const h = (vmid % 0x1000000).toString(16).toUpperCase().padStart(6, '0');
  return `virtio=BC:24:11:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)},bridge=vmbr0,firewall=1`;
}

function digestOf(vm: SimVm): string {
  // Stands in for the SHA1 of the config file: changes whenever the config does.
  let h = 0x811c9dc5;
  const s = JSON.stringify([vm.name, vm.description, vm.tags, vm.config]);
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0').repeat(5);
}
