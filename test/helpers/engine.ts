import { after, before } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/engine/connection.js';
import { silentLogger } from '../../src/engine/logger.js';
import { TaskRegistry } from '../../src/engine/tasks.js';
import { Worker, type WorkerOptions } from '../../src/engine/worker/index.js';
import { testRedis } from './redis.js';

/**
 * Per test file: a Redis of its own, connections and workers that are
 * closed after the file's tests.
 */
export function engineFixture() {
  const state = {
    url: '',
    redis: undefined as unknown as Redis,
    close: async () => {},
    workers: [] as Worker[],
    conns: [] as Redis[],
  };
  before(async () => {
    const r = await testRedis();
    state.url = r.url;
    state.close = r.close;
    state.redis = createRedis(r.url);
    state.conns.push(state.redis);
  });
  after(async () => {
    for (const w of state.workers) w.stop({ cold: true });
    await Promise.all(state.workers.map(waitStopped));
    for (const c of state.conns) c.disconnect();
    await state.close();
  });
  return {
    get url() {
      return state.url;
    },
    get redis() {
      return state.redis;
    },
    connection(): Redis {
      const c = createRedis(state.url);
      state.conns.push(c);
      return c;
    },
    /** A worker on its own connection; work() is started and its promise returned as `done`. */
    worker(queues: string[], tasks: TaskRegistry, opts: Partial<WorkerOptions> = {}) {
      const w = new Worker(queues, { connection: this.connection(), tasks, logger: silentLogger, ...opts });
      state.workers.push(w);
      return Object.assign(w, { done: w.work() });
    },
  };
}

const stoppedSet = new WeakSet<Worker>();
function waitStopped(w: Worker): Promise<void> {
  const done = (w as Worker & { done?: Promise<void> }).done;
  if (!done || stoppedSet.has(w)) return Promise.resolve();
  stoppedSet.add(w);
  return done.catch(() => {});
}

export function tasks(map: Record<string, (...args: any[]) => unknown>): TaskRegistry {
  const t = new TaskRegistry();
  for (const [k, v] of Object.entries(map)) t.register(k, v);
  return t;
}
