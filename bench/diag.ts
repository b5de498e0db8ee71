// BENCH_DIAG=1: what a timed window cost, per job, beyond wall time and CPU.
//
// - Redis I/O (`INFO stats`): how many socket reads Redis made, how many
//   commands each read carried, how many replies it wrote. Commands that
//   travel together (pipelines, several clients answered in one event-loop
//   turn) show as more calls per read.
// - Scheduler (`/proc/<pid>/task/<tid>/schedstat` and `.../status`, summed
//   over a process' threads): time on a CPU, time runnable but waiting for a
//   CPU (run-queue wait), timeslices, voluntary and involuntary context
//   switches. On a small shared machine, run-queue wait is where other load
//   shows: a figure whose wait per job is close to its run time per job
//   spent half its time waiting for a core, not working.
// - Syscalls (`/proc/<pid>/io` syscr/syscw): every read and write the process
//   made (sockets, IPC, eventfd), for any system and client library.
// - Minor page faults (`/proc/<pid>/stat`): memory the process touched for
//   the first time; on a VM each costs the kernel (and the hypervisor) far
//   more than the write that caused it.
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { parseInfo } from './redis.js';

interface Sched {
  runNs: number;
  waitNs: number;
  slices: number;
  vcsw: number;
  ivcsw: number;
}

export interface ProcSnap {
  /** main thread */
  main: Sched;
  /** all threads alive at the snapshot, by tid */
  threads: Map<string, Sched>;
  syscr: number;
  syscw: number;
  /** minor page faults of the whole process (/proc/<pid>/stat field 10) */
  minflt: number;
}

function readSched(dir: string): Sched | undefined {
  try {
    const [run, wait, slices] = readFileSync(`${dir}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    const status = readFileSync(`${dir}/status`, 'utf8');
    const v = /voluntary_ctxt_switches:\s*(\d+)/.exec(status);
    const iv = /nonvoluntary_ctxt_switches:\s*(\d+)/.exec(status);
    return { runNs: run!, waitNs: wait!, slices: slices!, vcsw: Number(v?.[1] ?? 0), ivcsw: Number(iv?.[1] ?? 0) };
  } catch {
    return undefined; // the thread (or process) is gone
  }
}

export function procSnap(pid: number): ProcSnap | undefined {
  const main = readSched(`/proc/${pid}`);
  if (!main) return undefined;
  const threads = new Map<string, Sched>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const s = readSched(`/proc/${pid}/task/${tid}`);
      if (s) threads.set(tid, s);
    }
  } catch {
    /* gone */
  }
  // /proc/<pid>/schedstat and status are the main thread's own counters.
  const mainT = threads.get(String(pid)) ?? main;
  let syscr = 0;
  let syscw = 0;
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    syscr = Number(/syscr:\s*(\d+)/.exec(io)?.[1] ?? 0);
    syscw = Number(/syscw:\s*(\d+)/.exec(io)?.[1] ?? 0);
  } catch {
    /* not readable */
  }
  let minflt = 0;
  try {
    // the command name (field 2) may hold spaces: count fields after its ')'
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    minflt = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7] ?? 0);
  } catch {
    /* gone */
  }
  return { main: mainT, threads, syscr, syscw, minflt };
}

const sub = (a: Sched, b: Sched): Sched => ({
  runNs: a.runNs - b.runNs,
  waitNs: a.waitNs - b.waitNs,
  slices: a.slices - b.slices,
  vcsw: a.vcsw - b.vcsw,
  ivcsw: a.ivcsw - b.ivcsw,
});
const add = (a: Sched, b: Sched): Sched => ({
  runNs: a.runNs + b.runNs,
  waitNs: a.waitNs + b.waitNs,
  slices: a.slices + b.slices,
  vcsw: a.vcsw + b.vcsw,
  ivcsw: a.ivcsw + b.ivcsw,
});
const zero: Sched = { runNs: 0, waitNs: 0, slices: 0, vcsw: 0, ivcsw: 0 };
const r2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Per-job fields of one process over a window, prefixed (e.g. `redis_`):
 * run and run-queue wait µs, timeslices and context switches per job, for the
 * main thread and for all threads (threads that started or ended inside the
 * window count only if alive at both ends), and syscalls per job.
 */
export function procDelta(prefix: string, a: ProcSnap | undefined, b: ProcSnap | undefined, jobs: number): Record<string, number> {
  if (!a || !b) return {};
  const main = sub(b.main, a.main);
  let all = zero;
  for (const [tid, s] of b.threads) {
    const s0 = a.threads.get(tid);
    if (s0) all = add(all, sub(s, s0));
  }
  return {
    [`${prefix}run_us_per_job`]: r2(main.runNs / 1000 / jobs),
    [`${prefix}runq_wait_us_per_job`]: r2(main.waitNs / 1000 / jobs),
    [`${prefix}slices_per_job`]: r2(main.slices / jobs),
    [`${prefix}vcsw_per_job`]: r2(main.vcsw / jobs),
    [`${prefix}ivcsw_per_job`]: r2(main.ivcsw / jobs),
    [`${prefix}threads_run_us_per_job`]: r2(all.runNs / 1000 / jobs),
    [`${prefix}threads_runq_wait_us_per_job`]: r2(all.waitNs / 1000 / jobs),
    [`${prefix}syscr_per_job`]: r2((b.syscr - a.syscr) / jobs),
    [`${prefix}syscw_per_job`]: r2((b.syscw - a.syscw) / jobs),
    [`${prefix}minflt_per_job`]: r2((b.minflt - a.minflt) / jobs),
  };
}

export interface RedisIo {
  reads: number;
  writes: number;
  commands: number;
}

export async function redisIo(admin: Redis): Promise<RedisIo> {
  const s = parseInfo(await admin.info('stats'));
  return {
    reads: Number(s.get('total_reads_processed')),
    writes: Number(s.get('total_writes_processed')),
    commands: Number(s.get('total_commands_processed')),
  };
}

/**
 * Redis' I/O over a window. `commands` counts every command Redis ran,
 * including those a script ran (redis.call); calls per read counts only
 * the calls that came over a socket (`socketCommands`, the clients' own
 * count), when the caller knows it.
 */
export function redisIoDelta(a: RedisIo, b: RedisIo, jobs: number, socketCommands?: number): Record<string, number> {
  const reads = b.reads - a.reads;
  const writes = b.writes - a.writes;
  const commands = b.commands - a.commands - 1;
  return {
    redis_reads_per_job: r2(reads / jobs),
    redis_writes_per_job: r2(writes / jobs),
    redis_commands_per_job: r2(commands / jobs),
    redis_commands_per_read: r2(reads > 0 ? commands / reads : 0),
    ...(socketCommands !== undefined ? { redis_calls_per_read: r2(reads > 0 ? socketCommands / reads : 0) } : {}),
  };
}

export const loadNow = (): number => Math.round(Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]) * 100) / 100;

/** One stderr line of a diag record: `key=value` pairs, prefixes grouped. */
export function diagLine(fields: Record<string, number>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
