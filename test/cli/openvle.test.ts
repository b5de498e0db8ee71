// OpenVLE wired into the CLI (issue 10's "Done when"): real `openvle-rq
// worker` / `serve` processes on a private redis-server (one Redis database
// number per test, since OpenVLE's queue names are fixed) and the machine's
// MariaDB (one uniquely named database per test). The tests run at once: most
// of their time is the retry policy's real waits and the dead-worker timeout.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { createRedis, Dependency, Queue } from '../../src/index.js';
import { createPool, type Pool } from '../../src/openvle/db/pool.js';
import { TaskStore, type SubTaskRow, type TaskRow } from '../../src/openvle/tracking/store.js';
import { until } from '../helpers/util.js';
import { PYTHON, py1, pyEnv } from '../interop/helpers.js';
import { testDatabase } from '../openvle/db.js';
import { Cli, cliRedis, run, tempDir } from './helpers.js';

const noPythonRq = spawnSync(PYTHON, ['-c', 'import rq, redis'], { env: pyEnv() }).status !== 0 ? 'Python RQ is not installed' : false;

// A test task module on OpenVLE queues, given with --import: the OpenVLE
// application tracks every job of its queues, whichever task runs it.
const TASKS = `
import { currentJob, UnrecoverableError } from 'openvle-rq';
async function attempt(): Promise<number> {
  const { job } = currentJob();
  return job.connection.incr('test:attempts:' + job.id);
}
export async function flaky(kw: { fails: number }) {
  const n = await attempt();
  if (n <= kw.fails) throw new Error('VM is locked (attempt ' + n + ')');
  return { attempts: n };
}
export function perm(): never {
  throw new UnrecoverableError('no such template');
}
export function ok() {
  return 'ok';
}
export async function hang(kw: { once: boolean }) {
  const n = await attempt();
  if (n === 1) {
    await currentJob().job.connection.set('test:hanging:' + currentJob().job.id, '1');
    await new Promise((r) => setTimeout(r, 600_000));
  }
  return { attempts: n };
}
`;
const tmp = tempDir({ 'ovtest.ts': TASKS });
const fx = cliRedis(() => tmp.remove());
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c().catch(() => {});
});

let nextDb = 1;
/** A Redis database number, a MariaDB database and the env pointing OpenVLE at it, for one test. */
async function world() {
  const n = nextDb++;
  const url = `${fx.url}/${n}`;
  const db = await testDatabase('ovcli');
  const pool: Pool = createPool(db.config);
  const redis = createRedis(url);
  cleanups.push(async () => {
    redis.disconnect();
    await pool.end();
    await db.drop();
  });
  const env = { MARIADB_HOST: db.config.host, MARIADB_PORT: String(db.config.port), MARIADB_USER: db.config.user, MARIADB_PASSWORD: db.config.password, MARIADB_DATABASE: db.config.database };
  return { url, pool, redis, store: new TaskStore(pool), env };
}

function worker(args: string[], env: NodeJS.ProcessEnv): Cli {
  return new Cli(['worker', '--import', tmp.path('ovtest.ts'), '--job-monitoring-interval', '1', '--maintenance-interval', '1', ...args], { env });
}

/** Polls until `check` gives a value (not null). */
async function found<T>(check: () => Promise<T | null | undefined>, ms: number, every = 100): Promise<T> {
  return (await until(check, ms, every)) as T;
}

async function taskOfJob(store: TaskStore, jobId: string): Promise<TaskRow | null> {
  return store.findByJobId(jobId);
}

