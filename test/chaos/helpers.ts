// Shared pieces of the chaos suite: worker processes that can be SIGKILLed,
// run counting from the fixture's records, end-state checks, summary lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { keys } from '../../src/engine/keys.js';
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
