// Shared pieces of the chaos suite: worker processes that can be SIGKILLed,
// run counting from the fixture's records, end-state checks, summary lines.
//
// The suite (issue 5), one file per scenario, each printing one line
// `chaos <scenario>: jobs=... faults=... lost=... duplicated=...`:
//   worker-kills       1,000 jobs, a worker SIGKILLed about every second
//   redis-restart      Redis (AOF, fsync always) SIGKILLed and restarted, busy and idle
//   redis-unreachable  Redis cut off for 30 s by a proxy while jobs run
//   connection-cuts    a proxy cuts connections and drops replies; a lost reply per script
//   half-open          a proxy freezes every worker connection (open, nothing gets through)
//   slow-handlers      timeouts, never-settling promises, non-Error throws, event-loop stalls
//   bad-input          hand-written hashes, bad data, odd ids, pub/sub garbage, bad CLI use
//   dependencies       chains and fan-ins under worker kills
// Environment: CHAOS_SOAK=1 runs longer and bigger; CHAOS_OUTAGE_MS sets the
// unreachable time (default 30000); CHAOS_DEBUG=1 prints worker logs on the outage test.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/engine/connection.js';
import { keys } from '../../src/engine/keys.js';
import { TcpProxy } from '../helpers/proxy.js';
import { RedisServer } from '../helpers/redis.js';
import { waitForEvent } from '../helpers/util.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/worker-process.ts', import.meta.url));

/** Short engine timings, so that recovery takes seconds. */
export const FAST = { jobMonitoringInterval: 0.5, deadWorkerTimeout: 2, recoveryInterval: 0.25 };

/** Soak runs (CHAOS_SOAK=1) multiply the work. */
export const SOAK = process.env.CHAOS_SOAK === '1' || process.env.CHAOS_SOAK === 'true';

const live = new Set<WorkerProc>();

/** A worker process (test/fixtures/worker-process.ts) and what it printed. */
export class WorkerProc extends EventEmitter {
  readonly child: ChildProcess;
  name = '';
  killed = false;
  exited = false;
  readonly exit: Promise<unknown>;
  readonly started = new Set<string>();
  /** When this worker recovered each job (as abandoned), from the first line on. */
  readonly recoveredAt = new Map<string, number[]>();
  stderr = '';

  constructor(url: string, queues: string[], opts: object = {}, env: NodeJS.ProcessEnv = {}) {
    super();
    this.child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, url, queues.join(','), JSON.stringify(opts)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    live.add(this);
    this.exit = once(this.child, 'exit').then((v) => {
      this.exited = true;
      live.delete(this);
      return v;
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      if (this.stderr.length > 200_000) this.stderr = this.stderr.slice(-100_000);
    });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      const [what, ...rest] = l.split(' ');
      if (what === 'started') this.name = rest[0]!;
      if (what === 'job-started') this.started.add(rest[0]!);
      if (what === 'job-recovered') this.recoveredAt.set(rest[0]!, [...(this.recoveredAt.get(rest[0]!) ?? []), Date.now()]);
      // an 'error' event with no listener would throw here
      this.emit(what === 'error' ? 'worker-error' : what!, ...rest);
      this.emit('line', what, ...rest);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(url: string, queues: string[], opts: object = {}, env: NodeJS.ProcessEnv = {}): Promise<WorkerProc> {
    const w = new WorkerProc(url, queues, opts, env);
    await Promise.race([
      waitForEvent(w, 'started', undefined, 30_000),
      w.exit.then(() => {
        throw new Error(`worker exited before it started:\n${w.stderr}`);
      }),
    ]);
    return w;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.exited) return;
    if (signal === 'SIGKILL') this.killed = true;
    this.child.kill(signal);
    await this.exit;
  }

  /** SIGTERM (warm stop), then SIGKILL if it takes longer than ms. */
  async stop(ms = 15_000): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), ms);
    await this.exit;
    clearTimeout(t);
  }
}

/** Kills every worker process still running (after hooks). */
export async function killAllWorkers(): Promise<void> {
  await Promise.all([...live].map((w) => w.kill()));
}