describe('OpenVLE workers from the CLI', { concurrency: true }, () => {
  test('Python enqueues on pve_vm_actions without Retry: two transient failures, then success, on the queue policy', { skip: noPythonRq }, async () => {
    const w = await world();
    // WORKER_MAX_RETRY=3 over pve_vm_actions' [5, 10, 15]: waits 5 s, then 10 s (RQ's end-aligned index).
    const cli = worker(['-u', w.url, '--with-scheduler', 'pve_vm_actions'], { ...w.env, WORKER_MAX_RETRY: '3' });
    await cli.waitFor(/Listening on pve_vm_actions/, 60_000);
    const job = await py1<{ id: string }>(w.url, { op: 'enqueue', queue: 'pve_vm_actions', func: 'ovtest.flaky', kwargs: { fails: 2 } });
    const fails: Array<{ at: number; ahead: number; left: string | null | undefined }> = [];
    let seen = 0;
    await until(async () => {
      const [left, status] = await w.redis.hmget(`rq:job:${job.id}`, 'retries_left', 'status');
      const attempts = Number(await w.redis.get(`test:attempts:${job.id}`));
      if (status === 'scheduled' && attempts > seen) {
        seen = attempts;
        const score = Number(await w.redis.zscore('rq:scheduled:pve_vm_actions', job.id));
        const [s, us] = await w.redis.time();
        fails.push({ at: Date.now(), ahead: score - (Number(s) + Number(us) / 1e6), left });
      }
      return status === 'finished';
    }, 60_000, 50);
    assert.equal(fails.length, 2, JSON.stringify(fails));
    assert.ok(fails[0]!.ahead > 4 && fails[0]!.ahead <= 5, `first wait ${fails[0]!.ahead} s, want 5`);
    assert.ok(fails[1]!.ahead > 9 && fails[1]!.ahead <= 10, `second wait ${fails[1]!.ahead} s, want 10`);
    assert.deepEqual(fails.map((f) => f.left), ['2', '1']);
    assert.equal(await w.redis.hget(`rq:job:${job.id}`, 'retry_intervals'), '[5, 10, 15]');
    const task = await found(async () => {
      const t = await taskOfJob(w.store, job.id);
      return t?.status === 'success' ? t : null;
    }, 20_000);
    assert.equal(task.type, 'ovtest.flaky');
    assert.equal(task.queue, 'pve_vm_actions');
    assert.deepEqual(task.result, { attempts: 3 });
    const subs: SubTaskRow[] = await w.store.subTasks(task.id);
    assert.deepEqual(subs.map((s) => [s.attempt, s.status]), [[1, 'error'], [2, 'error'], [3, 'success']]);
    assert.match(subs[0]!.errorMessage ?? '', /VM is locked \(attempt 1\)/);
    // the meta Python reads names the Task
    const meta = JSON.parse((await w.redis.hget(`rq:job:${job.id}`, 'meta'))!) as { task_id: number };
    assert.equal(meta.task_id, task.id);
    await cli.stop();
  });

  test('a permanent error: one SubTask, Task failed, no retry; a dependent canceled by it: its Task canceled', async () => {
    const w = await world();
    const cli = worker(['-u', w.url, 'moodle'], w.env);
    await cli.waitFor(/Listening on moodle/, 60_000);
    const q = new Queue('moodle', w.redis);
    const parent = await q.enqueue('ovtest.perm');
    // The backend writes the Task row before it enqueues; the dependent never runs, so only the row tells.
    const depTask = await w.store.createTask({ name: 'Enrol', type: 'ovtest.ok', queue: 'moodle', status: 'queued' });
    const child = await q.enqueue('ovtest.ok', { meta: { task_id: depTask }, dependsOn: new Dependency({ jobs: [parent.id], cancelOnFailure: true }) });
    await w.store.setJobId(depTask, child.id);
    const task = await found(async () => {
      const t = await taskOfJob(w.store, parent.id);
      return t?.status === 'failed' ? t : null;
    }, 30_000);
    const subs = await w.store.subTasks(task.id);
    assert.deepEqual(subs.map((s) => [s.attempt, s.status]), [[1, 'error']]);
    assert.match(task.error ?? '', /no such template/);
    assert.equal(await w.redis.hget(`rq:job:${parent.id}`, 'status'), 'failed');
    assert.equal(await w.redis.hget(`rq:job:${parent.id}`, 'retries_left'), null, 'a permanent error takes no retry');
    assert.equal(await w.redis.hget(`rq:job:${child.id}`, 'status'), 'canceled');
    // the reconciler (every 15 s, after a 10 s grace) follows the canceled job
    const dep = await found(async () => {
      const t = await w.store.getTask(depTask);
      return t?.status === 'canceled' ? t : null;
    }, 60_000, 250);
    assert.match(dep.error ?? '', /dependency/);
    assert.deepEqual(await w.store.subTasks(depTask), []);
    await cli.stop();
  });

  test('SIGKILL of a worker mid-attempt: the SubTask ends "worker died", the next attempt succeeds', async () => {
    const w = await world();
    const env = { ...w.env, WORKER_MAX_RETRY: '1' };
    const first = worker(['-u', w.url, 'pve_vm_actions'], env);
    await first.waitFor(/Listening on pve_vm_actions/, 60_000);
    const job = await new Queue('pve_vm_actions', w.redis).enqueue('ovtest.hang', { kwargs: { once: true } });
    await until(() => w.redis.get(`test:hanging:${job.id}`), 30_000, 50);
    const task = (await until(() => taskOfJob(w.store, job.id), 10_000))!;
    first.proc.kill('SIGKILL');
    await first.exited;
    const second = worker(['-u', w.url, '--with-scheduler', 'pve_vm_actions'], env);
    // dead-worker timeout (20 s at --job-monitoring-interval 1), then the queue's wait of 15 s for its last retry
    const done = await found(async () => {
      const t = await w.store.getTask(task.id);
      return t?.status === 'success' ? t : null;
    }, 120_000, 250);
    assert.deepEqual(done.result, { attempts: 2 });
    const subs = await w.store.subTasks(task.id);
    assert.deepEqual(subs.map((s) => [s.attempt, s.status, s.errorMessage]), [[1, 'error', 'worker died'], [2, 'success', null]]);
    const [rows] = (await w.pool.query("SELECT COUNT(*) AS n FROM sub_tasks WHERE status = 'processing'")) as unknown as [Array<{ n: number }>];
    assert.equal(Number(rows[0]!.n), 0, 'nothing stays processing');
    await second.stop();
  });

  test('serve runs each role on exactly its queues (info --json); the scheduler role runs the schedule', async () => {
    const w = await world();
    const { ROLES } = await import('../../src/openvle/roles.js');
    const roles = ['worker', 'worker-vm-clone', 'worker-periodic', 'worker-all'] as const;
    const procs = roles.map((r) => new Cli(['serve', '-u', w.url, '-n', `serve-${r}`], { env: { ...w.env, SERVICE_ROLE: r } }));
    let sched: Cli | undefined;
    try {
      await Promise.all(procs.map((p) => p.waitFor(/Listening on/, 90_000)));
      // rq's info shows the workers of the queues it shows: name them all
      const { QUEUE_NAMES } = await import('../../src/openvle/queues.js');
      const info = await run(['info', '--json', '-u', w.url, ...QUEUE_NAMES]);
      assert.equal(info.code, 0, info.stderr);
      const workers = (JSON.parse(info.stdout) as { workers: Array<{ name: string; queues: string[] }> }).workers;
      for (const r of roles) {
        const found = workers.find((x) => x.name === `serve-${r}`);
        assert.ok(found, `no worker for role ${r}: ${JSON.stringify(workers)}\n${procs.map((p) => p.output).join('\n----\n')}`);
        assert.deepEqual(found.queues, [...ROLES[r].queues], `role ${r}`);
      }
      assert.equal(workers.length, roles.length, 'the scheduler role runs no worker');
      sched = new Cli(['serve', '--role', 'scheduler', '-u', w.url], { env: w.env });
      await sched.waitFor(/CronScheduler .* started with 3 entries/, 60_000);
      // the interval entry fires at once
      await sched.waitFor(/Enqueued job openvle\.periodic\.pve_sync to queue pve_periodic/, 30_000);
    } finally {
      await Promise.all([...procs, ...(sched ? [sched] : [])].map((p) => p.stop()));
    }
  });
});

