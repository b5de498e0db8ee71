// The demo: enqueues example jobs (plain, kwargs, a dependency chain, a
// fan-in, retries with an interval, a permanent error, a scheduled job),
// runs a worker with the scheduler until every job has ended, and prints
// what Redis holds for each, in RQ's layout.
//   REDIS_URL=redis://host:port npm run demo   (default: 127.0.0.1:6379,
//   or a redis-server started here on a free port if none answers)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Dependency, Job, Queue, Retry, TaskRegistry, Worker, consoleLogger, createRedis, defaultRedisUrl } from 'openvle-rq';

async function reachable(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000 });
  r.on('error', () => {});
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

let url = defaultRedisUrl();
let ownServer: ReturnType<typeof spawn> | undefined;
if (!(await reachable(url))) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  console.log(`No Redis at ${url}; starting redis-server on port ${port}`);
  ownServer = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await reachable(url)); i++) await new Promise((r) => setTimeout(r, 50));
}

const redis = createRedis(url);
const run = Date.now().toString(36);
const q = new Queue('demo', redis);
const mails = new Queue('demo_mails', redis);

const jobs: Array<[string, Job]> = [];
const add = async (label: string, job: Promise<Job>) => jobs.push([label, await job]);
await add('add(2, 3)', q.enqueue('tasks.add', { args: [2, 3] }));
await add('hello(name=rq)', q.enqueue('tasks.hello', { kwargs: { name: 'rq' } }));
const a = await q.enqueue('tasks.step', { args: ['delete guacamole connection'], jobId: `chain-a-${run}` });
const b = await q.enqueue('tasks.step', { args: ['stop vm'], dependsOn: a });
const c = await q.enqueue('tasks.step', { args: ['delete vm'], dependsOn: new Dependency({ jobs: b, cancelOnFailure: true }) });
jobs.push(['chain 1/3', a], ['chain 2/3', b], ['chain 3/3', c]);
const parts = await q.enqueueMany([1, 2, 3].map((i) => ({ func: 'tasks.slow', args: [100 * i] })));
parts.forEach((p, i) => jobs.push([`fan-in part ${i + 1}`, p]));
await add('fan-in join', q.enqueue('tasks.step', { args: ['all parts'], dependsOn: parts }));
await add('flaky, Retry(max=3, interval=[1, 2])', q.enqueue('tasks.flaky', { args: [2], retry: new Retry({ max: 3, interval: [1, 2] }) }));
await add('SMTP 550 (not retried)', mails.enqueue('tasks.sendMail', { args: ['nobody@example.invalid'], retry: new Retry({ max: 5, interval: 30 }) }));
await add('scheduled in 1.5 s', q.enqueueIn(1.5, 'tasks.hello', { args: ['later'] }));
await add('timeout after 1 s', q.enqueue('tasks.slow', { args: [10_000], jobTimeout: 1 }));

const tasks = new TaskRegistry();
await tasks.importModule(fileURLToPath(new URL('./tasks.ts', import.meta.url)));
const worker = new Worker(['demo', 'demo_mails'], { connection: createRedis(url), tasks, concurrency: 4, withScheduler: true, logger: consoleLogger('info') });
const done = worker.work();

const terminal = new Set(['finished', 'failed', 'stopped', 'canceled']);
for (;;) {
  const statuses = await Promise.all(jobs.map(([, j]) => j.getStatus()));
  if (statuses.every((s) => s !== null && terminal.has(s))) break;
  await new Promise((r) => worker.once('job-finished', r).once('job-failed', r));
}
worker.stop();
await done;

console.log('\n%s', 'job'.padEnd(38) + 'status'.padEnd(10) + 'result');
for (const [label, j] of jobs) {
  await j.refresh();
  const r = await j.latestResult();
  const detail = r === null ? '' : r.type === 1 ? JSON.stringify(r.returnValue) : (r.excString ?? '').split('\n')[0];
  console.log(label.padEnd(38) + j.status.padEnd(10) + detail);
}
console.log(`\nInspect with: npx openvle-rq info -u ${url}   (or Python: rq info -u ${url})`);
redis.disconnect();
worker.connection.disconnect();
ownServer?.kill();
