// A TS worker process dies (SIGKILL) in the middle of two jobs. Its wip
// entries are RQ 2.x `job:execution` members. On queue B our recovery fails
// the job as abandoned, and Python reads that. On queue A, Python RQ 1.13's
// `rq info` runs first: its StartedJobRegistry.cleanup cannot fetch a
// `job:execution` member, so it just ZREMs it without failing the job (see
// docs/design.md, compatibility limits), and the job must still end up failed.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis, Job, Queue, type Worker } from '../../src/index.js';
import { testRedis } from '../helpers/redis.js';
import { uniq, until } from '../helpers/util.js';
import { HERE, killAllPy, loadTasks, py, rqCli, tsWorker } from './helpers.js';

describe('a TS worker dies mid-job; recovery with Python RQ 1.13 around', () => {
  let url: string;
  let close: () => Promise<void>;
  let redis: Redis;
  let child: ChildProcess | undefined;
  // One per queue: recoverAbandoned() passes over every queue of its worker.
  let rescueA: Worker;
  let rescueB: Worker;
  const qa = uniq('deadA');
  const qb = uniq('deadB');
  let jobA: Job;
  let jobB: Job;

  before(async () => {
    ({ url, close } = await testRedis());
    redis = createRedis(url);
    jobA = await new Queue(qa, redis).enqueue('tasks.block', { args: [uniq('never')] });
    jobB = await new Queue(qb, redis).enqueue('tasks.block', { args: [uniq('never')] });
    child = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'ts-worker-proc.ts'), url, uniq('doomed').replace(/-/g, ''), `${qa},${qb}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => out.includes(`started ${jobA.id}`) && out.includes(`started ${jobB.id}`), 15_000, 20).catch((e: Error) => {
      throw new Error(`${e.message}; child output:\n${out}`);
    });
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    // Wait (no sleep) until Redis' clock passes both wip scores: the heartbeats have lapsed.
    await until(
      async () => {
        const [s] = await redis.time();
        const scores = [...(await redis.zrange(`rq:wip:${qa}`, '0', '-1', 'WITHSCORES')), ...(await redis.zrange(`rq:wip:${qb}`, '0', '-1', 'WITHSCORES'))];
        return scores.length === 4 && Number(scores[1]) < Number(s) && Number(scores[3]) < Number(s);
      },
      10_000,
      100,
    );
    const tasks = await loadTasks();
    rescueA = tsWorker(redis, tasks, [qa]);
    rescueB = tsWorker(redis, tasks, [qb]);
  });
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await killAllPy();
    redis.disconnect();
    await close();
  });

  test('queue B: our recovery fails the abandoned job; Python reads failed and AbandonedJobError', async () => {
    assert.equal((await Job.fetch(redis, jobB.id)).status, 'started');
    assert.equal(await rescueB.recoverAbandoned(), 1);
    const [job, regs] = await py(url, [
      { op: 'fetch', id: jobB.id },
      { op: 'registries', queue: qb },
    ]);
    assert.equal(job.status, 'failed');
    assert.equal(job.latest_result.type_name, 'FAILED');
    assert.match(job.exc_info, /AbandonedJobError/);
    assert.deepEqual(regs.failed, [jobB.id]);
    assert.deepEqual(regs.started, []);
  });

  test(
    'queue A: `rq info` (1.13) cleans the expired wip entry first; the job must still end failed',
    async () => {
      assert.equal((await Job.fetch(redis, jobA.id)).status, 'started');
      const r = await rqCli(['info', '-u', url, qa]);
      assert.equal(r.code, 0, r.output);
      assert.equal(await redis.zcard(`rq:wip:${qa}`), 0, '1.13 removed the expired wip entry');
      assert.equal((await Job.fetch(redis, jobA.id)).status, 'started', '...without failing the job');
      await rescueA.recoverAbandoned();
      const job = (await py(url, [{ op: 'fetch', id: jobA.id }]))[0];
      assert.equal(job.status, 'failed', 'the abandoned job is failed by someone');
    },
  );
});