describe('serve and worker refuse bad input with one clear line', { concurrency: true }, () => {
  test('unknown role: one line listing the valid roles, exit 1', async () => {
    const r = await run(['serve', '-u', fx.url], { env: { SERVICE_ROLE: 'wrker' } });
    assert.equal(r.code, 1);
    assert.deepEqual(r.stderr.trim().split('\n'), ["error: Unknown role 'wrker': use one of worker, worker-vm-clone, worker-periodic, worker-all, scheduler"]);
    const r2 = await run(['worker', '--role', 'nope', '-u', fx.url]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /^error: Unknown role 'nope': use one of worker, /);
    const r3 = await run(['serve', '-u', fx.url]);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr.trim(), /^error: no role given: set SERVICE_ROLE or pass --role \(one of worker, .*scheduler\)$/);
  });

  test('a bad variable: one line naming it, exit 1, no secret printed', async () => {
    const r = await run(['serve', '--role', 'worker', '-u', fx.url], { env: { WORKER_MAX_RETRY: 'lots', MARIADB_PASSWORD: 'hunter2-secret' } });
    assert.equal(r.code, 1);
    // serve logs (structured) before it reads the configuration; the errors are the lines that say so
    const errs = r.stderr.trim().split('\n').filter((l) => l.startsWith('error:'));
    assert.deepEqual(errs, ["error: WORKER_MAX_RETRY must be an integer between 0 and 100 (got 'lots')"]);
    assert.doesNotMatch(r.stdout + r.stderr, /hunter2/);
  });

  test('MariaDB unreachable: an OpenVLE worker refuses to start with one line; a plain worker needs none', async () => {
    const env = { MARIADB_PORT: '1', MARIADB_PASSWORD: 'hunter2-secret' };
    const r = await run(['worker', '-u', `${fx.url}/15`, 'pve_vm_clone'], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr.trim(), /^error: openvle: MariaDB at 127\.0\.0\.1:1 \(database openvle, user root\) cannot be reached: .*ECONNREFUSED/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.doesNotMatch(r.stdout + r.stderr, /hunter2/);
    const plain = await run(['worker', '--burst', '--import', tmp.path('ovtest.ts'), '-u', `${fx.url}/15`, 'default'], { env });
    assert.equal(plain.code, 0, plain.stderr);
  });

  test('worker --role scheduler is refused (it runs no worker); --role and queues together are refused', async () => {
    const r = await run(['worker', '--role', 'scheduler', '-u', fx.url]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /role 'scheduler' runs the cron schedule, not a worker/);
    const r2 = await run(['worker', '--role', 'worker', '-u', fx.url, 'mails']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /either --role or queues/);
  });
});
