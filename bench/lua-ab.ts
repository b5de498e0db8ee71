// A/B of two copies of lua/ (e.g. HEAD's and an edited one): two
// redis-servers, the same job chain on each (the fused finish+dequeue a
// concurrency-1 worker sends, one call at a time), driven alternately in
// slices of 50 jobs so that whatever else runs on the machine hits both
// alike. Prints Redis CPU, script time and inner commands per job for each.
//   LUA_A=lua LUA_B=/tmp/lua-edited N=3000 node --import tsx bench/lua-ab.ts
// Both sides load their scripts as the engine does (Functions on Redis 7,
// OPENVLE_RQ_SCRIPTS=eval for EVALSHA; a lua/ copy from before the include
// split, with common.lua's clock at its top, runs only as eval). MODE_A /
// MODE_B (functions|eval) set one side's mode: MODE_B=eval with LUA_A=LUA_B
// compares the two modes on the same scripts.
// CONFIG_A / CONFIG_B ('name value, ...') CONFIG SET one side's Redis, to
// weigh a server setting with the same scripts on both sides, e.g.
//   CONFIG_B='stream-node-max-bytes 512' N=3000 node --import tsx bench/lua-ab.ts
// An A/A run (same directory twice) shows the noise floor; on a shared
// 2-core machine it was within 2%.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { setScriptsMode, useLuaDir, type ScriptsMode } from '../src/engine/scripts.js';
import { birth, dequeue, recordEnd, type TakenJob } from '../src/engine/transitions.js';
import { fillQueue, finishOf, next, QUEUE, taken } from './lua-jobs.js';
import { BenchRedis, parseInfo } from './redis.js';

const N = Number(process.env.N ?? 3000);
const SLICE = 50;
const RESULT_TTL = Number(process.env.RESULT_TTL ?? 500);

async function stats(r: Redis): Promise<{ cpu: number; scriptUs: number; inner: number; xaddUs: number; xadds: number }> {
  const c = parseInfo(await r.info('cpu'));
  let scriptUs = 0;
  let inner = 0;
  let xaddUs = 0;
  let xadds = 0;
  for (const [k, v] of parseInfo(await r.info('commandstats'))) {
    const calls = Number(/calls=(\d+)/.exec(v)?.[1] ?? 0);
    const usec = Number(/usec=(\d+)/.exec(v)?.[1] ?? 0);
    if (k === 'cmdstat_evalsha' || k === 'cmdstat_eval' || k === 'cmdstat_fcall') scriptUs += usec;
    else if (!/^cmdstat_(info|config|script|flushall|function)/.test(k)) inner += calls;
    // the results stream's XADD, the one command a server setting moves (CONFIG_B)
    if (k === 'cmdstat_xadd') [xaddUs, xadds] = [usec, calls];
  }
  return { cpu: (Number(c.get('used_cpu_user')) + Number(c.get('used_cpu_sys'))) * 1e6, scriptUs, inner, xaddUs, xadds };
}

interface Side {
  label: string;
  srv: BenchRedis;
  r: Redis;
  worker: string;
  hand: TakenJob;
}

async function setup(label: string, dir: string, mode: string | undefined, config: string | undefined): Promise<Side> {
  const srv = await BenchRedis.start();
  const r = new Redis(srv.port, '127.0.0.1');
  for (const pair of (config ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, ...value] = pair.split(/\s+/);
    await r.config('SET', name!, value.join(' '));
  }
  useLuaDir(r, dir);
  if (mode) setScriptsMode(r, mode as ScriptsMode);
  const worker = 'ab' + randomBytes(4).toString('hex');
  await birth(r, { worker, keyTtl: 480, queues: [QUEUE], fields: [['queues', QUEUE]] });
  await fillQueue(r, N + 1);
  const hand = taken(await dequeue(r, worker, next(1)))[0]!;
  return { label: `${label}${mode ? ` (${mode})` : ''}`, srv, r, worker, hand };
}

const sideLabel = (dir: string, config: string | undefined): string => (config ? `${dir} (${config})` : dir);
const A = await setup(`A ${sideLabel(process.env.LUA_A ?? 'lua', process.env.CONFIG_A)}`, process.env.LUA_A ?? 'lua', process.env.MODE_A, process.env.CONFIG_A);
const B = await setup(`B ${sideLabel(process.env.LUA_B ?? 'lua', process.env.CONFIG_B)}`, process.env.LUA_B ?? 'lua', process.env.MODE_B, process.env.CONFIG_B);
try {
  for (const s of [A, B]) await s.r.config('RESETSTAT');
  const before = [await stats(A.r), await stats(B.r)];
  const wall = [0, 0];
  for (let done = 0; done < N; done += SLICE) {
    for (const [i, s] of [A, B].entries()) {
      const t0 = performance.now();
      for (let j = 0; j < SLICE; j++) {
        const rep = await recordEnd(s.r, s.worker, finishOf(s.hand, RESULT_TTL), next(1));
        s.hand = taken(rep.next)[0]!;
      }
      wall[i]! += performance.now() - t0;
    }
  }
  const after = [await stats(A.r), await stats(B.r)];
  for (const [i, s] of [A, B].entries()) {
    const a = before[i]!;
    const b = after[i]!;
    process.stdout.write(
      `${s.label.padEnd(32)} redis cpu ${((b.cpu - a.cpu) / N).toFixed(1).padStart(6)} us/job  script ${((b.scriptUs - a.scriptUs) / N).toFixed(1).padStart(6)} us/job  ` +
        `inner ${((b.inner - a.inner) / N).toFixed(1)} cmds/job  xadd ${((b.xaddUs - a.xaddUs) / Math.max(1, b.xadds - a.xadds)).toFixed(2)} us/call  ` +
        `wall ${((wall[i]! / N) * 1000).toFixed(1)} us/job\n`,
    );
  }
} finally {
  for (const s of [A, B]) {
    s.r.disconnect();
    await s.srv.stop();
  }
}
