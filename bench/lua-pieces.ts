// What each piece of a job's dequeue → finish path costs Redis, one piece
// at a time: every piece runs L times in a loop inside one script, against
// keys shaped as the engine writes them (a fresh results stream, execution
// hash and executions set per job, registries that grow), and is charged
// the Redis process' CPU time (INFO cpu) of that script. CPU time, not
// wall time, and no client round trips in the loop: the figures hold on a
// loaded machine where lua-ab's per-job totals move by 10 µs between runs.
// The per-call pieces (the prelude, the clock) are timed per EVALSHA.
//   node --import tsx bench/lua-pieces.ts
//   L=20000 ROUNDS=3 node --import tsx bench/lua-pieces.ts
//   COMMON_BASE=/tmp/base/lua/include/common.lua ...   (also another prelude's per-call cost:
//   a common.lua from before the split into includes)
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { includeText, readLua } from '../src/engine/scripts.js';
import { BenchRedis, redisCpuUs } from './redis.js';

const L = Number(process.env.L ?? 20000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const lua = readLua(fileURLToPath(new URL('../lua', import.meta.url)));
// what EVAL sends a script that lists every include, and one that lists the clock
const common = includeText(lua, [...lua.includes.keys()]);
const clockOnly = includeText(lua, ['keys', 'clock']);

// Per job: setup (not timed) and the timed steps, each a loop body over i
// with ids id(i) and execution ids e(i). W: the worker, Q: the queue.
interface Piece {
  name: string;
  setup?: string;
  steps: string[];
}
const ID = `local function id(i) return string.format('%032x', i) end
local function e(i) return string.format('e%031x', i) end
local W, Q = 'w0123456789abcdef0123456789abcdef', 'ab'
local NOW_ISO, NOW_FS = '2026-11-30T15:00:00.000000Z', '1795864627.832018'`;
const JOB = `redis.call('HSET', 'rq:job:' .. id(i), 'status', 'queued', 'success_callback_name', '', 'failure_callback_name', '',
  'stopped_callback_name', '', 'started_at', '', 'ended_at', '', 'last_heartbeat', '', 'worker_name', '', 'group_id', '',
  'description', "bench.noop({'i': 12345})", 'timeout', '180', 'created_at', NOW_ISO, 'enqueued_at', NOW_ISO, 'origin', Q,
  'data', '["bench.noop", null, [{"i": 12345}], {}]')`;
const pieces: Piece[] = [
  {
    name: 'results stream: XADD into a new stream + EXPIRE',
    steps: [`redis.call('XADD', 'rq:results:' .. id(i), 'MAXLEN', '~', 10, '*', 'type', 1, 'worker_name', W, 'execution_id', e(i),
      'execution_started_at', NOW_FS, 'execution_ended_at', NOW_FS)
    redis.call('EXPIRE', 'rq:results:' .. id(i), 500)`],
  },
  {
    name: 'execution hash: HSET 5 fields + EXPIRE, DEL',
    steps: [
      `local k = 'rq:execution:' .. id(i) .. ':' .. e(i)
    redis.call('HSET', k, 'id', e(i), 'job_id', id(i), 'created_at', NOW_FS, 'last_heartbeat', NOW_FS, 'worker_name', W)
    redis.call('EXPIRE', k, 80)`,
      `redis.call('DEL', 'rq:execution:' .. id(i) .. ':' .. e(i))`,
    ],
  },
  {
    name: 'rq:executions:<id>: ZADD + EXPIRE, ZREM',
    steps: [
      `redis.call('ZADD', 'rq:executions:' .. id(i), 1795864767, e(i)) redis.call('EXPIRE', 'rq:executions:' .. id(i), 140)`,
      `redis.call('ZREM', 'rq:executions:' .. id(i), e(i))`,
    ],
  },
  {
    // 50 running at a time, as at concurrency 50
    name: 'wip: ZADD, ZREM',
    steps: [`redis.call('ZADD', 'rq:wip:' .. Q, 1795864647.8, id(i) .. ':' .. e(i))
    redis.call('ZREM', 'rq:wip:' .. Q, id(i - 50) .. ':' .. e(i - 50))`],
  },
  { name: 'finished registry: ZADD', steps: [`redis.call('ZADD', 'rq:finished:' .. Q, 1795865127, id(i))`] },
  {
    name: 'job hash at dequeue: LPOP, HGETALL into Lua, HSET 4 fields, PERSIST',
    setup: `redis.call('RPUSH', 'rq:queue:' .. Q, id(i)) ${JOB}`,
    steps: [`local j = redis.call('LPOP', 'rq:queue:' .. Q) local h = redis.call('HGETALL', 'rq:job:' .. j)
    redis.call('HSET', 'rq:job:' .. j, 'status', 'started', 'started_at', NOW_ISO, 'worker_name', W, 'last_heartbeat', NOW_ISO)
    redis.call('PERSIST', 'rq:job:' .. j)`],
  },
  {
    name: 'dequeue reply: rewrite 4 fields + cmsgpack.pack of the hash',
    setup: JOB,
    steps: [`local hash = redis.call('HGETALL', 'rq:job:' .. id(i))`, `local hash = redis.call('HGETALL', 'rq:job:' .. id(i))
    for i = 1, #hash - 1, 2 do local k = hash[i]
      if k == 'status' then hash[i + 1] = 'started' elseif k == 'started_at' or k == 'last_heartbeat' then hash[i + 1] = NOW_ISO
      elseif k == 'worker_name' then hash[i + 1] = W end end
    local p = cmsgpack.pack(hash)`],
  },
  {
    name: 'job hash at finish: EXPIRE, HGET repeats_left, HSET 3 fields, SMEMBERS dependents',
    setup: JOB,
    steps: [`local k = 'rq:job:' .. id(i) redis.call('EXPIRE', k, 500) redis.call('HGET', k, 'repeats_left')
    redis.call('HSET', k, 'status', 'finished', 'ended_at', NOW_ISO, 'last_heartbeat', NOW_ISO)
    redis.pcall('SMEMBERS', 'rq:job:' .. id(i) .. ':dependents')`],
  },
  {
    name: 'worker executions set: SADD, SREM (+ EXPIRE per call)',
    steps: [`redis.call('SADD', 'rq:worker:' .. W .. ':executions', id(i) .. ':' .. e(i))
    redis.call('EXPIRE', 'rq:worker:' .. W .. ':executions', 140)
    redis.call('SREM', 'rq:worker:' .. W .. ':executions', id(i - 50) .. ':' .. e(i - 50))`],
  },
  {
    name: 'worker hash, per call: EXISTS, HINCRBY, HINCRBYFLOAT, HSET busy',
    setup: `if i == 1 then redis.call('HSET', 'rq:worker:' .. W, 'birth', NOW_ISO) end`,
    steps: [`local k = 'rq:worker:' .. W redis.call('EXISTS', k) redis.call('HINCRBY', k, 'successful_job_count', 1)
    redis.call('HINCRBYFLOAT', k, 'total_working_time', 0.0001)
    redis.call('HSET', k, 'state', 'busy', 'current_job', id(i), 'last_heartbeat', NOW_ISO)`],
  },
  { name: 'suspension check, per call: EXISTS rq:suspended', steps: [`redis.call('EXISTS', 'rq:suspended')`] },
];

const srv = await BenchRedis.start();
const r = new Redis(srv.port, '127.0.0.1');
const loop = (body: string, from: number) => `${ID}\nfor i = ${from}, ${from + L - 1} do\n${body}\nend\nreturn 1`;
async function cpuOf(script: string): Promise<number> {
  const c0 = await redisCpuUs(r);
  await r.eval(script, 0);
  return (await redisCpuUs(r)) - c0;
}

// Per call: EVALSHA of the shared prelude against an empty script, and the
// clock alone, pipelined; CPU per call.
async function perCall(scripts: Record<string, string>, n = 20000): Promise<Record<string, number>> {
  const shas: Record<string, string> = {};
  for (const [k, v] of Object.entries(scripts)) shas[k] = (await r.script('LOAD', v)) as string;
  const out: Record<string, number> = {};
  for (let done = 0; done < n; done += 1000) {
    for (const k of Object.keys(scripts)) {
      const c0 = await redisCpuUs(r);
      const p = r.pipeline();
      for (let j = 0; j < 1000; j++) p.evalsha(shas[k]!, 0);
      await p.exec();
      out[k] = (out[k] ?? 0) + ((await redisCpuUs(r)) - c0) / n;
    }
  }
  return out;
}

const rows = new Map<string, number[]>();
const add = (k: string, v: number) => rows.set(k, [...(rows.get(k) ?? []), v]);
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const nodeBytes of [4096, 512]) {
      await r.flushall();
      await r.config('SET', 'stream-node-max-bytes', String(nodeBytes));
      const suffix = nodeBytes === 4096 ? '' : ' (stream-node-max-bytes 512)';
      for (const p of pieces) {
        if (nodeBytes === 512 && !p.name.startsWith('results')) continue;
        const from = 1 + round * L;
        if (p.setup) await r.eval(loop(p.setup, from), 0);
        let us = 0;
        // the dequeue-reply piece is the difference of its two steps
        if (p.name.startsWith('dequeue reply')) us = (await cpuOf(loop(p.steps[1]!, from))) - (await cpuOf(loop(p.steps[0]!, from)));
        else for (const s of p.steps) us += await cpuOf(loop(s, from));
        add(p.name + suffix, us / L);
      }
    }
    await r.config('SET', 'stream-node-max-bytes', '4096');
    const base = process.env.COMMON_BASE ? readFileSync(process.env.COMMON_BASE, 'utf8') : undefined;
    const pc = await perCall({
      empty: 'return 1',
      clock: `${clockOnly}\nreturn 1`,
      prelude: `${common}\nreturn 1`,
      ...(base ? { baseClock: `${base.slice(0, base.indexOf('-- TTLs come from'))}\nreturn 1`, basePrelude: `${base}\nreturn 1` } : {}),
    });
    add('per call: TIME + clock strings (NOW_ISO, NOW_FS) + 19 key helpers', pc.clock! - pc.empty!);
    if (base) add('per call: the same, COMMON_BASE', pc.baseClock! - pc.empty!);
    add('per call: every include as an EVAL prelude (clock included)', pc.prelude! - pc.empty!);
    if (base) add('per call: the whole prelude, COMMON_BASE', pc.basePrelude! - pc.empty!);
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  process.stdout.write(`piece (${L} jobs per loop, ${ROUNDS} rounds, median)`.padEnd(92) + 'Redis CPU µs\n');
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(92)}${median(v).toFixed(2).padStart(6)}   [${v.map((x) => x.toFixed(2)).join(' ')}]\n`);
} finally {
  r.disconnect();
  await srv.stop();
}
