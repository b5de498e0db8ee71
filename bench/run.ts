// openvle-rq vs BullMQ and Bee-Queue on one private Redis, same run, same harness.
//
//   npm run bench                 (builds, then runs this file under tsx)
//
// Prints one JSON line per figure and system on stdout, then one line with
// one line of ratios ours/peer per peer; progress goes to stderr. Knobs (environment):
//   BENCH_ROUNDS=3          rounds; each runs every figure for every system,
//                           the systems of a figure back to back, alternating
//                           which goes first
//   BENCH_RETENTION=keep    keep | remove finished jobs (see systems.ts)
//   BENCH_ONLY=a,b          only these figures: single,bulk,c1,c2,c50,c1p1,latency,rpush,rpush3
//   BENCH_SYSTEMS=a,b       only these systems
//   BENCH_DIAG=1            also print per-job Redis command counts,
//                           INFO commandstats usec_per_call, Redis reads and
//                           calls per read, scheduler waits of Redis and the
//                           worker (/proc schedstat) and the load average
//                           around each figure (stderr and JSON fields; diag.ts)
//   BENCH_PROF=dir          run worker processes with --cpu-prof into dir
//   BENCH_REDIS_CONFIG='name value, ...'  CONFIG SET on the bench Redis first
//   BENCH_BASE=dir          A/B: also measure the openvle-rq built in that
//                           checkout (git worktree + npm run build) as
//                           'openvle-rq@base', instead of the peers
//   BENCH_BASE_ENV='K=V ...' environment for openvle-rq@base's worker processes
//                           only (e.g. OPENVLE_RQ_SCRIPTS=eval, with BENCH_BASE
//                           set to this checkout: Functions against EVALSHA)
//   BENCH_BASE_NODE_FLAGS='--flag ...' node/V8 flags for openvle-rq@base's
//                           worker processes (e.g. a GC setting, with
//                           BENCH_BASE set to this checkout)
//   BENCH_SCALE=1           multiply every job count (e.g. 0.2 for a smoke run)
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { ChildConfig, ChildMessage } from './child.js';
import { diagLine, loadNow, procDelta, procSnap, redisIo, redisIoDelta, type ProcSnap, type RedisIo } from './diag.js';
import { BenchRedis, parseInfo, redisCpuUs } from './redis.js';
import { engineSource, isOurs, makeProducer, QUEUE, SYSTEMS, type Payload, type Retention, type SystemName } from './systems.js';

const env = process.env;
const scale = Number(env.BENCH_SCALE ?? 1);
const n = (v: number) => Math.max(1, Math.round(v * scale));
const P = {
  rounds: Number(env.BENCH_ROUNDS ?? 3),
  retention: (env.BENCH_RETENTION ?? 'keep') as Retention,
  singleWarm: n(500),
  singleN: n(5000),
  bulkWarm: n(2000),
  bulkN: n(20000),
  batch: 1000,
  // Until the JIT has settled: a worker's V8 compiler threads stay busy for
  // the first 3,000-4,000 jobs, ours and BullMQ's (bench/README, "Warm-up").
  drainWarm: n(5000),
  c1N: n(8000),
  c2N: n(8000),
  c50N: n(15000),
  latWarm: 100,
  latN: 500,
  latIntervalMs: 2,
  idleMs: 3000,
  diag: env.BENCH_DIAG === '1',
  prof: env.BENCH_PROF,
};
// BENCH_REDIS_CONFIG='stream-node-max-bytes 512, ...': CONFIG SET on the bench Redis.
const redisConfig = (env.BENCH_REDIS_CONFIG ?? '')
  .split(',')
  .map((c) => c.trim().split(/\s+/))
  .filter((c) => c[0] !== '')
  .map((c) => [c[0]!, c.slice(1).join(' ')] as const);
