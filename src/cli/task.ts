/** `openvle-rq task retry ID`: requeues a failed or canceled Task's job; the next attempt is a new SubTask. */
import { Command } from 'commander';
import { retryTask, TaskRetryError, TaskStore } from '../openvle/index.js';
import { action, CliError, connect, intArg, oneLine, withUrl } from './common.js';
import { openvlePool } from './openvle-db.js';

export function taskCommand(): Command {
  const task = new Command('task').summary('act on one OpenVLE Task').description('Acts on one OpenVLE Task (MariaDB from MARIADB_* or DATABASE_URL).');
  const retry = new Command('retry')
    .summary('retry a failed or canceled Task')
    .description("Requeues a failed or canceled Task's job; the Task is queued again and its next attempt is a new SubTask.")
    .argument('<id>', 'Task id', intArg(1, 'a Task id'));
  withUrl(retry);
  retry.action(action(runRetry));
  return task.addCommand(retry);
}

async function runRetry(id: number, flags: { url?: string }): Promise<number> {
  const redis = await connect(flags.url);
  const pool = await openvlePool();
  try {
    await retryTask(new TaskStore(pool), redis, id);
  } catch (err) {
    if (err instanceof TaskRetryError) throw new CliError(oneLine(err));
    throw err;
  } finally {
    await pool.end().catch(() => {});
  }
  process.stdout.write(`Task ${id} requeued\n`);
  return 0;
}
