/** `openvle-rq suspend [--duration N]`: workers take no new jobs until `resume` (or N seconds). */
import { Command, InvalidArgumentError } from 'commander';
import { suspend } from '../index.js';
import { action, connect, withUrl } from './common.js';

function durationArg(v: string): number {
  if (!/^\s*-?\d+\s*$/.test(v)) throw new InvalidArgumentError(`'${v}' is not a valid integer`);
  return Number(v);
}

export function suspendCommand(): Command {
  const cmd = new Command('suspend')
    .summary('suspend all workers')
    .description('Suspends all workers (they finish their current jobs and take no new ones); resume with `openvle-rq resume`.')
    .option('--duration <seconds>', 'seconds the workers stay suspended (default: until resumed)', durationArg);
  withUrl(cmd);
  return cmd.action(
    action(async (flags: { url?: string; duration?: number }) => {
      if (flags.duration !== undefined && flags.duration < 1) {
        process.stderr.write('error: Duration must be an integer greater than 1\n');
        return 1;
      }
      const redis = await connect(flags.url);
      if (flags.duration !== undefined) {
        await suspend(redis, flags.duration);
        process.stdout.write(
          `Suspending workers for ${flags.duration} seconds. No new jobs will be started during that time, but then will automatically resume\n`,
        );
      } else {
        await suspend(redis);
        process.stdout.write('Suspending workers.  No new jobs will be started.  But current jobs will be completed\n');
      }
      return 0;
    }),
  );
}
