// The set-up the mail, Guacamole and Moodle task tests share: a private
// Redis, a database of their own, the simulated outside world, and an
// in-process worker running the tracked OpenVLE tasks.
import { after, before } from 'node:test';
import { Queue, Retry, type Worker } from '../../../src/index.js';
import { loadConfig, type OpenVleConfig } from '../../../src/openvle/config/config.js';
import { migrate } from '../../../src/openvle/db/migrate.js';
import { createPool, type Pool } from '../../../src/openvle/db/pool.js';
import { createTaskServices, registerOpenVleTasks, type TaskDefinition, type TaskServices } from '../../../src/openvle/tasks/index.js';
import { TaskTracker } from '../../../src/openvle/tracking/tracker.js';
import { TaskRegistry, type Logger } from '../../../src/index.js';
import { startSimWorld, type SimWorld } from '../../../src/sim/world.js';
import { engineFixture } from '../../helpers/engine.js';
import { until, uniq } from '../../helpers/util.js';
import { testDatabase } from '../db.js';
import type { MariaDbConfig } from '../../../src/openvle/config/mariadb.js';

export const WAIT = 60_000;

export function taskWorld(opts: { env?: Record<string, string>; moodleDuplicateMs?: number } = {}) {
  const fx = engineFixture();
  const st = {} as { pool: Pool; drop: () => Promise<void>; db: MariaDbConfig; sim: SimWorld; config: OpenVleConfig; services: TaskServices; tracker: TaskTracker };
  const workers: Worker[] = [];
  before(async () => {
    const db = await testDatabase('ovmgm');
    st.db = db.config;
    st.drop = db.drop;
    st.pool = createPool(db.config);
    await migrate(st.pool);
    st.sim = await startSimWorld({ moodleDuplicateMs: opts.moodleDuplicateMs ?? 100 });
    st.config = { ...loadConfig({ ...st.sim.env, ...opts.env }), mariadb: db.config };
    st.services = createTaskServices({ config: st.config, pool: st.pool, redis: fx.redis });
    st.tracker = new TaskTracker({ pool: st.pool, redis: fx.redis, reconciler: { interval: 3_600_000 } });
  });
  after(async () => {
    for (const w of workers) w.stop({ cold: true });
    await st.tracker?.close();
    await st.services?.close();
    await st.sim?.close();
    await st.pool?.end();
    await st.drop?.();
  });
  return {
    fx,
    get pool() {
      return st.pool;
    },
    get db() {
      return st.db;
    },
    get sim() {
      return st.sim;
    },
    get config() {
      return st.config;
    },
    get services() {
      return st.services;
    },
    /** A logger that keeps every line, and the lines. */
    capture(): { logger: Logger; lines: string[] } {
      const lines: string[] = [];
      const keep = (m: string) => void lines.push(m);
      return { logger: { debug: keep, info: keep, warning: keep, error: keep }, lines };
    },
    get tracker() {
      return st.tracker;
    },
    /** An in-process worker with every OpenVLE task registered, tracked, with the engine's scheduler (retries). */
    worker(queues: string[], o: { services?: TaskServices; logger?: Logger; extra?: (reg: TaskRegistry, tracker: TaskTracker) => void } = {}): Worker & { done: Promise<void> } {
      const reg = new TaskRegistry();
      registerOpenVleTasks(reg, st.tracker, o.services ?? st.services);
      o.extra?.(reg, st.tracker);
      const w = fx.worker(queues, reg, { withScheduler: true, ...(o.logger ? { logger: o.logger } : {}) });
      st.tracker.attach(w);
      workers.push(w);
      return w;
    },
    /** Enqueues a task as the backend does (Task row first, task_id in meta), with a short retry for the test. */
    async enqueue(def: TaskDefinition, kwargs: Record<string, unknown>, o: { retry?: Retry; jobId?: string; jobTimeout?: number } = {}) {
      const jobId = o.jobId ?? uniq('job');
      const taskId = await st.tracker.store.createTask({ name: def.label, type: def.name, queue: def.queue, jobId });
      const job = await new Queue(def.queue, fx.redis).enqueue(def.name, {
        kwargs,
        jobId,
        meta: { task_id: taskId },
        ...(o.retry ? { retry: o.retry } : {}),
        ...(o.jobTimeout ? { jobTimeout: o.jobTimeout } : {}),
      });
      return { job, jobId, taskId };
    },
    /** Waits until the Task ends (success or failed) and returns its row. */
    async settled(taskId: number) {
      const row = await until(async () => {
        const t = await st.tracker.store.getTask(taskId);
        return t && (t.status === 'success' || t.status === 'failed') ? t : undefined;
      }, WAIT, 50);
      return row!;
    },
    subTasks(taskId: number) {
      return st.tracker.store.subTasks(taskId);
    },
  };
}

export { Retry };
