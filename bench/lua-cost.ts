// Redis-side cost of openvle-rq's per-job scripts, with no worker code in
// the way: enqueue (bulk), dequeue (one job per call), finish (no next job)
// and the fused finish+dequeue a busy worker runs; dequeue is also run 50
// jobs per call, which shows the per-call part of its cost. All but the
// fused phase are sent in pipelines so that Redis never waits on this
// process; the fused one goes one call at a time, as a concurrency-1 worker
// does.
//   node --import tsx bench/lua-cost.ts          (own redis-server)
//   URL=redis://127.0.0.1:6379 N=5000 ROUNDS=3 RESULT_TTL=500 node --import tsx bench/lua-cost.ts
// Prints, per phase: EVALSHA usec_per_call (INFO commandstats: wall time in
// the script), Redis CPU per job (INFO cpu: includes socket I/O) and the
// commands run inside the scripts per job.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { createRedis, Queue } from '../src/index.js';
import { runScript, runScriptBuffer } from '../src/engine/scripts.js';
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
    if (k === 'cmdstat_evalsha' || k === 'cmdstat_eval') {
      evalCalls += calls;
      evalUsec += Number(/usec=(\d+)/.exec(v)?.[1] ?? 0);
    } else if (!/^cmdstat_(info|config)$/.test(k)) inner += calls;
  }
  process.stdout.write(
    `${label.padEnd(24)} script ${(evalUsec / jobs).toFixed(1).padStart(6)} us/job (${evalCalls} calls)  ` +
      `redis cpu ${((c1 - c0) / jobs).toFixed(1).padStart(6)} us/job  ${(inner / jobs).toFixed(1)} inner cmds/job  ` +
      `wall ${((wall / jobs) * 1000).toFixed(1)} us/job\n`,
  );
}

type ScriptFn = (...a: unknown[]) => void;

const srv = process.env.URL ? undefined : await BenchRedis.start();
const url = process.env.URL ?? srv!.url;
const conn = createRedis(url);
const admin = new Redis(url);
const worker = 'luacost' + randomBytes(4).toString('hex');
const q = new Queue(QUEUE, conn);
const tail = (k: number): (string | number)[] => {
  const ids: string[] = [];
  for (let i = 0; i < k; i++) ids.push(randomBytes(16).toString('hex'));
  return [k, 20, 80, 1, QUEUE, ...ids];
};
const fin = (x: { id: string; e: string }, k: number): (string | number)[] => {
  const now = Date.now() / 1000;
  return [x.id, x.e, QUEUE, worker, '', RESULT_TTL, '', now.toFixed(6), now.toFixed(6), '0.000100', ...tail(k)];
};
try {
  for (let r = 0; r < ROUNDS; r++) {
    await admin.flushall();
    await runScript(conn, 'birth', [worker, 480, 1, QUEUE, 'queues', QUEUE]);
    const specs = Array.from({ length: 3 * N }, (_, i) => ({ func: 'bench.noop', args: [{ i }] }));
    await phase(admin, 'enqueue (bulk 1000)', 3 * N, async () => {
      for (let i = 0; i < specs.length; i += 1000) await q.enqueueMany(specs.slice(i, i + 1000));
    });
    const running: { id: string; e: string }[] = [];
    await phase(admin, 'dequeue (1 per call)', N, async () => {
      for (let i = 0; i < N; i += PIPE) {
        const p = conn.pipeline() as unknown as Record<string, ScriptFn> & { exec(): Promise<[Error | null, unknown][]> };
        for (let j = 0; j < PIPE; j++) p.rq_dequeueBuffer!(worker, ...tail(1));
        for (const [err, rep] of await p.exec()) {
          if (err) throw err;
          const a = rep as Buffer[];
          running.push({ id: String(a[0]), e: String(a[2]) });
        }
      }
    });
    await phase(admin, 'finish (no next job)', N, async () => {
      for (let i = 0; i < N; i += PIPE) {
        const p = conn.pipeline() as unknown as Record<string, ScriptFn> & { exec(): Promise<[Error | null, unknown][]> };
        for (const x of running.slice(i, i + PIPE)) p.rq_finishBuffer!(...fin(x, 0));
        for (const [err] of await p.exec()) if (err) throw err;
      }
    });
    // The same jobs again, taken 50 per call: the difference to '1 per call'
    // is the per-call part (prelude, TIME, suspension check, worker hash).
    const running50: { id: string; e: string }[] = [];
    await phase(admin, 'dequeue (50 per call)', N, async () => {
      for (let i = 0; i < N; i += 50 * 10) {
        const p = conn.pipeline() as unknown as Record<string, ScriptFn> & { exec(): Promise<[Error | null, unknown][]> };
        for (let j = 0; j < 10; j++) p.rq_dequeueBuffer!(worker, ...tail(50));
        for (const [err, rep] of await p.exec()) {
          if (err) throw err;
          const a = rep as Buffer[];
          for (let k = 0; k + 3 < a.length; k += 4) running50.push({ id: String(a[k]), e: String(a[k + 2]) });
        }
      }
    });
    await phase(admin, 'finish those (no next)', running50.length, async () => {
      for (let i = 0; i < running50.length; i += PIPE) {
        const p = conn.pipeline() as unknown as Record<string, ScriptFn> & { exec(): Promise<[Error | null, unknown][]> };
        for (const x of running50.slice(i, i + PIPE)) p.rq_finishBuffer!(...fin(x, 0));
        for (const [err] of await p.exec()) if (err) throw err;
      }
    });
    let cur = (await runScriptBuffer(conn, 'dequeue', [worker, ...tail(1)])) as Buffer[];
    let hand = { id: String(cur[0]), e: String(cur[2]) };
    await phase(admin, 'finish+dequeue, 1 by 1', N - 1, async () => {
      for (let i = 0; i < N - 1; i++) {
        const rep = (await runScriptBuffer(conn, 'finish', fin(hand, 1))) as [Buffer, Buffer[]];
        cur = rep[1];
        hand = { id: String(cur[0]), e: String(cur[2]) };
      }
    });
  }
} finally {
  conn.disconnect();
  admin.disconnect();
  await srv?.stop();
}
