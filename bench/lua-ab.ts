// A/B of two copies of lua/ (e.g. HEAD's and an edited one): two
// redis-servers, the same job chain on each (the fused finish+dequeue a
// concurrency-1 worker sends, one call at a time), driven alternately in
// slices of 50 jobs so that whatever else runs on the machine hits both
// alike. Prints Redis CPU, script time and inner commands per job for each.
//   LUA_A=lua LUA_B=/tmp/lua-edited N=3000 node --import tsx bench/lua-ab.ts
// An A/A run (same directory twice) shows the noise floor; on a shared
// 2-core machine it was within 2%.
// CONFIG_A / CONFIG_B ('name value, ...') CONFIG SET one side's Redis, to
// weigh a server setting with the same scripts on both sides, e.g.
//   CONFIG_B='stream-node-max-bytes 512' N=3000 node --import tsx bench/lua-ab.ts
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { BenchRedis, parseInfo } from './redis.js';

const N = Number(process.env.N ?? 3000);
const SLICE = 50;
const RESULT_TTL = process.env.RESULT_TTL ?? '500';
const QUEUE = 'ab';

type Fn = (...a: unknown[]) => Promise<unknown>;

async function stats(r: Redis): Promise<{ cpu: number; scriptUs: number; inner: number; xaddUs: number; xadds: number }> {
  const c = parseInfo(await r.info('cpu'));
  let scriptUs = 0;
  let inner = 0;
  let xaddUs = 0;
  let xadds = 0;
  for (const [k, v] of parseInfo(await r.info('commandstats'))) {
    const calls = Number(/calls=(\d+)/.exec(v)?.[1] ?? 0);
    const usec = Number(/usec=(\d+)/.exec(v)?.[1] ?? 0);
    if (k === 'cmdstat_evalsha' || k === 'cmdstat_eval') scriptUs += usec;
    else if (!/^cmdstat_(info|config|script|flushall)/.test(k)) inner += calls;
    // the results stream's XADD, the one command a server setting moves (CONFIG_B)
    if (k === 'cmdstat_xadd') [xaddUs, xadds] = [usec, calls];
  }
  return { cpu: (Number(c.get('used_cpu_user')) + Number(c.get('used_cpu_sys'))) * 1e6, scriptUs, inner, xaddUs, xadds };
}

const tail = (k: number): (string | number)[] => {
  const ids: string[] = [];
  for (let i = 0; i < k; i++) ids.push(randomBytes(16).toString('hex'));
  return [k, 20, 80, 1, QUEUE, ...ids];
};

interface Side {
  label: string;
  srv: BenchRedis;
  r: Redis;
  f: Record<string, Fn>;
  worker: string;
  hand: { id: string; e: string };
}

async function setup(label: string, dir: string, config: string | undefined): Promise<Side> {
  const srv = await BenchRedis.start();
  const r = new Redis(srv.port, '127.0.0.1');
  for (const pair of (config ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, ...value] = pair.split(/\s+/);
    await r.config('SET', name!, value.join(' '));
  }
  const common = readFileSync(join(dir, 'include', 'common.lua'), 'utf8');
  for (const n of ['enqueue', 'dequeue', 'finish', 'birth']) {
    r.defineCommand('ab_' + n, { numberOfKeys: 0, lua: `${common}\n${readFileSync(join(dir, n + '.lua'), 'utf8')}` });
  }
  const f = r as unknown as Record<string, Fn>;
  const worker = 'ab' + randomBytes(4).toString('hex');
  await f.ab_birth!(worker, 480, 1, QUEUE, 'queues', QUEUE);
  // Jobs shaped as Queue.enqueueMany writes them (data left uncompressed).
  for (let i = 0; i < N + 1; i += 1000) {
    const args: unknown[] = [];
    let n = 0;
    for (let j = i; j < Math.min(N + 1, i + 1000); j++, n++) {
      const fields = {
        status: 'queued', success_callback_name: '', failure_callback_name: '', stopped_callback_name: '',
        started_at: '', ended_at: '', last_heartbeat: '', worker_name: '', group_id: '',
        description: `bench.noop({'i': ${j}})`, timeout: '180',
      };
      args.push(JSON.stringify({ id: randomBytes(16).toString('hex'), origin: QUEUE, fields }), Buffer.from(JSON.stringify(['bench.noop', null, [{ i: j }], {}])));
    }
    await f.ab_enqueue!(n, ...args);
  }
  const cur = (await f.ab_dequeueBuffer!(worker, ...tail(1))) as Buffer[];
  return { label, srv, r, f, worker, hand: { id: String(cur[0]), e: String(cur[2]) } };
}

const sideLabel = (dir: string, config: string | undefined): string => (config ? `${dir} (${config})` : dir);
const A = await setup(`A ${sideLabel(process.env.LUA_A ?? 'lua', process.env.CONFIG_A)}`, process.env.LUA_A ?? 'lua', process.env.CONFIG_A);
const B = await setup(`B ${sideLabel(process.env.LUA_B ?? 'lua', process.env.CONFIG_B)}`, process.env.LUA_B ?? 'lua', process.env.CONFIG_B);
try {
  for (const s of [A, B]) await s.r.config('RESETSTAT');
  const before = [await stats(A.r), await stats(B.r)];
  const wall = [0, 0];
  for (let done = 0; done < N; done += SLICE) {
    for (const [i, s] of [A, B].entries()) {
      const t0 = performance.now();
      for (let j = 0; j < SLICE; j++) {
        const now = (Date.now() / 1000).toFixed(6);
        const rep = (await s.f.ab_finishBuffer!(s.hand.id, s.hand.e, QUEUE, s.worker, '', RESULT_TTL, '', now, now, '0.000100', ...tail(1))) as [
          Buffer,
          Buffer[],
        ];
        s.hand = { id: String(rep[1][0]), e: String(rep[1][2]) };
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
