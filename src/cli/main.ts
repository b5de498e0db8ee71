/**
 * The openvle-rq command line (bin/openvle-rq runs the compiled file):
 * rq's commands, flags and output, plus cron that is safe to run twice.
 */
import { Command, CommanderError } from 'commander';
import { ENGINE_VERSION } from '../index.js';
import { die } from './common.js';
import { cronCommand } from './cron.js';
import { demoCommand } from './demo.js';
import { emptyCommand } from './empty.js';
import { enqueueCommand } from './enqueue.js';
import { healthCommand } from './health.js';
import { infoCommand } from './info.js';
import { requeueCommand } from './requeue.js';
import { resumeCommand } from './resume.js';
import { serveCommand } from './serve.js';
import { tasksCommand } from './tasks.js';
import { taskCommand } from './task.js';
import { configCommand } from './config.js';
import { migrateCommand } from './migrate.js';
import { suspendCommand } from './suspend.js';
import { workerCommand } from './worker.js';
import { withRqSharedFlags } from './rq-flags.js';

/** rq spellings commander cannot declare: `-ds` (a two-letter short flag) and `--logging_level`. */
export function normalizeArgv(args: string[]): string[] {
  const out: string[] = [];
  let passthrough = false;
  for (const a of args) {
    if (passthrough) out.push(a);
    else if (a === '--') {
      passthrough = true;
      out.push(a);
    } else if (a === '-ds') out.push('--dequeue-strategy');
    else if (a.startsWith('-ds=')) out.push(`--dequeue-strategy=${a.slice(4)}`);
    else if (a === '--logging_level') out.push('--logging-level');
    else if (a.startsWith('--logging_level=')) out.push(`--logging-level=${a.slice('--logging_level='.length)}`);
    else out.push(a);
  }
  return out;
}

function configure(cmd: Command): Command {
  return cmd
    .configureOutput({
      // Commander's errors (bad flag, missing argument) on one line.
      outputError: (str, write) => write(str.trim().replace(/\s*\n\s*/g, ' ') + '\n'),
    })
    // Usage errors exit 2, as rq's (click's) do; main() turns the throw into the exit.
    .exitOverride();
}

const RQ_COMMANDS = new Set(['worker', 'info', 'enqueue', 'requeue', 'empty', 'suspend', 'resume', 'cron']);

function configureAll(cmd: Command): Command {
  for (const sub of cmd.commands) configureAll(sub);
  return configure(cmd);
}

export function buildProgram(): Command {
  const program = configure(new Command('openvle-rq'))
    .description("A Redis job queue with Python RQ's data layout: rq's command line for it.")
    .version(ENGINE_VERSION, '-V, --version', 'print the version')
    .showHelpAfterError(false);
  for (const make of [workerCommand, infoCommand, enqueueCommand, requeueCommand, emptyCommand, suspendCommand, resumeCommand, cronCommand, serveCommand, tasksCommand, taskCommand, configCommand, migrateCommand, healthCommand, demoCommand]) {
    const cmd = make();
    // rq's commands take rq's shared options (-S json, and the Python-only ones as clear errors).
    if (RQ_COMMANDS.has(cmd.name())) withRqSharedFlags(cmd);
    program.addCommand(configureAll(cmd));
  }
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  process.on('uncaughtException', (err) => die(err));
  process.on('unhandledRejection', (err) => die(err));
  const args = argv.slice(2);
  const cmd = args.find((a) => !a.startsWith('-'));
  const normalized = cmd === 'worker' || cmd === 'cron' || cmd === 'serve' ? normalizeArgv(args) : args;
  try {
    await buildProgram().parseAsync(normalized, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // --help and --version end with exit code 0; every usage error with 2.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  process.exit(process.exitCode ?? 0);
}

await main();
