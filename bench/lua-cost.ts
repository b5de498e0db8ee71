// Redis-side cost of openvle-rq's per-job scripts, with no worker code in
// the way: enqueue (bulk), dequeue (one job per call), finish (no next job)
// and the fused finish+dequeue a busy worker runs; dequeue is also run 50
// jobs per call, which shows the per-call part of its cost. All but the
// fused phase are sent in pipelines so that Redis never waits on this
// process; the fused one goes one call at a time, as a concurrency-1 worker
// does.
//   node --import tsx bench/lua-cost.ts          (own redis-server)
//   URL=redis://127.0.0.1:6379 N=5000 ROUNDS=3 RESULT_TTL=500 node --import tsx bench/lua-cost.ts
// Prints, per phase: the script's usec_per_call (INFO commandstats of FCALL,
// or of EVALSHA with OPENVLE_RQ_SCRIPTS=eval: wall time in the script), Redis
// CPU per job (INFO cpu: includes socket I/O) and the commands run inside the
// scripts per job. The "pipelines" are calls sent without waiting for the
// replies (ioredis writes them back to back on the one connection).
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { createRedis, Queue } from '../src/index.js';
import { birth, dequeue, recordEnd, type Next } from '../src/engine/transitions.js';
import { finishOf, next as nextJobs } from './lua-jobs.js';
import { BenchRedis, parseInfo, redisCpuUs } from './redis.js';

const N = Number(process.env.N ?? 5000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const RESULT_TTL = Number(process.env.RESULT_TTL ?? 500);
const PIPE = 100;
const QUEUE = 'luacost';


async function phase(admin: Redis, label: string, jobs: number, fn: () => Promise<void>): Promise<void> {
  await admin.config('RESETSTAT');
  const c0 = await redisCpuUs(admin);
  const t0 = performance.now();
  await fn();
  const wall = performance.now() - t0;
  const c1 = await redisCpuUs(admin);
  let evalCalls = 0;
  let evalUsec = 0;
  let inner = 0;
  for (const [k, v] of parseInfo(await admin.info('commandstats'))) {
    const calls = Number(/calls=(\d+)/.exec(v)?.[1] ?? 0);
    if (k === 'cmdstat_evalsha' || k === 'cmdstat_eval' || k === 'cmdstat_fcall') {
      evalCalls += calls;
      evalUsec += Number(/usec=(\d+)/.exec(v)?.[1] ?? 0);
    } else if (!/^cmdstat_(info|config|function\|load)$/.test(k)) inner += calls;
  }
  process.stdout.write(
    `${label.padEnd(24)} script ${(evalUsec / jobs).toFixed(1).padStart(6)} us/job (${evalCalls} calls)  ` +
      `redis cpu ${((c1 - c0) / jobs).toFixed(1).padStart(6)} us/job  ${(inner / jobs).toFixed(1)} inner cmds/job  ` +
      `wall ${((wall / jobs) * 1000).toFixed(1)} us/job\n`,
  );
}

const srv = process.env.URL ? undefined : await BenchRedis.start();
const url = process.env.URL ?? srv!.url;
const conn = createRedis(url);
const admin = new Redis(url);
const worker = 'luacost' + randomBytes(4).toString('hex');
const q = new Queue(QUEUE, conn);
const next = (k: number) => nextJobs(k, QUEUE);
const fin = (x: { id: string; execId: string }, k: number) => recordEnd(conn, worker, finishOf(x, RESULT_TTL, QUEUE), next(k));
const jobsOf = ({ taken }: Next) => (taken === 'suspended' ? [] : taken);
try {
  for (let r = 0; r < ROUNDS; r++) {
    await admin.flushall();
    await birth(conn, { worker, keyTtl: 480, queues: [QUEUE], fields: [['queues', QUEUE]] });
    const specs = Array.from({ length: 3 * N }, (_, i) => ({ func: 'bench.noop', args: [{ i }] }));
    await phase(admin, 'enqueue (bulk 1000)', 3 * N, async () => {
      for (let i = 0; i < specs.length; i += 1000) await q.enqueueMany(specs.slice(i, i + 1000));
    });
    const running: { id: string; execId: string }[] = [];
    await phase(admin, 'dequeue (1 per call)', N, async () => {
      for (let i = 0; i < N; i += PIPE) {
        const calls = Array.from({ length: PIPE }, () => dequeue(conn, worker, next(1)));
        for (const t of await Promise.all(calls)) running.push(...jobsOf(t));
      }
    });
    await phase(admin, 'finish (no next job)', N, async () => {
      for (let i = 0; i < N; i += PIPE) await Promise.all(running.slice(i, i + PIPE).map((x) => fin(x, 0)));
    });
    // The same jobs again, taken 50 per call: the difference to '1 per call'
    // is the per-call part (prelude, TIME, suspension check, worker hash).
    const running50: { id: string; execId: string }[] = [];
    await phase(admin, 'dequeue (50 per call)', N, async () => {
      for (let i = 0; i < N; i += 50 * 10) {
        const calls = Array.from({ length: 10 }, () => dequeue(conn, worker, next(50)));
        for (const t of await Promise.all(calls)) running50.push(...jobsOf(t));
      }
    });
    await phase(admin, 'finish those (no next)', running50.length, async () => {
      for (let i = 0; i < running50.length; i += PIPE) await Promise.all(running50.slice(i, i + PIPE).map((x) => fin(x, 0)));
    });
    let hand = jobsOf(await dequeue(conn, worker, next(1)))[0]!;
    await phase(admin, 'finish+dequeue, 1 by 1', N - 1, async () => {
      for (let i = 0; i < N - 1; i++) hand = jobsOf((await fin(hand, 1)).next)[0]!;
    });
  }
} finally {
  conn.disconnect();
  admin.disconnect();
  await srv?.stop();
}
