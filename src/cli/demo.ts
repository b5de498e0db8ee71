/** `openvle-rq demo`: OpenVLE's demo (npm run demo): an event deployed and archived against simulated systems. */
import { Command } from 'commander';
import { runDemo } from '../openvle/demo/run.js';
import { action } from './common.js';

export function demoCommand(): Command {
  const cmd = new Command('demo')
    .summary("run OpenVLE's demo: an event deployed and archived against simulated systems")
    .description(
      'Starts simulated Proxmox, Guacamole, Moodle and SMTP servers and one `serve` process per role, deploys an\n' +
        'event (one transient Proxmox fault injected, so a retry shows), archives it, and prints its Tasks.\n' +
        'It works in an empty Redis database number and a MariaDB database of its own (REDIS_URL/RQ_REDIS_URL and\n' +
        "MARIADB_*/DATABASE_URL, or the defaults), both removed at exit; with no server answering it starts its own\n" +
        'redis-server and mariadbd when installed.',
    )
    .option('--participants <n>', 'participants of the event (the first one the instructor)', '3');
  return cmd.action(
    action(async (flags: { participants: string }) => {
      const participants = Number(flags.participants);
      if (!Number.isInteger(participants) || participants < 1 || participants > 20) throw new Error('--participants must be an integer from 1 to 20');
      const r = await runDemo({ participants });
      return r.deployed === 'deployed' && r.archived === 'archived' && r.failedTasks === 0 ? 0 : 1;
    }),
  );
}
