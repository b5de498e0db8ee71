/**
 * A TS worker in a process of its own, for tests that kill it mid-job.
 * argv: redis url, worker name, queues (comma separated). Prints
 * `started <job id>` for each job it starts. Heartbeats every second and
 * counts as dead 3 s after the last one, so recovery can be tested quickly.
 */
import { createRedis } from '../../src/index.js';
import { loadTasks, tsWorker } from './helpers.js';

const [url, name, queues] = process.argv.slice(2);
const redis = createRedis(url!);
const worker = tsWorker(redis, await loadTasks(), queues!.split(','), {
  name,
  concurrency: 4,
  jobMonitoringInterval: 1,
  deadWorkerTimeout: 3,
});
worker.on('job-started', (job) => process.stdout.write(`started ${job.id}\n`));
await worker.work();
redis.disconnect();
