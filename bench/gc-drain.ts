// What one worker allocates and promotes per job, from V8's own GC trace:
// bytes counted by the heap, steady within a few per cent from run to run
// where CPU time on this shared 2-core VM is not (bench/README, "The
// worker's GC").
//   node --import tsx bench/gc-drain.ts                 (openvle-rq, c=50)
//   GC_SYSTEM=bullmq GC_CONCURRENCY=1 node --import tsx bench/gc-drain.ts
// Starts its own redis-server, then runs itself again as the drain: fills
// the queue with N no-op jobs, runs one worker in that process with
// --trace-gc-nvp, and reports the scavenges of the timed window (from the
// WARM-th job finished to the last): bytes allocated and promoted per job,
// GC pause per 1,000 jobs, jobs/s and CPU per job (those two move with the
// machine; compare builds side by side). GC_RUNS repeats the drain;
// GC_SYSTEM=openvle-rq@base with BENCH_BASE set measures a base build;
// GC_NODE_FLAGS passes V8 flags to the drain (e.g. a GC setting to try).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { BenchRedis, redisCpuUs } from './redis.js';
import { prefill, makeConsumer, type SystemName } from './systems.js';

const SYSTEM = (process.env.GC_SYSTEM ?? 'openvle-rq') as SystemName;
const C = Number(process.env.GC_CONCURRENCY ?? 50);
const N = Number(process.env.GC_JOBS ?? 20000);
const WARM = Number(process.env.GC_WARM ?? 1000);
const RUNS = Number(process.env.GC_RUNS ?? 1);
const MARK = 'gc-drain: window starts';

interface DrainResult {
  jobs_per_sec: number;
  worker_cpu_us_per_job: number;
  redis_cpu_us_per_job: number;
  jobs: number;
  gc_pause_ms: number;
}

/** The child: fill, drain, print the result as the last line. */
async function drain(url: string): Promise<void> {
  const admin = new Redis(url);
  await admin.flushall();
  await prefill(SYSTEM, url, N);
  let counting = false;
  let pause = 0;
  new PerformanceObserver((list) => {
    if (counting) for (const e of list.getEntries()) pause += e.duration;
  }).observe({ entryTypes: ['gc'] });
  let finished = 0;
  let t0 = 0;
  let cpu0 = process.cpuUsage();
  let redis0 = 0;
  let done!: () => void;
  const drained = new Promise<void>((resolve) => (done = resolve));
  const consumer = makeConsumer(SYSTEM, url, {
    concurrency: C,
    retention: 'keep',
    onStart: () => {},
    onFinished: () => {
      finished++;
      if (finished === WARM) {
        // --trace-gc-nvp writes to stdout too: this line splits its output
        process.stdout.write(`${MARK}\n`);
        counting = true;
        t0 = performance.now();
        cpu0 = process.cpuUsage();
        void redisCpuUs(admin).then((v) => (redis0 = v));
      }
      if (finished === N) done();
    },
  });
  await drained;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  counting = false;
  const jobs = N - WARM;
  const result: DrainResult = {
    jobs_per_sec: Math.round(jobs / seconds),
    worker_cpu_us_per_job: +((cpu.user + cpu.system) / jobs).toFixed(1),
    redis_cpu_us_per_job: +(((await redisCpuUs(admin)) - redis0) / jobs).toFixed(1),
    jobs,
    gc_pause_ms: pause,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await consumer.close();
  admin.disconnect();
  process.exit(0);
}

/** One `--trace-gc-nvp` line's `name=value` field. */
function field(line: string, name: string): number {
  const m = new RegExp(`\\b${name}=([\\d.]+)`).exec(line);
  return m ? Number(m[1]) : 0;
}

async function main(): Promise<void> {
  const redis = await BenchRedis.start();
  try {
    for (let run = 1; run <= RUNS; run++) {
      const flags = (process.env.GC_NODE_FLAGS ?? '').split(' ').filter(Boolean);
      const child = spawnSync(process.execPath, ['--trace-gc-nvp', ...flags, '--import', 'tsx', fileURLToPath(import.meta.url)], {
        env: { ...process.env, GC_DRAIN_URL: redis.url },
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
      });
      if (child.status !== 0) throw new Error(`the drain failed (${child.status}): ${child.stderr.slice(-2000)}`);
      const lines = child.stdout.split('\n');
      const start = lines.indexOf(MARK);
      const { gc_pause_ms: pauseMs, ...result } = JSON.parse(lines.filter((l) => l.startsWith('{')).pop()!) as DrainResult;
      // The window's scavenges, less the first: it may have begun before the mark.
      const scavenges = lines.slice(start + 1).filter((l) => l.includes(' gc=s ')).slice(1);
      if (start < 0 || scavenges.length === 0) throw new Error('no scavenge traced in the timed window (raise GC_JOBS)');
      const marks = lines.slice(start + 1).filter((l) => l.includes(' gc=mc ')).length;
      const sum = (name: string) => scavenges.reduce((a, l) => a + field(l, name), 0);
      // jobs those scavenges cover: the window's rate times their mutator and pause time
      const covered = (result.jobs_per_sec * (sum('mutator') + sum('pause'))) / 1000;
      process.stdout.write(
        `${JSON.stringify({
          system: SYSTEM,
          concurrency: C,
          run,
          ...result,
          gc_pause_ms_per_1000_jobs: +((pauseMs / result.jobs) * 1000).toFixed(2),
          scavenges: scavenges.length,
          mark_compacts: marks,
          allocated_bytes_per_job: Math.round(sum('allocated') / covered),
          promoted_bytes_per_job: Math.round(sum('promoted') / covered),
        })}\n`,
      );
    }
  } finally {
    await redis.stop();
  }
}

const url = process.env.GC_DRAIN_URL;
(url ? drain(url) : main()).catch((err: unknown) => {
  process.stderr.write(`gc-drain: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