const baseEnv = Object.fromEntries(
  (env.BENCH_BASE_ENV ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
// BENCH_BASE_NODE_FLAGS='--flag ...': node/V8 flags for openvle-rq@base's
// worker processes (NODE_OPTIONS refuses most V8 flags).
const baseNodeFlags = (env.BENCH_BASE_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
const only = new Set((env.BENCH_ONLY ?? 'single,bulk,c1,c2,c50,c1p1,latency,rpush,rpush3').split(','));
const systems = (env.BENCH_SYSTEMS ? env.BENCH_SYSTEMS.split(',') : SYSTEMS) as SystemName[];
if (P.retention !== 'keep' && P.retention !== 'remove') throw new Error('BENCH_RETENTION must be keep or remove');

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(s + '\n');

function payloads(from: number, count: number): Payload[] {
  const out: Payload[] = [];
  for (let i = 0; i < count; i++) out.push({ i: from + i });
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile. */
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

async function redisCpuMs(admin: Redis): Promise<number> {
  return (await redisCpuUs(admin)) / 1000;
}

interface CmdStat {
  calls: number;
  usec: number;
}
async function commandStats(admin: Redis): Promise<Map<string, CmdStat>> {
  const out = new Map<string, CmdStat>();
  for (const [k, v] of parseInfo(await admin.info('commandstats'))) {
    const calls = /calls=(\d+)/.exec(v);
    const usec = /usec=(\d+)/.exec(v);
    if (calls && usec) out.set(k.replace(/^cmdstat_/, ''), { calls: Number(calls[1]), usec: Number(usec[1]) });
  }
  return out;
}

function formatStats(stats: Map<string, CmdStat>, jobs: number): string {
  const inner = [...stats].filter(([k]) => !/^(evalsha|eval|fcall|function\|load|info|config|flushall|ping|client|select)$/.test(k));
  const innerCalls = inner.reduce((a, [, v]) => a + v.calls, 0);
  const parts = [...stats]
    .filter(([k]) => !/^(info|config|flushall|ping|client|select)$/.test(k))
    .sort((a, b) => b[1].usec - a[1].usec)
    .map(([k, v]) => `${k} ${round2(v.calls / jobs)}/job ${round2(v.usec / v.calls)}us`);
  return `redis commandstats per job (${round2(innerCalls / jobs)} commands/job besides EVALSHA/FCALL): ${parts.join(', ')}`;
}

async function statsLine(admin: Redis, jobs: number): Promise<string> {
  return formatStats(await commandStats(admin), jobs);
}

// ---------------------------------------------------------------- BENCH_DIAG

/** Redis' and some processes' counters at one edge of a timed window. */
interface WindowSnap {
  io: RedisIo;
  procs: (ProcSnap | undefined)[];
}
let redisPid = 0;
async function windowSnap(admin: Redis, pids: number[]): Promise<WindowSnap> {
  // /proc first: INFO's round trip would add the admin call to the window.
  const procs = pids.map(procSnap);
  return { io: await redisIo(admin), procs };
}
/** The diag fields of a window; `names` prefix each process' fields (`redis_`, `worker_`, ...). */
function windowFields(a: WindowSnap, b: WindowSnap, names: string[], jobs: number, socketCommands?: number): Record<string, number> {
  const out: Record<string, number> = redisIoDelta(a.io, b.io, jobs, socketCommands);
  names.forEach((name, i) => Object.assign(out, procDelta(name, a.procs[i], b.procs[i], jobs)));
  return out;
}
function diagLog(system: SystemName, figure: string, fields: Record<string, number>): void {
  log(`  [diag ${system} ${figure}] ${diagLine(fields)}`);
}
/** Runs a figure with the load average noted before and after it (extra.load_before / load_after). */
async function withLoad(system: SystemName, f: () => Promise<Sample>): Promise<Sample> {
  const before = loadNow();
  const s = await f();
  const after = loadNow();
  s.extra = { ...s.extra, load_before: before, load_after: after };
  if (P.diag) log(`  [diag ${system} ${s.figure}] load average ${before} -> ${after}`);
  return s;
}

// ------------------------------------------------------------------ children

interface Child {
  proc: ChildProcess;
  next(type: ChildMessage['type']): Promise<ChildMessage>;
  exited: Promise<void>;
}

let profSeq = 0;
/** Worker processes alive now: a failed run must not leave one draining CPU. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function spawnChild(cfg: ChildConfig, onWindow?: (edge: 'start' | 'end') => void): Child {
  const execArgv = [...process.execArgv, ...(cfg.system === 'openvle-rq@base' ? baseNodeFlags : [])];
  if (P.prof) {
    // One directory per process: tsx's loader thread writes a profile too.
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${P.prof}/${cfg.system}-${cfg.mode}-c${cfg.concurrency}-${++profSeq}`);
  }
  const proc = fork(fileURLToPath(new URL('./child.ts', import.meta.url)), [], {
    env: { ...env, ...(cfg.system === 'openvle-rq@base' ? baseEnv : {}), BENCH_CHILD_CONFIG: JSON.stringify(cfg) },
    execArgv,
    // Child stdout goes to our stderr: stdout carries only the JSON lines.
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  const waiting = new Map<string, (m: ChildMessage) => void>();
  const queued: ChildMessage[] = [];
  proc.on('message', (m: ChildMessage) => {
    if (m.type === 'window') return onWindow?.(m.edge);
    const w = waiting.get(m.type);
    if (w) {
      waiting.delete(m.type);
      w(m);
    } else queued.push(m);
  });
  let failed: ((e: Error) => void) | undefined;
  const exited = new Promise<void>((resolve) => {
    proc.on('exit', (code, sig) => {
      if (code !== 0) failed?.(new Error(`worker process exited with ${code ?? sig}`));
      resolve();
    });
  });
  return {
    proc,
    exited,
    next(type) {
      const i = queued.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(queued.splice(i, 1)[0]!);
      return new Promise((resolve, reject) => {
        failed = reject;
        const t = setTimeout(() => reject(new Error(`worker process: no '${type}' within 120 s`)), 120_000);
        waiting.set(type, (m) => {
          clearTimeout(t);
          resolve(m);
        });
      });
    },
  };
}

async function finishChild(c: Child): Promise<void> {
  const t = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
  await c.exited;
  clearTimeout(t);
}

// ------------------------------------------------------------------- figures

interface Sample {
  system: SystemName;
  /** Set once recorded: samples of one round and figure were taken back to back. */
  round?: number;
  figure: string;
  value: number;
  extra?: Record<string, number>;
  latencies?: number[];
}

async function benchEnqueue(url: string, admin: Redis, system: SystemName, mode: 'single' | 'bulk'): Promise<Sample> {
  await admin.flushall();
  const prod = makeProducer(system, url);
  try {
    const run = async (from: number, count: number) => {
      if (mode === 'single') {
        for (let i = 0; i < count; i++) await prod.add({ i: from + i });
      } else {
        const all = payloads(from, count);
        for (let i = 0; i < count; i += P.batch) await prod.addMany(all.slice(i, i + P.batch));
      }
    };
    await run(0, mode === 'single' ? P.singleWarm : P.bulkWarm);
    await admin.flushall();
    await admin.config('RESETSTAT');
    const count = mode === 'single' ? P.singleN : P.bulkN;
    const rcpu0 = await redisCpuMs(admin);
    const pids = [redisPid, process.pid];
    const w0 = P.diag ? await windowSnap(admin, pids) : undefined;
    const cpu0 = process.cpuUsage();
    const t0 = now();
    await run(0, count);
    const secs = (now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const w1 = P.diag ? await windowSnap(admin, pids) : undefined;
    const redisCpu = (await redisCpuMs(admin)) - rcpu0;
    const diag = w0 && w1 ? windowFields(w0, w1, ['redis_', 'producer_'], count) : {};
    if (P.diag) {
      log(`  [diag ${system} enqueue_${mode}] ${await statsLine(admin, count)}`);
      diagLog(system, `enqueue_${mode}`, diag);
    }
    return {
      system,
      figure: `enqueue_${mode}`,
      value: count / secs,
      extra: {
        producer_cpu_us_per_job: round2((cpu.user + cpu.system) / count),
        redis_cpu_us_per_job: round2((redisCpu * 1000) / count),
        ...diag,
      },
    };
  } finally {
    await prod.close();
  }
}

async function benchDrain(url: string, admin: Redis, system: SystemName, concurrency: number, count: number, prefetch = 0): Promise<Sample> {
  const label = `c${concurrency}${prefetch ? `p${prefetch}` : ''}`;
  await admin.flushall();
  const total = P.drainWarm + count;
  const prod = makeProducer(system, url);
  const all = payloads(0, total);
  for (let i = 0; i < total; i += P.batch) await prod.addMany(all.slice(i, i + P.batch));
  await prod.close();
  await admin.config('RESETSTAT');
  const cpu0 = await redisCpuMs(admin);
  // BENCH_DIAG: snapshots when the child's timed window opens and closes.
  const edges: Partial<Record<'start' | 'end', Promise<WindowSnap>>> = {};
  let childPid = 0;
  const child = spawnChild(
    {
      mode: 'drain',
      system,
      url,
      concurrency,
      prefetch,
      retention: P.retention,
      warm: P.drainWarm,
      expect: total,
      countCommands: P.diag,
    },
    (edge) => void (edges[edge] = windowSnap(admin, [redisPid, childPid])),
  );
  childPid = child.proc.pid!;
  const r = (await child.next('result')) as Extract<ChildMessage, { type: 'result' }>;
  const w0 = await edges.start;
  const w1 = await edges.end;
  await finishChild(child);
  const redisCpu = (await redisCpuMs(admin)) - cpu0;
  const stats = await commandStats(admin);
  const secs = (r.t1 - r.t0) / 1000;
  const extra: Record<string, number> = {
    worker_cpu_us_per_job: round2((r.cpuUser + r.cpuSystem) / count),
    redis_cpu_us_per_job: round2((redisCpu * 1000) / total),
  };
  const figure = `process_${label}`;
  if (P.diag) {
    const sent = Object.entries(r.commands)
      .map(([k, v]) => `${k}=${round2(v / count)}`)
      .join(' ');
    log(`  [diag ${system} ${figure}] client commands per job: ${sent}`);
    log(`  [diag ${system} ${figure}] ${formatStats(stats, total)}`);
    if (w0 && w1) {
      // ioredis' count (ours, BullMQ) is what the worker sent; Bee-Queue's
      // node_redis is not counted, so its calls per read fall back to every
      // command Redis ran, script-inner ones included.
      const sentCalls = Object.values(r.commands).reduce((a, b) => a + b, 0);
      const diag = windowFields(w0, w1, ['redis_', 'worker_'], count, sentCalls > 0 ? sentCalls : undefined);
      diag.worker_socket_reads_per_job = round2(r.socketReads / count);
      diag.worker_socket_writes_per_job = round2(r.socketWrites / count);
      diagLog(system, figure, diag);
      Object.assign(extra, diag);
    }
  }
  return { system, figure, value: count / secs, extra };
}

async function clockOffset(child: Child): Promise<number> {
  // child clock - parent clock, from the ping with the shortest round trip.
  let best = { rtt: Infinity, offset: 0 };
  for (let i = 0; i < 30; i++) {
    const sent = now();
    child.proc.send({ type: 'ping', sent });
    const m = (await child.next('pong')) as Extract<ChildMessage, { type: 'pong' }>;
    const back = now();
    if (back - sent < best.rtt) best = { rtt: back - sent, offset: m.child - (sent + back) / 2 };
  }
  return best.offset;
}

/**
 * Pickup latency of an idle worker: jobs enqueued through the system's API
 * ('add'), or, for openvle-rq, pushed as Python RQ pushes them ('push':
 * job hash and RPUSH, no wake-up publish).
 */
async function benchLatency(url: string, admin: Redis, system: SystemName, via: 'add' | 'push' | 'push3'): Promise<Sample> {
  await admin.flushall();
  const total = P.latWarm + P.latN;
  // push3: the worker listens on three queues and every job goes to the
  // last one, so each pickup goes through the multi-queue dequeue and watch.
  const queues = via === 'push3' ? ['bench-a', 'bench-b', QUEUE] : undefined;
  const child = spawnChild({
    mode: 'latency',
    system,
    url,
    concurrency: 1,
    retention: P.retention,
    warm: 0,
    expect: total,
    countCommands: P.diag,
    ...(queues ? { queues } : {}),
  });
  await child.next('ready');
  const offset = await clockOffset(child);
  const prod = makeProducer(system, url);
  await sleep(200);
  // What the idle worker costs Redis: every command it sends while nothing
  // is enqueued (the INFO call that ends the window counts one).
  const commandsNow = async () => Number(parseInfo(await admin.info('stats')).get('total_commands_processed'));
  const idle0 = await commandsNow();
  const idleT0 = now();
  await sleep(P.idleMs);
  const idleCommandsPerSec = (await commandsNow()) - idle0 - 1;
  const idleSecs = (now() - idleT0) / 1000;
  const pids = [redisPid, child.proc.pid!];
  const w0 = P.diag ? await windowSnap(admin, pids) : undefined;
  const start = now();
  for (let i = 0; i < total; i++) {
    const due = start + i * P.latIntervalMs;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    if (via === 'push') await prod.push!({ i, t: now() });
    else if (via === 'push3') await prod.push!({ i, t: now() }, QUEUE);
    else await prod.add({ i, t: now() });
  }
  const r = (await child.next('result')) as Extract<ChildMessage, { type: 'result' }>;
  const w1 = P.diag ? await windowSnap(admin, pids) : undefined;
  await prod.close();
  await finishChild(child);
  const lat = r.latencies.filter(([i]) => i >= P.latWarm).map(([, ms]) => ms - offset);
  const figure = via === 'add' ? 'latency' : via === 'push' ? 'latency_rpush' : 'latency_rpush3';
  const extra: Record<string, number> = { clock_offset_ms: Math.round(offset * 1000) / 1000, idle_commands_per_sec: round2(idleCommandsPerSec / idleSecs) };
  if (w0 && w1) {
    // The whole push phase, producer included (its calls are not counted, so no calls per read).
    const diag = windowFields(w0, w1, ['redis_', 'worker_'], total);
    diag.worker_socket_reads_per_job = round2(r.socketReads / total);
    diag.worker_socket_writes_per_job = round2(r.socketWrites / total);
    diag.worker_calls_per_job = round2(Object.values(r.commands).reduce((a, b) => a + b, 0) / total);
    diagLog(system, figure, diag);
    Object.assign(extra, diag);
  }
  return { system, figure, value: percentile(lat, 50), latencies: lat, extra };
}

function gitCommit(): string {
  try {
    const dir = fileURLToPath(new URL('..', import.meta.url));
    const head = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--', 'src', 'lua'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${head}+uncommitted src/lua changes` : head;
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------- main

async function main(): Promise<void> {
  const wall0 = now();
  const load0 = loadavg();
  const commit = gitCommit();
  const redis = await BenchRedis.start();
  const admin = new Redis(redis.port, '127.0.0.1');
  const server = parseInfo(await admin.info('server'));
  const version = server.get('redis_version');
  redisPid = Number(server.get('process_id'));
  for (const [name, value] of redisConfig) await admin.config('SET', name, value);
  log(
    `bench: redis ${version} on :${redis.port}, ${availableParallelism()} CPUs, load ${load0.map((x) => x.toFixed(2)).join(' ')}, ` +
      `${P.rounds} rounds, retention=${P.retention}, node ${process.version}, openvle-rq from ${engineSource}/` +
      (redisConfig.length ? `, redis config ${redisConfig.map((c) => c.join(' ')).join(', ')}` : ''),
  );
  const samples: Sample[] = [];
  try {
    // Figure by figure, every system back to back: this host's speed drifts
    // by 2x over tens of seconds, so a system's sample is compared with the
    // others' samples of the same figure taken seconds apart, not a minute.
    const figures: [string, (system: SystemName) => Promise<Sample>, (system: SystemName) => boolean][] = [
      ['single', (s) => benchEnqueue(redis.url, admin, s, 'single'), () => true],
      ['bulk', (s) => benchEnqueue(redis.url, admin, s, 'bulk'), () => true],
      ['c1', (s) => benchDrain(redis.url, admin, s, 1, P.c1N), () => true],
      // --prefetch 1 (openvle-rq only; compared with the peers' c1, just before)
      ['c1p1', (s) => benchDrain(redis.url, admin, s, 1, P.c1N, 1), isOurs],
      ['c2', (s) => benchDrain(redis.url, admin, s, 2, P.c2N), () => true],
      ['c50', (s) => benchDrain(redis.url, admin, s, 50, P.c50N), () => true],
      ['latency', (s) => benchLatency(redis.url, admin, s, 'add'), () => true],
      ['rpush', (s) => benchLatency(redis.url, admin, s, 'push'), isOurs],
      ['rpush3', (s) => benchLatency(redis.url, admin, s, 'push3'), isOurs],
    ];
    for (let round = 0; round < P.rounds; round++) {
      const order = round % 2 === 0 ? systems : [...systems].reverse();
      for (const [name, run, applies] of figures) {
        if (!only.has(name)) continue;
        for (const system of order) {
          if (!applies(system)) continue;
          const s = await withLoad(system, () => run(system));
          samples.push({ ...s, round });
          const x = s.extra ? ' ' + JSON.stringify(s.extra) : '';
          log(`round ${round + 1} ${system.padEnd(10)} ${s.figure.padEnd(16)} ${s.value.toFixed(s.figure.startsWith('latency') ? 3 : 0)}${x}`);
        }
      }
    }
  } finally {
    admin.disconnect();
    await redis.stop();
  }

  // One line per figure and system: the median over rounds (latency: the
  // percentiles of all rounds' samples pooled).
  const lines: Record<string, unknown>[] = [];
  const value = new Map<string, number>();
  const pick = (system: SystemName, figure: string) => samples.filter((s) => s.system === system && s.figure === figure);
  // Every line, whatever its figure: the load average around each round and,
  // with BENCH_DIAG, the median over rounds of every diag field (diag.ts).
  const plain = new Set(['worker_cpu_us_per_job', 'redis_cpu_us_per_job', 'producer_cpu_us_per_job', 'clock_offset_ms', 'idle_commands_per_sec', 'load_before', 'load_after']);
  const roundsOf = (ss: Sample[]): Record<string, unknown> => {
    const out: Record<string, unknown> = { load: ss.map((s) => [s.extra?.load_before, s.extra?.load_after]) };
    if (!P.diag) return out;
    const names = new Set(ss.flatMap((s) => Object.keys(s.extra ?? {})).filter((k) => !plain.has(k)));
    for (const k of names) {
      const xs = ss.map((s) => s.extra?.[k]).filter((x): x is number => x !== undefined);
      if (xs.length) out[k] = round2(median(xs));
    }
    return out;
  };
  for (const system of systems) {
    for (const [figure, mode] of [
      ['enqueue_single', 'single'],
      ['enqueue_bulk', 'bulk'],
    ] as const) {
      const ss = pick(system, figure);
      if (ss.length === 0) continue;
      const v = Math.round(median(ss.map((s) => s.value)));
      value.set(`${figure}:${system}`, v);
      lines.push({
        system,
        figure: 'enqueue_per_sec',
        mode,
        ...(mode === 'bulk' ? { batch: P.batch } : {}),
        jobs: mode === 'single' ? P.singleN : P.bulkN,
        value: v,
        unit: 'jobs/s',
        samples: ss.map((s) => Math.round(s.value)),
        ...roundsOf(ss),
      });
    }
    for (const [c, prefetch] of [[1, 0], [2, 0], [50, 0], [1, 1]] as const) {
      const label = `c${c}${prefetch ? `p${prefetch}` : ''}`;
      const ss = pick(system, `process_${label}`);
      if (ss.length === 0) continue;
      const v = Math.round(median(ss.map((s) => s.value)));
      value.set(`process_${label}:${system}`, v);
      lines.push({
        system,
        figure: 'process_per_sec',
        concurrency: c,
        ...(prefetch ? { prefetch } : {}),
        jobs: c === 1 ? P.c1N : c === 2 ? P.c2N : P.c50N,
        value: v,
        unit: 'jobs/s',
        samples: ss.map((s) => Math.round(s.value)),
        worker_cpu_us_per_job: round2(median(ss.map((s) => s.extra!.worker_cpu_us_per_job!))),
        redis_cpu_us_per_job: round2(median(ss.map((s) => s.extra!.redis_cpu_us_per_job!))),
        retention: P.retention,
        ...roundsOf(ss),
      });
    }
    for (const [fig, prefix] of [
      ['latency', 'pickup_latency'],
      ['latency_rpush', 'rpush_pickup_latency'],
      ['latency_rpush3', 'rpush3_pickup_latency'],
    ] as const) {
      const ls = pick(system, fig);
      if (ls.length === 0) continue;
      const pooled = ls.flatMap((s) => s.latencies!);
      for (const p of [50, 99]) {
        const v = Math.round(percentile(pooled, p) * 1000) / 1000;
        value.set(`${fig}_p${p}:${system}`, v);
        lines.push({
          system,
          figure: `${prefix}_p${p}`,
          concurrency: 1,
          value: v,
          unit: 'ms',
          jobs: pooled.length,
          interval_ms: P.latIntervalMs,
          idle_worker_redis_commands_per_sec: round2(median(ls.map((s) => s.extra!.idle_commands_per_sec!))),
          samples: ls.map((s) => Math.round(percentile(s.latencies!, p) * 1000) / 1000),
          ...(fig === 'latency_rpush3' ? { queues: 3 } : {}),
          ...roundsOf(ls),
        });
      }
    }
  }
  for (const l of lines) process.stdout.write(JSON.stringify(l) + '\n');
  const others = systems.filter((s) => s !== 'openvle-rq');
  if (!systems.includes('openvle-rq')) return;
  for (const other of others) {
    const ratios: Record<string, number> = {};
    const keys = ['enqueue_single', 'enqueue_bulk', 'process_c1', 'process_c2', 'process_c50', 'latency_p50', 'latency_p99', 'latency_rpush_p50', 'latency_rpush_p99', 'latency_rpush3_p50', 'latency_rpush3_p99'];
    for (const key of keys) {
      const a = value.get(`${key}:openvle-rq`);
      const b = value.get(`${key}:${other}`);
      if (a !== undefined && b !== undefined && b !== 0) ratios[key] = Math.round((a / b) * 100) / 100;
    }
    // our --prefetch 1 against the other's c1 (a peer has no c1p1; a base build has its own)
    const p1 = value.get('process_c1p1:openvle-rq');
    const peer = value.get(`process_c1p1:${other}`) ?? value.get(`process_c1:${other}`);
    if (p1 !== undefined && peer) ratios[value.has(`process_c1p1:${other}`) ? 'process_c1p1' : 'process_c1p1_vs_c1'] = Math.round((p1 / peer) * 100) / 100;
    // Per round, ours / theirs of samples taken back to back, then the median
    // over rounds: steadier than the ratio of medians when the host's speed
    // drifts, since each pair shares its moment.
    const paired: Record<string, { median: number; range: [number, number] }> = {};
    const pairs: [string, string, string][] = [
      ['enqueue_single', 'enqueue_single', 'enqueue_single'],
      ['enqueue_bulk', 'enqueue_bulk', 'enqueue_bulk'],
      ['process_c1', 'process_c1', 'process_c1'],
      ['process_c2', 'process_c2', 'process_c2'],
      ['process_c50', 'process_c50', 'process_c50'],
      isOurs(other) ? ['process_c1p1', 'process_c1p1', 'process_c1p1'] : ['process_c1p1_vs_c1', 'process_c1p1', 'process_c1'],
    ];
    for (const [key, mine, theirs] of pairs) {
      const rs: number[] = [];
      for (let round = 0; round < P.rounds; round++) {
        const a = samples.find((s) => s.system === 'openvle-rq' && s.figure === mine && s.round === round);
        const b = samples.find((s) => s.system === other && s.figure === theirs && s.round === round);
        if (a && b && b.value > 0) rs.push(a.value / b.value);
      }
      if (rs.length) paired[key] = { median: round2(median(rs)), range: [round2(Math.min(...rs)), round2(Math.max(...rs))] };
    }
    process.stdout.write(
      JSON.stringify({
        figure: 'ratios',
        of: `openvle-rq/${other}`,
        note: 'throughput: higher is better for us; latency: lower is better for us; paired: the median over rounds of each round\'s ratio',
        ...ratios,
        paired,
        rounds: P.rounds,
        retention: P.retention,
        engine: engineSource,
        seconds: Math.round((now() - wall0) / 1000),
        loadavg_at_start: Number(load0[0]!.toFixed(2)),
        loadavg_at_end: Number(loadavg()[0]!.toFixed(2)),
        commit,
        ...(redisConfig.length ? { redis_config: Object.fromEntries(redisConfig) } : {}),
      }) + '\n',
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