export interface Run {
  job: string;
  pid: number;
  nonce: string;
  startedAt: number;
  done: boolean;
}

/** Every recorded run of fixtures.work/flaky/child under `tag`, by job id. */
export async function runsByJob(redis: Redis, tag: string): Promise<Map<string, Run[]>> {
  const [start, done] = await Promise.all([redis.hgetall(`chaos:${tag}:start`), redis.hgetall(`chaos:${tag}:done`)]);
  const out = new Map<string, Run[]>();
  for (const [field, at] of Object.entries(start)) {
    const [job, pid, nonce] = field.split('|') as [string, string, string];
    const list = out.get(job) ?? [];
    list.push({ job, pid: Number(pid), nonce, startedAt: Number(at), done: field in done });
    out.set(job, list);
  }
  for (const list of out.values()) list.sort((a, b) => a.startedAt - b.startedAt);
  return out;
}

/** Statuses of many jobs (null: no hash). */
export async function statuses(redis: Redis, ids: string[]): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const pipe = redis.pipeline();
    for (const id of ids.slice(i, i + 500)) pipe.hget(keys.job(id), 'status');
    for (const [err, v] of (await pipe.exec()) ?? []) out.push(err ? null : (v as string | null));
  }
  return out;
}

/** What is still in flight on these queues: queued ids, wip entries, scheduled and worker executions. */
export async function leftovers(redis: Redis, queues: string[]): Promise<{ queued: number; wip: number; scheduled: number; executions: number }> {
  let queued = 0;
  let wip = 0;
  let scheduled = 0;
  for (const q of queues) {
    queued += await redis.llen(keys.queue(q));
    wip += await redis.zcard(`rq:wip:${q}`);
    scheduled += await redis.zcard(`rq:scheduled:${q}`);
  }
  let executions = 0;
  for (const k of await redis.keys('rq:worker:*:executions')) executions += await redis.scard(k);
  return { queued, wip, scheduled, executions };
}

/** Waits until every job has one of the wanted statuses and nothing is left in flight. */
export async function settle(
  redis: Redis,
  queues: string[],
  jobs: Map<string, string[]>,
  ms: number,
): Promise<{ ok: boolean; wrong: Map<string, string | null>; left: Awaited<ReturnType<typeof leftovers>> }> {
  const ids = [...jobs.keys()];
  const deadline = Date.now() + ms;
  for (;;) {
    const st = await statuses(redis, ids);
    const wrong = new Map<string, string | null>();
    st.forEach((s, i) => {
      if (!jobs.get(ids[i]!)!.includes(s ?? 'missing')) wrong.set(ids[i]!, s);
    });
    const left = await leftovers(redis, queues);
    const ok = wrong.size === 0 && left.queued + left.wip + left.scheduled + left.executions === 0;
    if (ok || Date.now() > deadline) return { ok, wrong, left };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Prints the scenario's one summary line. */
export function summary(name: string, fields: Record<string, string | number>): string {
  const line = `chaos ${name}: ` + Object.entries(fields).map(([k, v]) => (k.startsWith('(') ? k : `${k}=${v}`)).join(' ');
  console.log(line);
  return line;
}

/**
 * SIGKILLs a random worker of `workers` every `paceMs` or so and starts a
 * replacement in its slot. Records what each killed worker was running (its
 * executions in Redis, read after its death) and when other workers
 * recovered those jobs.
 */
export class Killer {
  readonly kills: { at: number; members: string[] }[] = [];
  /** `${job}|${pid}`: an attempt of job that was on a killed worker. */
  readonly killedAttempts = new Set<string>();
  /** Every worker process there was, the killed ones too. */
  private readonly all: WorkerProc[];
  private done = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    readonly workers: WorkerProc[],
    private readonly spawnWorker: () => Promise<WorkerProc>,
  ) {
    this.all = [...workers];
  }

  start(paceMs: [number, number] = [700, 1300], maxMs = 60_000): void {
    this.loop = (async () => {
      const deadline = Date.now() + maxMs;
      while (!this.done && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, paceMs[0] + Math.random() * (paceMs[1] - paceMs[0])));
        if (this.done) break;
        const i = Math.floor(Math.random() * this.workers.length);
        const victim = this.workers[i]!;
        await victim.kill('SIGKILL');
        const at = Date.now();
        const members = await this.redis.smembers(`rq:worker:${victim.name}:executions`);
        for (const m of members) this.killedAttempts.add(`${m.slice(0, m.lastIndexOf(':'))}|${victim.pid}`);
        this.kills.push({ at, members });
        const fresh = await this.spawnWorker();
        this.all.push(fresh);
        this.workers[i] = fresh;
      }
    })();
  }

  async stop(): Promise<void> {
    this.done = true;
    await this.loop;
  }

  /** Killed executions, how many of them another worker recovered, and the slowest recovery. */
  recovery(): { killedExecutions: number; recovered: number; maxRecoverMs: number } {
    let killedExecutions = 0;
    let recovered = 0;
    let maxRecoverMs = 0;
    for (const k of this.kills) {
      for (const m of k.members) {
        killedExecutions++;
        const id = m.slice(0, m.lastIndexOf(':'));
        const times = this.all.flatMap((w) => w.recoveredAt.get(id) ?? []).filter((t) => t >= k.at);
        const at = times.length ? Math.min(...times) : undefined;
        if (at !== undefined) {
          recovered++;
          maxRecoverMs = Math.max(maxRecoverMs, at - k.at);
        }
      }
    }
    return { killedExecutions, recovered, maxRecoverMs };
  }
}

