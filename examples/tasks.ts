// Example task module: `openvle-rq worker --import examples/tasks.ts demo`
// registers these as tasks.add, tasks.hello, ... (file base name + export name).
import { currentJob, UnrecoverableError } from 'openvle-rq';

export function add(a: number, b: number): number {
  return a + b;
}

/** Python's kwargs arrive as a trailing object: hello(name='rq') calls hello({ name: 'rq' }). */
export function hello(arg: string | { name?: string } = {}): string {
  const name = typeof arg === 'string' ? arg : (arg.name ?? 'world');
  return `hello ${name}`;
}

export async function slow(ms: number): Promise<string> {
  const { signal } = currentJob();
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });
  return `slept ${ms} ms`;
}

/** Fails until it has been tried `failures` times, counting in the job's meta. */
export async function flaky(failures: number): Promise<string> {
  const { job } = currentJob();
  const meta = await job.getMeta();
  const attempt = Number(meta.attempt ?? 0) + 1;
  await job.saveMeta({ ...meta, attempt });
  if (attempt <= failures) throw new Error(`attempt ${attempt} failed (on purpose)`);
  return `succeeded on attempt ${attempt}`;
}

export function sendMail(to: string): never {
  throw new UnrecoverableError(`550 5.1.1 <${to}>: recipient address rejected`);
}

export function step(name: string): string {
  return `${name} done`;
}
