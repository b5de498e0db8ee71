import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Queue } from '../../src/index.js';
import { SCRIPT_NAMES, scriptLibrary, scriptSources, type ScriptName } from '../../src/engine/scripts.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { uniq, until } from '../helpers/util.js';

const fx = engineFixture();

/** A worker built with OPENVLE_RQ_LANES set to `lanes`. */
function laneWorker(lanes: number, ...args: Parameters<typeof fx.worker>) {
  const before = process.env.OPENVLE_RQ_LANES;
  process.env.OPENVLE_RQ_LANES = String(lanes);
  try {
    return fx.worker(...args);
  } finally {
    if (before === undefined) delete process.env.OPENVLE_RQ_LANES;
    else process.env.OPENVLE_RQ_LANES = before;
  }
}

/** Counts the script calls Redis runs (MONITOR), by script name, while `run` runs (FCALL or EVALSHA/EVAL). */
async function scriptCalls(run: () => Promise<void>): Promise<Map<string, number>> {
  const byName = new Map<string, ScriptName>();
  for (const n of SCRIPT_NAMES) {
    byName.set(scriptLibrary().functions.get(n)!, n);
    byName.set(createHash('sha1').update(scriptSources().get(n)!).digest('hex'), n);
  }
  // EVAL (a connection's first call of a script) carries the text, which
  // MONITOR shows escaped; each text holds its file name.
  const byText = (text: string) => SCRIPT_NAMES.find((n) => text.includes(`-- ${n}.lua\\n`) || text.includes(`-- ${n}.lua\n`));
  const counts = new Map<string, number>();
  const monitor = await fx.connection().monitor();
  monitor.on('monitor', (_time: string, args: string[]) => {
    const cmd = String(args[0]).toLowerCase();
    const name = cmd === 'fcall' || cmd === 'evalsha' ? byName.get(String(args[1])) : cmd === 'eval' ? byText(String(args[1])) : undefined;
    if (name) counts.set(name, (counts.get(name) ?? 0) + 1);
  });
  try {
    await run();
  } finally {
    monitor.disconnect();
  }
  return counts;
}

async function drainAtConcurrency2(lanes: number): Promise<Map<string, number>> {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  await q.enqueueMany(Array.from({ length: 40 }, () => ({ func: 't.noop' })));
  const calls = await scriptCalls(async () => {
    const w = laneWorker(lanes, [name], tasks({ 't.noop': () => null }), { concurrency: 2, burst: true });
    await w.done;
  });
  assert.equal(await q.finishedJobRegistry.count(), 40);
  return calls;
}

test('two lanes at concurrency 2: each end goes out alone and hands out its lane the next job', async () => {
  // One lane: the two jobs of one reply end in the same tick and share a
  // complete.lua call, which hands out the next two together, so worker
  // and Redis take turns. Two lanes of one slot each: every end has a call
  // of its own (finish.lua), still one round trip per job.
  const one = await drainAtConcurrency2(1);
  assert.ok((one.get('complete') ?? 0) > 0, `one lane: ${JSON.stringify([...one])}`);
  const two = await drainAtConcurrency2(2);
  assert.equal(two.get('complete') ?? 0, 0, `two lanes: ${JSON.stringify([...two])}`);
  assert.equal(two.get('finish'), 40, JSON.stringify([...two]));
  // the first fetch, one per lane (and burst mode's last look at an empty queue)
  assert.ok((two.get('dequeue') ?? 0) <= 4, `two lanes: ${JSON.stringify([...two])}`);
});

test('lanes keep the slot limits: never more than concurrency jobs, uneven lanes, maxJobs', async () => {
  const name = uniq('q');
  const q = new Queue(name, fx.redis);
  await q.enqueueMany(Array.from({ length: 30 }, () => ({ func: 't.step' })));
  let active = 0;
  let peak = 0;
  const gates: (() => void)[] = [];
  // concurrency 5 in 3 lanes (2, 2, 1); 13 jobs at most
  const w = laneWorker(
    3,
    [name],
    tasks({
      't.step': async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise<void>((r) => gates.push(r));
        active--;
      },
    }),
    { concurrency: 5, maxJobs: 13 },
  );
  let started = 0;
  w.on('job-started', () => started++);
  await until(() => active === 5);
  // released one at a time: each end's call refills its own lane
  for (let released = 0; released < 13; released++) {
    await until(() => gates.length > 0);
    gates.shift()!();
  }
  await w.done;
  assert.equal(peak, 5);
  assert.equal(started, 13);
  assert.equal(await q.finishedJobRegistry.count(), 13);
  assert.equal(await q.count(), 17);
  assert.equal(await fx.redis.zcard(`rq:wip:${name}`), 0);
});
