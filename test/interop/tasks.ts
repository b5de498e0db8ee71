/**
 * The TypeScript twin of py/tasks.py: the same names with the same results,
 * so 'tasks.add' means one thing whichever side runs it. The tests load it
 * with TaskRegistry.importModule, which registers every exported function
 * as 'tasks.<name>'. The worker calls a task with the job's args, then its
 * kwargs object when there are any.
 */
import { currentJob } from '../../src/index.js';
import { waitGate } from './gate.js';

export function add(a: number, b: number): number {
  return a + b;
}

export function hello(kwargs: { name?: string } = {}): { greeting: string } {
  return { greeting: `hello ${kwargs.name ?? 'rq'}` };
}

export function power(base: number, kwargs: { exp?: number } = {}): number {
  return base ** (kwargs.exp ?? 2);
}

export function boom(message = 'kaboom'): never {
  throw new Error(message);
}

export function echo_meta(): Record<string, unknown> {
  return currentJob().job.meta;
}

/** Adds `seen_by: 'ts'` to the job's meta with save_meta semantics; returns the new meta. */
export async function tag_meta(): Promise<Record<string, unknown>> {
  const { job } = currentJob();
  const meta = { ...(await job.getMeta()), seen_by: 'ts' };
  await job.saveMeta(meta);
  return meta;
}

/** Fails while INCR key <= failTimes; returns the attempt number after. */
export async function flaky(key: string, failTimes: number): Promise<number> {
  const n = await currentJob().job.connection.incr(key);
  if (n <= failTimes) throw new Error(`flaky attempt ${n} of key ${key}`);
  return n;
}

/** Waits until the test opens gate `name` (see gate.ts). */
export async function block(name: string): Promise<string> {
  await waitGate(name);
  return `released ${name}`;
}