/**
 * For jobs that must finish: every run but the last must be an attempt on a
 * killed worker, and the last must have completed. Returns the extra runs
 * and anything unexplained.
 */
export function checkRuns(ids: Iterable<string>, runs: Map<string, Run[]>, killedAttempts: Set<string>): { duplicated: number; unexpected: string[] } {
  let duplicated = 0;
  const unexpected: string[] = [];
  for (const id of ids) {
    const list = runs.get(id) ?? [];
    if (list.length === 0) {
      unexpected.push(`${id}: never ran`);
      continue;
    }
    if (!list[list.length - 1]!.done) unexpected.push(`${id}: last run did not complete`);
    for (const r of list.slice(0, -1)) {
      duplicated++;
      if (!killedAttempts.has(`${id}|${r.pid}`)) unexpected.push(`${id}: extra run on ${r.pid}, which was not killed while running it`);
    }
  }
  return { duplicated, unexpected };
}

/** Where no worker was killed, every job must have run exactly once: the ids that did not, and the extra runs. */
export function exactlyOnce(ids: Iterable<string>, runs: Map<string, Run[]>): { bad: string[]; duplicated: number } {
  const bad: string[] = [];
  let duplicated = 0;
  for (const id of ids) {
    const n = runs.get(id)?.length ?? 0;
    if (n === 0) bad.push(`${id} never ran`);
    if (n > 1) {
      duplicated += n - 1;
      bad.push(`${id} ran ${n} times`);
    }
  }
  return { bad, duplicated };
}

/**
 * For a test file: a redis-server of its own (with append-only persistence
 * when asked, for restarts), optionally behind a TcpProxy that cuts
 * connections, and a direct connection to it; all stopped after the file
 * together with every worker process the file started.
 */
export function chaosRedis(opts: { persistent?: boolean; proxy?: boolean } = {}): {
  server: RedisServer;
  redis: Redis;
  proxy: TcpProxy;
} {
  const fx = {
    server: undefined as unknown as RedisServer,
    redis: undefined as unknown as Redis,
    proxy: undefined as unknown as TcpProxy,
  };
  before(async () => {
    fx.server = opts.persistent ? await RedisServer.startPersistent() : await RedisServer.start();
    if (opts.proxy) {
      fx.proxy = new TcpProxy(fx.server.port);
      await fx.proxy.start();
    }
    fx.redis = createRedis(fx.server.url);
  });
  after(async () => {
    await killAllWorkers();
    fx.redis.disconnect();
    await fx.proxy?.stop();
    await fx.server.destroy();
  });
  return fx;
}
