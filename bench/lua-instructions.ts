// What two copies of lua/ cost Redis in CPU instructions per job, counted
// by valgrind's callgrind: the same count for the same scripts and inputs
// whatever else the machine does, where CPU-time A/Bs on this shared 2-core
// VM move by 5-10 % between runs (bench/README, "Counting instructions").
//   LUA_A=/tmp/lua-base LUA_B=lua node --import tsx bench/lua-instructions.ts
// For each side in turn: a redis-server under callgrind, N + BATCH jobs
// enqueued, the counters zeroed, then the jobs recorded and taken as a
// worker does, one call per job (a concurrency-1 worker's finish.lua) and
// BATCH ends per call (complete.lua, as a busy worker at concurrency 50
// sends them), each phase dumped on its own. Needs valgrind (Debian's
// package); about a minute per side at the default N.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { useLuaDir } from '../src/engine/scripts.js';
import { birth, complete, dequeue, recordEnd } from '../src/engine/transitions.js';
import { freePort } from '../test/helpers/redis.js';
import { fillQueue, finishOf, next, QUEUE, taken } from './lua-jobs.js';

const N = Number(process.env.N ?? 1000);
const BATCH = Number(process.env.BATCH ?? 8);

/** Instructions counted since the last zeroing, from the dump callgrind just wrote. */
function dumpedInstructions(dir: string, pid: number, part: number): number {
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
  const file = join(dir, `cg.out.${part}`);
  const m = /^summary: (\d+)/m.exec(readFileSync(file, 'utf8'));
  if (!m) throw new Error(`lua-instructions: no summary in ${file}`);
  return Number(m[1]);
}

async function measure(label: string, luaDir: string): Promise<{ label: string; c1: number; batch: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'ovrq-cg-'));
  const port = await freePort();
  const proc = spawn(
    'valgrind',
    ['--tool=callgrind', `--callgrind-out-file=${join(dir, 'cg.out')}`, 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--hz', '1', '--dir', dir],
    { stdio: 'ignore' },
  );
  const r = new Redis(port, '127.0.0.1', { retryStrategy: () => 50, maxRetriesPerRequest: null });
  r.on('error', () => {}); // refused until valgrind has started Redis: retried
  try {
    await r.ping();
    useLuaDir(r, luaDir);
    const worker = 'cg' + port;
    await birth(r, { worker, keyTtl: 3600, queues: [QUEUE], fields: [['queues', QUEUE]] });
    await fillQueue(r, 2 * N + 2 * BATCH + 1);
    // the first call loads the library: outside the counted window
    let hand = taken(await dequeue(r, worker, next(1)))[0]!;
    execFileSync('callgrind_control', ['-z', String(proc.pid)], { stdio: 'ignore' });
    for (let i = 0; i < N; i++) hand = taken((await recordEnd(r, worker, finishOf(hand, 500), next(1))).next)[0]!;
    const c1 = dumpedInstructions(dir, proc.pid!, 1) / N;
    await recordEnd(r, worker, finishOf(hand, 500), next(0));
    let held = taken(await dequeue(r, worker, next(BATCH)), BATCH);
    execFileSync('callgrind_control', ['-z', String(proc.pid)], { stdio: 'ignore' });
    const calls = Math.floor(N / BATCH);
    for (let i = 0; i < calls; i++) held = taken((await complete(r, worker, held.map((t) => finishOf(t, 500)), next(BATCH))).next, BATCH);
    const batch = dumpedInstructions(dir, proc.pid!, 2) / (calls * BATCH);
    return { label, c1, batch };
  } finally {
    r.disconnect();
    proc.kill('SIGKILL');
    await new Promise((resolve) => proc.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

const sides = [
  await measure(`A ${process.env.LUA_A ?? 'lua'}`, process.env.LUA_A ?? 'lua'),
  await measure(`B ${process.env.LUA_B ?? 'lua'}`, process.env.LUA_B ?? 'lua'),
];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(9);
for (const s of sides) {
  process.stdout.write(`${s.label.padEnd(32)} instructions per job: one end per call ${fmt(s.c1)}   ${BATCH} ends per call ${fmt(s.batch)}\n`);
}
const [a, b] = sides as [(typeof sides)[0], (typeof sides)[0]];
process.stdout.write(`B / A: one end per call ${(b.c1 / a.c1).toFixed(3)}   ${BATCH} ends per call ${(b.batch / a.batch).toFixed(3)}\n`);
