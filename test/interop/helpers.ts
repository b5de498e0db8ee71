/**
 * Shared pieces of the Python RQ interop tests: running Debian's Python RQ
 * 1.13 (/usr/bin/python3, never the pyenv python3 first on PATH, and never
 * with PYTHONPATH set) as a library (py/rqhelper.py) or as the rq CLI, and
 * loading tasks.ts into a TaskRegistry.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import type { Redis } from 'ioredis';
import { TaskRegistry, Worker, createRedis, silentLogger, type WorkerOptions } from '../../src/index.js';
import { testRedis } from '../helpers/redis.js';

export const PYTHON = '/usr/bin/python3';
export const HERE = dirname(fileURLToPath(import.meta.url));
/** cwd of every Python process: holds tasks.py and rqhelper.py. */
export const PY_DIR = join(HERE, 'py');
export const JSON_SERIALIZER = 'rq.serializers.JSONSerializer';

export function pyEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  // rq's CLI reads these when -u is missing; the tests always pass -u.
  delete env.RQ_REDIS_URL;
  return env;
}

const live = new Set<ChildProcess>();

/** A Python process the tests started: its output so far and its exit. */
export interface PyProc {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** SIGTERM to its process group (a worker and its scheduler child), SIGKILL if still there after graceMs. */
  stop: (graceMs?: number) => Promise<number | null>;
}

function startPy(args: string[], opts: { stdin?: string } = {}): PyProc {
  const proc = spawn(PYTHON, args, { cwd: PY_DIR, env: pyEnv(), detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      resolve(code ?? (signal ? -1 : null));
    });
    proc.once('error', (err) => {
      live.delete(proc);
      out += `\nspawn error: ${err.message}`;
      resolve(-2);
    });
  });
  if (opts.stdin !== undefined) proc.stdin!.end(opts.stdin);
  else proc.stdin!.end();
  const stop = async (graceMs = 3000): Promise<number | null> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      killGroup(proc, 'SIGTERM');
      const t = setTimeout(() => killGroup(proc, 'SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      // The group may still hold a forked scheduler child.
      killGroup(proc, 'SIGKILL');
      return code;
    }
    return exited;
  };
  return { proc, output: () => out, exited, stop };
}

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Kills every Python process still running (for after hooks). */
export async function killAllPy(): Promise<void> {
  await Promise.all(
    [...live].map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', () => resolve());
          killGroup(p, 'SIGKILL');
        }),
    ),
  );
}

/** Runs a Python process to its end; rejects when it outlives timeoutMs (after killing it). */
async function runPy(args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; output: string; stdout: string }> {
  const p = startPy(args, opts);
  let stdout = '';
  p.proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  let timedOut = false;
  const t = setTimeout(() => {
    timedOut = true;
    killGroup(p.proc, 'SIGKILL');
  }, opts.timeoutMs ?? 20_000);
  const code = await p.exited;
  clearTimeout(t);
  if (timedOut) throw new Error(`python ${args.join(' ')} timed out:\n${p.output()}`);
  return { code, output: p.output(), stdout };
}

/** Commands for py/rqhelper.py; see its docstring. */
export type PyCommand = { op: string } & Record<string, unknown>;

/** Runs commands through Python RQ's own API (one process for the batch) and returns their replies. */
export async function py<T = any>(url: string, cmds: PyCommand[]): Promise<T[]> {
  const r = await runPy(['rqhelper.py', url], { stdin: JSON.stringify(cmds) });
  if (r.code !== 0) throw new Error(`rqhelper.py exited ${r.code}:\n${r.output}`);
  return JSON.parse(r.stdout) as T[];
}

export async function py1<T = any>(url: string, cmd: PyCommand): Promise<T> {
  const [r] = await py<T>(url, [cmd]);
  return r!;
}

/** `python3 -m rq.cli <args>` to completion. */
export function rqCli(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; output: string; stdout: string }> {
  return runPy(['-m', 'rq.cli', ...args], { timeoutMs });
}

/** Starts `rq worker -S JSONSerializer -u url [extra] queues...` in the background. */
export function startRqWorker(url: string, queues: string[], extra: string[] = []): PyProc {
  return startPy(['-m', 'rq.cli', 'worker', '-u', url, '-S', JSON_SERIALIZER, ...extra, ...queues]);
}

/** A TaskRegistry holding tasks.ts as 'tasks.*'. */
export async function loadTasks(): Promise<TaskRegistry> {
  const tasks = new TaskRegistry();
  const names = await tasks.importModule(join(HERE, 'tasks.ts'));
  if (!names.includes('tasks.add')) throw new Error(`tasks.ts registered ${names.join(', ')}`);
  return tasks;
}

export function tsWorker(connection: Redis, tasks: TaskRegistry, queues: string[], opts: Partial<WorkerOptions> = {}): Worker {
  return new Worker(queues, { connection, tasks, logger: silentLogger, ...opts });
}

/**
 * For a describe block: a Redis of its own and a connection to it, closed
 * after the block together with every Python process the block started.
 */
export function interopRedis(): { url: string; redis: Redis } {
  const fx = { url: '', redis: undefined as unknown as Redis };
  let close = async () => {};
  before(async () => {
    const r = await testRedis();
    fx.url = r.url;
    close = r.close;
    fx.redis = createRedis(r.url);
  });
  after(async () => {
    await killAllPy();
    fx.redis.disconnect();
    await close();
  });
  return fx;
}
