/** `openvle-rq resume`: ends a `suspend`. */
import { Command } from 'commander';
import { resume } from '../index.js';
import { action, connect, withUrl } from './common.js';

export function resumeCommand(): Command {
  const cmd = new Command('resume').summary('resume suspended workers').description('Resumes processing of queues that were suspended with `openvle-rq suspend`.');
  withUrl(cmd);
  return cmd.action(
    action(async (flags: { url?: string }) => {
      const redis = await connect(flags.url);
      await resume(redis);
      process.stdout.write('Resuming workers.\n');
      return 0;
    }),
  );
}
