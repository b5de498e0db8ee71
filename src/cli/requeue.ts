/** `openvle-rq requeue --queue Q [--all] [JOB_IDS...]`: puts failed jobs back on their queue. */
import { Command } from 'commander';
import { InvalidJobOperation, Job, keys, NoSuchJobError } from '../index.js';
import { action, connect, oneLine, queueName, style, withUrl } from './common.js';

interface RequeueFlags {
  url?: string;
  queue: string;
  all?: boolean;
}

export function requeueCommand(): Command {
  const cmd = new Command('requeue')
    .summary('requeue failed jobs')
    .description(
      "Requeues jobs from the queue's failed job registry. An id that is not in the registry, or whose job\n" +
        'has expired, is reported and skipped (rq aborts there).',
    )
    .argument('[job_ids...]', 'ids of failed jobs')
    .requiredOption('--queue <name>', 'the queue whose failed jobs to requeue')
    .option('-a, --all', 'requeue all failed jobs');
  withUrl(cmd);
  return cmd.action(action(runRequeue));
}

async function runRequeue(ids: string[], flags: RequeueFlags): Promise<number> {
  queueName(flags.queue);
  const redis = await connect(flags.url);
  const failedKey = keys.registry('failed', flags.queue);
  let jobIds = ids;
  if (flags.all) jobIds = await redis.zrange(failedKey, '0', '-1');
  if (jobIds.length === 0) {
    process.stdout.write('Nothing to do\n');
    return 0;
  }
  process.stdout.write(`Requeueing ${jobIds.length} jobs from failed queue\n`);
  let failCount = 0;
  for (const id of jobIds) {
    let reason: string | null = null;
    if ((await redis.zscore(failedKey, id)) === null) {
      reason = `not in the failed job registry of ${flags.queue}`;
    } else {
      try {
        await new Job(redis, id, {}, undefined).requeue();
      } catch (err) {
        if (err instanceof NoSuchJobError) reason = 'no such job (it may have expired)';
        else if (err instanceof InvalidJobOperation) reason = oneLine(err);
        else throw err;
      }
    }
    if (reason !== null) {
      failCount++;
      process.stderr.write(`Skipped job ${id}: ${reason}\n`);
    }
  }
  if (failCount > 0) process.stdout.write(style(`Unable to requeue ${failCount} jobs from failed job registry`, 'red') + '\n');
  return 0;
}
