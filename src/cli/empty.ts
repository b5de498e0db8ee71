/** `openvle-rq empty [--all | QUEUES...]`: removes every queued job of the queues. */
import { Command } from 'commander';
import { Queue } from '../index.js';
import { action, connect, queueName, withUrl } from './common.js';

export function emptyCommand(): Command {
  const cmd = new Command('empty')
    .summary('empty queues')
    .description('Removes every job waiting in the given queues (registries, scheduled and deferred jobs stay).')
    .argument('[queues...]', 'queues to empty')
    .option('-a, --all', 'empty all queues');
  withUrl(cmd);
  return cmd.action(
    action(async (names: string[], flags: { url?: string; all?: boolean }) => {
      for (const q of names) {
        queueName(q);
      }
      if (!flags.all && names.length === 0) {
        process.stdout.write('Nothing to do\n');
        return 0;
      }
      const redis = await connect(flags.url);
      const queues = flags.all ? await Queue.all(redis) : names.map((n) => new Queue(n, redis));
      if (queues.length === 0) {
        process.stdout.write('Nothing to do\n');
        return 0;
      }
      for (const q of queues) {
        const n = await q.empty();
        process.stdout.write(`${n} jobs removed from ${q.name} queue\n`);
      }
      return 0;
    }),
  );
}
