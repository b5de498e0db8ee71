/**
 * rq's shared flags that mean something only to Python, or that this CLI
 * takes in rq's spelling: -S/--serializer is accepted for JSON (the only
 * serializer a TypeScript worker can read), and the Python class options
 * are a one-line usage error naming the option, never "unknown option".
 */
import { InvalidArgumentError, type Command } from 'commander';

/** The spellings rq accepts for its JSON serializer (the alias since 2.9, the dotted path before). */
const JSON_SERIALIZERS = new Set(['json', 'JSON', 'JSONSerializer', 'rq.serializers.JSONSerializer', 'rq.serializers.json']);

export function serializerArg(v: string): 'json' {
  if (JSON_SERIALIZERS.has(v)) return 'json';
  throw new InvalidArgumentError(`only the JSON serializer is supported here (-S json or rq.serializers.JSONSerializer), not '${v}'`);
}

/** rq's Python-only options and why they have no equivalent here. */
const PYTHON_ONLY: Array<[flags: string, name: string, why: string]> = [
  ['-w, --worker-class <class>', 'worker-class', 'there is one worker class (run jobs side by side with --concurrency)'],
  ['-j, --job-class <class>', 'job-class', 'Python job classes cannot run here'],
  ['--queue-class <class>', 'queue-class', 'Python queue classes cannot run here'],
  ['--connection-class <class>', 'connection-class', 'Python connection classes cannot run here'],
];

/** The options every rq command shares: -S/--serializer and the Python class options. */
export function withRqSharedFlags(cmd: Command): Command {
  cmd.option('-S, --serializer <serializer>', "rq's serializer option: json (or rq.serializers.JSONSerializer), the only one supported", serializerArg);
  for (const [flags, name, why] of PYTHON_ONLY) unsupported(cmd, flags, name, why);
  return cmd;
}

/** rq worker's options with no Node equivalent. */
export function withRqWorkerFlags(cmd: Command): Command {
  unsupported(cmd, '-d, --disable-default-exception-handler', 'disable-default-exception-handler', 'failed jobs always go to the failed registry');
  unsupported(cmd, '--exception-handler <path>', 'exception-handler', 'Python exception handlers cannot run here (use a job\'s onFailure callback)');
  cmd.option('-P, --path <dir>', "rq's import path: directories where relative --import modules are looked up (after the current one); repeatable", (v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
  cmd.option('--date-format <format>', "time format of log lines, strftime's %Y %m %d %H %M %S %f (default: %H:%M:%S)");
  return cmd;
}

function unsupported(cmd: Command, flags: string, name: string, why: string): void {
  cmd.option(flags, `(rq's; not supported: ${why})`);
  cmd.on(`option:${name}`, () => {
    cmd.error(`error: option '--${name}' is not supported: ${why}`, { exitCode: 2, code: 'openvle.unsupportedOption' });
  });
}
