/** `openvle-rq tasks`: recent OpenVLE Tasks from MariaDB, as a table or JSON. */
import { Command, Option } from 'commander';
import { formatTaskTable, TaskStore, tasksAsJson } from '../openvle/index.js';
import { action, intArg } from './common.js';
import { openvlePool } from './openvle-db.js';

const STATUSES = ['queued', 'running', 'success', 'failed', 'canceled'] as const;

interface TasksFlags {
  status?: (typeof STATUSES)[number];
  queue?: string;
  limit: number;
  json?: boolean;
}

export function tasksCommand(): Command {
  return new Command('tasks')
    .summary('list recent OpenVLE Tasks (MariaDB)')
    .description('Lists recent Tasks, newest first: id, name, queue, status, progress, attempts, last error, age.\nReads MariaDB from MARIADB_* or DATABASE_URL.')
    .addOption(new Option('--status <status>', 'only Tasks in this status').choices(STATUSES))
    .option('--queue <queue>', 'only Tasks of this queue')
    .option('--limit <n>', 'at most this many Tasks (1-1000)', intArg(1), 50)
    .option('--json', 'print JSON rows instead of a table')
    .action(action(runTasks));
}

async function runTasks(flags: TasksFlags): Promise<number> {
  const pool = await openvlePool();
  try {
    const rows = await new TaskStore(pool).listTasks({ status: flags.status, queue: flags.queue, limit: Math.min(flags.limit, 1000) });
    if (flags.json) process.stdout.write(JSON.stringify(tasksAsJson(rows), null, 2) + '\n');
    else process.stdout.write(formatTaskTable(rows) + '\n');
  } finally {
    await pool.end().catch(() => {});
  }
  return 0;
}
