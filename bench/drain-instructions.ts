// What draining a queue costs Redis in CPU instructions per job, for each
// system's real worker, counted by valgrind's callgrind: a count that does
// not move with the load of this shared 2-core VM, so the peers' Redis cost
// can be compared with ours where CPU-time figures cannot (bench/README,
// "`bench/drain-instructions.ts`").
//   node --import tsx bench/drain-instructions.ts
//   DI_SYSTEMS=openvle-rq,bullmq DI_CONCURRENCY=1,50 DI_JOBS=3000 node --import tsx bench/drain-instructions.ts
//   DI_SYSTEMS=openvle-rq DI_CONCURRENCY=1 DI_PREFETCH=1 node --import tsx bench/drain-instructions.ts
// Per system and concurrency: a redis-server under callgrind, the queue
// filled, a worker in this process with a no-op handler, the counters
// zeroed when the warm-up's last job has finished and dumped at the last.
// Everything Redis ran in between is charged to the jobs: scripts, their
// replies, heartbeats, lock renewals, stalled checks and socket I/O. Redis
// runs about 50 times slower under callgrind, so more calls pile up per read
// than in `npm run bench`; the count is the same for the same batching.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../test/helpers/redis.js';
import { parseInfo } from './redis.js';
import { prefill, makeConsumer, type SystemName } from './systems.js';

const SYSTEMS = (process.env.DI_SYSTEMS ?? 'openvle-rq,bullmq,beequeue').split(',') as SystemName[];
const CONCURRENCY = (process.env.DI_CONCURRENCY ?? '1,2,50').split(',').map(Number);
const N = Number(process.env.DI_JOBS ?? 3000);
// DI_PREFETCH=1: openvle-rq's worker with that prefetch (the bench's c1p1)
const PREFETCH = Number(process.env.DI_PREFETCH ?? 0);
const WARM = Number(process.env.DI_WARM ?? 500);
// DI_CACHE=1: callgrind's cache simulation too (first- and last-level
// misses per job): a job that touches fresh memory costs Redis more than
// its instructions say.
const CACHE = process.env.DI_CACHE === '1';

/** Each event of callgrind's summary line (Ir, and with DI_CACHE the cache misses) per job, and the memory a job leaves. */
/** What a drained job leaves in Redis' memory (kept results, registries), as used_memory counts it. */
async function usedMemory(admin: Redis): Promise<number> {
  return Number(parseInfo(await admin.info('memory')).get('used_memory'));
}

async function measure(system: SystemName, concurrency: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'ovrq-di-'));
  const port = await freePort();
  const out = join(dir, 'cg.out');
  const proc = spawn(
    'valgrind',
    ['--tool=callgrind', ...(CACHE ? ['--cache-sim=yes'] : []), `--callgrind-out-file=${out}`, 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  const admin = new Redis(port, '127.0.0.1', { retryStrategy: () => 50, maxRetriesPerRequest: null });
  admin.on('error', () => {}); // refused until valgrind has started Redis: retried
  const url = `redis://127.0.0.1:${port}`;
  try {
    await admin.ping();
    await prefill(system, url, N);
    const used0 = await usedMemory(admin);
    let finished = 0;
    let done!: () => void;
    const drained = new Promise<void>((resolve) => (done = resolve));
    const consumer = makeConsumer(system, url, {
      concurrency,
      ...(PREFETCH ? { prefetch: PREFETCH } : {}),
      retention: 'keep',
      onStart: () => {},
      onFinished: () => {
        finished++;
        if (finished === WARM) execFileSync('callgrind_control', ['-z', String(proc.pid)], { stdio: 'ignore' });
        if (finished === N) {
          execFileSync('callgrind_control', ['-d', String(proc.pid)], { stdio: 'ignore' });
          done();
        }
      },
    });
    await drained;
    await consumer.close();
    const usedPerJob = Math.round(((await usedMemory(admin)) - used0) / N);
    const dump = readFileSync(`${out}.1`, 'utf8');
    const events = /^events: (.+)$/m.exec(dump)?.[1]?.split(' ');
    const summary = /^summary: (.+)$/m.exec(dump)?.[1]?.split(' ').map(Number);
    if (!events || !summary) throw new Error(`drain-instructions: no summary in ${out}.1`);
    return {
      ...Object.fromEntries(events.map((e, i) => [e, Math.round(summary[i]! / (N - WARM))])),
      used_memory_per_job: usedPerJob,
    };
  } finally {
    admin.disconnect();
    proc.kill('SIGKILL');
    await new Promise((resolve) => proc.once('exit', resolve));
    // DI_KEEP=1 keeps the dump for callgrind_annotate (its path on stderr)
    if (process.env.DI_KEEP === '1') process.stderr.write(`drain-instructions: ${system} c=${concurrency}: ${out}.1\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

for (const c of CONCURRENCY) {
  for (const s of SYSTEMS) {
    process.stdout.write(`${JSON.stringify({ figure: 'redis_per_job', system: s, concurrency: c, ...(PREFETCH ? { prefetch: PREFETCH } : {}), jobs: N - WARM, ...(await measure(s, c)) })}\n`);
  }
}
process.exit(0);
