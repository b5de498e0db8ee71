// When a worker reaches its steady state: jobs/s and CPU per job of the
// process' main thread and of its other threads (V8's compiler and GC
// threads), window by window of one drain, for the warm-up `npm run bench`
// leaves outside its clock (bench/README, "Warm-up").
//   node --import tsx bench/warmup.ts
//   WU_SYSTEM=bullmq WU_CONCURRENCY=50 node --import tsx bench/warmup.ts
// The worker runs in this process (the queue is filled first, by the
// system's own producer) on a redis-server of its own; CPU comes from
// /proc/self/task, in clock ticks (10 ms), so a window needs thousands of
// jobs.
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { BenchRedis } from './redis.js';
import { prefill, makeConsumer, type SystemName } from './systems.js';

const SYSTEM = (process.env.WU_SYSTEM ?? 'openvle-rq') as SystemName;
const C = Number(process.env.WU_CONCURRENCY ?? 1);
const MARKS = (process.env.WU_MARKS ?? '1000,2000,3000,4000,5000,8000,14000,20000').split(',').map(Number);
const N = MARKS[MARKS.length - 1]!;
const TICK_US = 1e6 / 100; // USER_HZ

/** CPU time (µs) of the main thread and of all the others, now. */
function threadsCpu(): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // a thread that ended meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const us = (Number(f[11]) + Number(f[12])) * TICK_US;
    if (Number(tid) === process.pid) main += us;
    else others += us;
  }
  return { main, others };
}

const redis = await BenchRedis.start();
try {
  await prefill(SYSTEM, redis.url, N);
  const snaps: { at: number; t: number; cpu: ReturnType<typeof threadsCpu> }[] = [];
  let finished = 0;
  let done!: () => void;
  const drained = new Promise<void>((resolve) => (done = resolve));
  const consumer = makeConsumer(SYSTEM, redis.url, {
    concurrency: C,
    retention: 'keep',
    onStart: () => {},
    onFinished: () => {
      finished++;
      if (MARKS.includes(finished)) snaps.push({ at: finished, t: performance.now(), cpu: threadsCpu() });
      if (finished === N) done();
    },
  });
  await drained;
  await consumer.close();
  for (let i = 1; i < snaps.length; i++) {
    const a = snaps[i - 1]!;
    const b = snaps[i]!;
    const jobs = b.at - a.at;
    process.stdout.write(
      `${JSON.stringify({
        system: SYSTEM,
        concurrency: C,
        jobs: `${a.at}-${b.at}`,
        jobs_per_sec: Math.round(jobs / ((b.t - a.t) / 1000)),
        main_thread_us_per_job: +((b.cpu.main - a.cpu.main) / jobs).toFixed(1),
        other_threads_us_per_job: +((b.cpu.others - a.cpu.others) / jobs).toFixed(1),
      })}\n`,
    );
  }
} finally {
  await redis.stop();
}
process.exit(0);
