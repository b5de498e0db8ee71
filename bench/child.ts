// One worker process of the benchmark (forked by bench/run.ts, one per
// measured figure): runs one worker of the given system until it has
// finished `expect` jobs, then reports over IPC and exits.
//
//   drain:   the queue is pre-filled; throughput is timed from the
//            `warm`-th finished job to the `expect`-th, so JIT warm-up and
//            worker start-up stay outside the window.
//   latency: an idle worker; the producer stamps each job; the handler
//            records (its start time - stamp).
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { makeConsumer, type Payload, type Retention, type SystemName } from './systems.js';

export interface ChildConfig {
  mode: 'drain' | 'latency';
  system: SystemName;
  url: string;
  concurrency: number;
  /** openvle-rq's prefetch (figure c1p1). */
  prefetch?: number;
  retention: Retention;
  /** Jobs finished before the timed window starts (drain). */
  warm: number;
  /** Jobs to finish before reporting. */
  expect: number;
  /** Count the Redis commands this process sends (by name) and its socket reads/writes in the timed window. */
  countCommands: boolean;
  /** The queues the worker listens on (openvle-rq only; default the bench queue). */
  queues?: string[];
}

export type ChildMessage =
  | { type: 'ready' }
  /** drain: the timed window starts or ends now (the parent snapshots Redis and /proc) */
  | { type: 'window'; edge: 'start' | 'end' }
  | { type: 'pong'; sent: number; child: number }
  | {
      type: 'result';
      /** drain: window start/end (ms, this process' clock) */
      t0: number;
      t1: number;
      /** drain: CPU of this process in the window, µs */
      cpuUser: number;
      cpuSystem: number;
      /** latency: [seq, ms from stamp to handler start] */
      latencies: [number, number][];
      commands: Record<string, number>;
      /** 'data' events and write() calls on this process' sockets in the window (countCommands) */
      socketReads: number;
      socketWrites: number;
    };

export type ParentMessage = { type: 'ping'; sent: number };

const now = (): number => performance.timeOrigin + performance.now();

function send(m: ChildMessage): void {
  process.send!(m);
}

async function main(cfg: ChildConfig): Promise<void> {
  const commands: Record<string, number> = {};
  let socketReads = 0;
  let socketWrites = 0;
  let counting = false;
  if (cfg.countCommands) {
    // Both systems share this ioredis (BullMQ requires the same package).
    const require = createRequire(import.meta.url);
    const proto = (require('ioredis') as { Redis: { prototype: Record<string, unknown> } }).Redis.prototype;
    const orig = proto.sendCommand as (this: unknown, cmd: { name: string }, ...rest: unknown[]) => unknown;
    proto.sendCommand = function (this: unknown, cmd: { name: string }, ...rest: unknown[]) {
      if (counting) commands[cmd.name] = (commands[cmd.name] ?? 0) + 1;
      return orig.call(this, cmd, ...rest);
    };
    // Any client library's sockets (Bee-Queue's node_redis too): one 'data'
    // event is one read that returned bytes, one write() one buffer handed
    // to the socket (libuv may join writes queued meanwhile into one writev).
    const emit = Socket.prototype.emit;
    Socket.prototype.emit = function (this: Socket, ev: string | symbol, ...args: unknown[]) {
      if (counting && ev === 'data') socketReads++;
      return (emit as (...a: unknown[]) => boolean).call(this, ev, ...args);
    } as typeof emit;
    const write = Socket.prototype.write;
    Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
      if (counting) socketWrites++;
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof write;
  }

  let finished = 0;
  let t0 = 0;
  let t1 = 0;
  let cpu0 = process.cpuUsage();
  let cpu: NodeJS.CpuUsage = { user: 0, system: 0 };
  const latencies: [number, number][] = [];
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  if (cfg.mode === 'latency') counting = true;
  if (cfg.mode === 'drain' && cfg.warm === 0) {
    t0 = now();
    counting = true;
    send({ type: 'window', edge: 'start' });
  }

  const consumer = makeConsumer(cfg.system, cfg.url, {
    concurrency: cfg.concurrency,
    prefetch: cfg.prefetch,
    retention: cfg.retention,
    ...(cfg.queues ? { queues: cfg.queues } : {}),
    onStart: (p: Payload) => {
      if (cfg.mode === 'latency' && p.t !== undefined) latencies.push([p.i, now() - p.t]);
    },
    onFinished: () => {
      finished++;
      if (finished === cfg.warm && cfg.mode === 'drain') {
        t0 = now();
        cpu0 = process.cpuUsage();
        counting = true;
        if (cfg.countCommands) send({ type: 'window', edge: 'start' });
      }
      if (finished === cfg.expect) {
        t1 = now();
        cpu = process.cpuUsage(cpu0);
        counting = false;
        if (cfg.countCommands && cfg.mode === 'drain') send({ type: 'window', edge: 'end' });
        resolveDone();
      }
    },
  });

  process.on('message', (m: ParentMessage) => {
    if (m.type === 'ping') send({ type: 'pong', sent: m.sent, child: now() });
  });
  await consumer.ready;
  send({ type: 'ready' });
  await done;
  send({ type: 'result', t0, t1, cpuUser: cpu.user, cpuSystem: cpu.system, latencies, commands, socketReads, socketWrites });
  await consumer.close();
  process.exit(0);
}

const cfg = JSON.parse(process.env.BENCH_CHILD_CONFIG ?? 'null') as ChildConfig | null;
if (!cfg) {
  process.stderr.write('bench/child.ts is started by bench/run.ts\n');
  process.exit(2);
}
main(cfg).catch((err: unknown) => {
  process.stderr.write(`bench child failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
