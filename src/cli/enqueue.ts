/** `openvle-rq enqueue FUNCTION [ARGUMENTS...]`: rq enqueue, with the JSON serializer. */
import { Command } from 'commander';
import { describeCall, MAX_SECONDS, safeDescription, parseDuration, pyRepr, Queue, Retry, type EnqueueOptions } from '../index.js';
import { parseFunctionArgs } from './args.js';
import { action, CliError, collect, connect, intArg, oneLine, queueName, style, withUrl } from './common.js';

interface EnqueueFlags {
  url?: string;
  queue: string;
  timeout?: string;
  resultTtl?: string;
  ttl?: string;
  failureTtl?: string;
  description?: string;
  dependsOn?: string[];
  jobId?: string;
  atFront?: boolean;
  retryMax: number;
  retryInterval?: string[];
  scheduleIn?: string;
  scheduleAt?: string;
  quiet?: boolean;
}

/** rq's get_call_string without truncation: func(arg, ..., k=v) with kwargs sorted. */
function duration(label: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  let n: number;
  try {
    n = parseDuration(v);
  } catch (err) {
    throw new CliError(`${label}: ${oneLine(err)}`);
  }
  if (n < min) throw new CliError(`${label} must be >= ${min}`);
  if (!Number.isSafeInteger(n) || n > MAX_SECONDS) throw new CliError(`${label} must be at most ${MAX_SECONDS} seconds (10 years)`);
  return n;
}

export function enqueueCommand(): Command {
  const cmd = new Command('enqueue')
    .summary('enqueue a job')
    .description(
      'Enqueues a job from the command line (JSON serializer).\n' +
        'ARGUMENTS: value (string), key=value (string keyword), :json, key:=json, %literal, key%=literal (Python literal);\n' +
        'a value starting with @ is read from that file.',
    )
    .argument('<function>', 'task name, e.g. tasks.add')
    .argument('[arguments...]', 'the function\'s arguments')
    .option('-q, --queue <name>', 'the name of the queue', 'default')
    .option('--timeout <duration>', 'maximum runtime of the job before it is interrupted and marked as failed (e.g. 180, 10m)')
    .option('--result-ttl <duration>', 'how long successful jobs and their results are kept')
    .option('--ttl <duration>', 'maximum queued time of the job before it is discarded')
    .option('--failure-ttl <duration>', 'how long failed jobs are kept')
    .option('--description <text>', 'description of the job')
    .option('--depends-on <job-id>', 'another job id that must complete before this job is queued; repeatable', collect)
    .option('--job-id <id>', 'the id of this job')
    .option('--at-front', 'place the job at the front of the queue, instead of the end')
    .option('--retry-max <n>', 'maximum amount of retries', intArg(0), 0)
    .option('--retry-interval <seconds>', 'interval between retries in seconds; repeatable', collect)
    .option('--schedule-in <duration>', 'delay until the function is enqueued (e.g. 10s, 5m, 2d)')
    .option('--schedule-at <datetime>', 'enqueue at this ISO 8601 time; without a zone it is local time (e.g. 2021-05-27T21:45:00)')
    .option('--quiet', 'only log errors');
  withUrl(cmd);
  return cmd.action(action(runEnqueue));
}

async function runEnqueue(func: string, argv: string[], flags: EnqueueFlags): Promise<number> {
  let parsed: ReturnType<typeof parseFunctionArgs>;
  try {
    parsed = parseFunctionArgs(argv);
  } catch (err) {
    throw new CliError(oneLine(err));
  }
  const { args, kwargs } = parsed;
  // Values read from @files are shown by file name, and secret-named keywords as '***'.
  const fstring = describeCall(func, parsed.shown.args, parsed.shown.kwargs);
  queueName(flags.queue);
  const opts: EnqueueOptions = {
    args,
    kwargs,
    description: flags.description === undefined ? fstring : safeDescription(flags.description),
    jobId: flags.jobId,
    atFront: Boolean(flags.atFront),
  };
  if (flags.timeout !== undefined) {
    const t = duration('--timeout', flags.timeout, -1)!;
    if (t === 0) throw new CliError('--timeout must be a positive duration or -1');
    opts.jobTimeout = t;
  }
  opts.resultTtl = duration('--result-ttl', flags.resultTtl, -1);
  opts.ttl = duration('--ttl', flags.ttl, 1);
  opts.failureTtl = duration('--failure-ttl', flags.failureTtl, -1);
  if (flags.dependsOn?.length) opts.dependsOn = flags.dependsOn;
  if (flags.retryMax > 0) {
    const intervals = (flags.retryInterval ?? ['0']).map((v) => {
      if (!/^\d+$/.test(v)) throw new CliError(`--retry-interval: '${v}' is not a valid integer`);
      return Number(v);
    });
    opts.retry = new Retry({ max: flags.retryMax, interval: intervals });
  }
  let at: number | undefined;
  if (flags.scheduleIn !== undefined && flags.scheduleAt !== undefined) {
    throw new CliError("You can't specify both --schedule-in and --schedule-at");
  }
  if (flags.scheduleIn !== undefined) at = Date.now() + duration('--schedule-in', flags.scheduleIn, 0)! * 1000;
  if (flags.scheduleAt !== undefined) {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.test(flags.scheduleAt)) {
      throw new CliError(`--schedule-at: '${flags.scheduleAt}' does not match the format YYYY-MM-DDTHH:MM:SS`);
    }
    at = new Date(flags.scheduleAt).getTime();
    if (!Number.isFinite(at)) throw new CliError(`--schedule-at: '${flags.scheduleAt}' is not a valid time`);
  }

  const redis = await connect(flags.url);
  const queue = new Queue(flags.queue, redis);
  let jobId: string;
  try {
    const job = at === undefined ? await queue.enqueue(func, opts) : await queue.enqueueAt(at, func, opts);
    jobId = job.id;
  } catch (err) {
    throw new CliError(oneLine(err));
  }
  if (!flags.quiet) process.stdout.write(`Enqueued ${style(fstring, 'blue')} with job-id '${jobId}'.\n`);
  return 0;
}
