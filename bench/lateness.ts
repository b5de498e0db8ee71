// Scheduling lateness: 1,000 jobs due at random times in the next 10 s;
// lateness = enqueued_at (written when the scheduler moves the job to its
// queue, from Redis' clock) minus the due time. Runs our Scheduler, then
// Python RQ's (Debian's 1.13, `rq worker --with-scheduler`) on the same
// kind of load if it is installed. Prints one JSON line per system.
//   node --import tsx bench/lateness.ts [jobs] [window_ms]
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRedis } from '../src/engine/connection.js';
import { keys } from '../src/engine/keys.js';
import { silentLogger } from '../src/engine/logger.js';
import { Queue } from '../src/engine/queue.js';
import { TaskRegistry } from '../src/engine/tasks.js';
import { Worker } from '../src/engine/worker/index.js';
import { parseUtc } from '../src/engine/time.js';
import { RedisServer } from '../test/helpers/redis.js';

const N = Number(process.argv[2] ?? 1000);
const WINDOW = Number(process.argv[3] ?? 10_000);
const PY_TASKS = fileURLToPath(new URL('../test/interop/py/', import.meta.url));

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(system: string, url: string, runScheduler: (queue: string) => Promise<() => Promise<void>>) {
  const redis = createRedis(url);
  const name = `late-${system.replace(/[^\w-]/g, '_')}`;
  const q = new Queue(name, redis);
  const start = Date.now() + 500;
  const due = new Map<string, number>();
  const specs = Array.from({ length: N }, (_, i) => ({ func: 'tasks.add', args: [1, 2], jobId: `${system.replace(/[^\w-]/g, '_')}-${i}`, at: start + Math.random() * WINDOW }));
  for (const s of specs) due.set(s.jobId, s.at);
  const stop = await runScheduler(name);
  await q.enqueueMany(specs);
  const deadline = Date.now() + WINDOW + 15_000;
  while ((await redis.zcard(keys.registry('scheduled', name))) > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  const late: number[] = [];
  const pipe = redis.pipeline();
  for (const id of due.keys()) pipe.hget(keys.job(id), 'enqueued_at');
  const res = (await pipe.exec()) ?? [];
  let early = 0;
  [...due.values()].forEach((at, i) => {
    const enq = parseUtc(res[i]?.[1] as string | null);
    if (!enq) return;
    const ms = enq.getTime() - at;
    if (ms < -1) early++;
    late.push(ms);
  });
  late.sort((a, b) => a - b);
  redis.disconnect();
  return {
    system,
    figure: 'scheduling_lateness',
    jobs: N,
    window_ms: WINDOW,
    moved: late.length,
    early,
    p50_ms: Math.round(pct(late, 50) * 10) / 10,
    p99_ms: Math.round(pct(late, 99) * 10) / 10,
    max_ms: Math.round(late[late.length - 1]! * 10) / 10,
  };
}

const server = await RedisServer.start();
try {
  const ours = await measure('openvle-rq', server.url, async (queue) => {
    // A worker with --with-scheduler, as in production: its subscriber hears
    // our producers schedule and wakes the scheduler early when needed.
    const w = new Worker([queue], { connection: createRedis(server.url), tasks: new TaskRegistry().register('tasks.add', (a: number, b: number) => a + b), withScheduler: true, logger: silentLogger, concurrency: 10 });
    const done = w.work();
    await new Promise<void>((r) => w.once('started', () => r()));
    return async () => {
      w.stop();
      await done;
      w.connection.disconnect();
    };
  });
  console.log(JSON.stringify(ours));
  const hasPy = spawnSync('/usr/bin/python3', ['-c', 'import rq'], { env: { ...process.env, PYTHONPATH: '' } }).status === 0;
  if (hasPy) {
    const py = await measure('python-rq-1.13', server.url, async (queue) => {
      const env = { ...process.env };
      delete env.PYTHONPATH;
      const child = spawn(
        '/usr/bin/python3',
        ['-m', 'rq.cli', 'worker', '--with-scheduler', '-S', 'rq.serializers.JSONSerializer', '-u', server.url, '-q', queue],
        { cwd: PY_TASKS, env, stdio: 'ignore' },
      );
      return async () => {
        child.kill('SIGKILL');
      };
    });
    console.log(JSON.stringify(py));
  } else {
    console.log(JSON.stringify({ system: 'python-rq-1.13', figure: 'scheduling_lateness', skipped: 'python3-rq not installed' }));
  }
} finally {
  await server.destroy();
}
