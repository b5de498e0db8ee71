import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRedis, infoSnapshot } from '../../index.js';
import { startSimWorld } from '../../sim/world.js';
import { loadConfig } from '../config/config.js';
import { mariadbConfigFromEnv } from '../config/mariadb.js';
import { EnvReader, type Env } from '../config/env.js';
import { seedDemo } from '../demo-data.js';
import { startOpenVle } from '../runtime.js';
import { QUEUE_NAMES } from '../queues.js';
import { createTaskServices } from '../tasks/services.js';
import { enqueueTracked } from '../tasks/enqueue.js';
import { EVENT_TASKS } from '../tasks/events/index.js';
import { TaskStore, type SubTaskRow } from '../tracking/store.js';
import { startDemoInfra } from './infra.js';
import { DemoView, summaryTable } from './view.js';

/** The package's root, from src/ under tsx or from dist/src/ when built. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the openvle-rq package root');
    dir = up;
  }
  return dir;
}

/** The roles the demo runs, each as its own `openvle-rq serve` process, as compose.yaml does. */
const ROLES = ['worker', 'worker-vm-clone', 'worker-periodic', 'scheduler'] as const;

// Variables of the caller's shell that must not reach the demo's processes:
// the demo points them at its own Redis database, MariaDB database and simulators.
const OWN_PREFIXES = ['PVE_', 'GUACAMOLE_', 'MOODLE_', 'SMTP_', 'MARIADB_', 'MONGODB_', 'RQ_', 'SERVICE_ROLE', 'DATABASE_URL', 'REDIS_URL', 'WORKER_', 'EVENTS_', 'MAIL_'];

export interface DemoResult {
  deployed: string;
  archived: string;
  tasks: number;
  failedTasks: number;
}

/**
 * OpenVLE's demo: simulated Proxmox, Guacamole, Moodle and SMTP; a worker
 * process for every role and the scheduler; an event with three
 * participants and two templates deployed (with one Proxmox lock timeout
 * injected, so a retry shows) and archived; then the table of Tasks and
 * their SubTasks.
 */
export async function runDemo(opts: { env?: Env; out?: NodeJS.WriteStream; participants?: number } = {}): Promise<DemoResult> {
  const env = opts.env ?? process.env;
  const out = opts.out ?? process.stdout;
  const view = new DemoView(out);
  const say = (l: string) => view.say(l);
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: Error) => say(`cleanup: ${err.message}`));
  };
  try {
    const reader = new EnvReader(env);
    const mariadb = mariadbConfigFromEnv(reader);
    reader.check();
    const infra = await startDemoInfra({ redisUrl: env.RQ_REDIS_URL || env.REDIS_URL || undefined, mariadb, log: say });
    cleanups.push(() => infra.close());
    for (const n of infra.notes) say(n);

    const world = await startSimWorld({ taskMs: 400 });
    cleanups.push(() => world.close());
    say(`simulators: Proxmox ${world.proxmox.url}, Guacamole ${world.guacamole.url}, Moodle ${world.moodle.url}, SMTP ${world.smtp.host}:${world.smtp.port}`);

    const childEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined && !OWN_PREFIXES.some((p) => k.startsWith(p))) childEnv[k] = v;
    Object.assign(childEnv, world.env, {
      RQ_REDIS_URL: infra.redisUrl,
      MARIADB_HOST: infra.mariadb.host,
      MARIADB_PORT: String(infra.mariadb.port),
      MARIADB_USER: infra.mariadb.user,
      MARIADB_PASSWORD: infra.mariadb.password,
      MARIADB_DATABASE: infra.mariadb.database,
    });
    const config = loadConfig(childEnv);

    const redis = createRedis(infra.redisUrl);
    cleanups.push(async () => redis.disconnect());
    const runtime = await startOpenVle({ mariadb: config.mariadb, redis });
    cleanups.push(() => runtime.close());
    const demo = await seedDemo(runtime.pool, { world, participants: opts.participants ?? 3 });
    say(`event ${demo.eventId} '${demo.shortName}': ${demo.participantIds.length} participants, templates ${demo.templateVmids.join(' and ')}`);

    // The worker processes, one per role, as compose.yaml runs them; their logs go to a file.
    const logDir = mkdtempSync(join(tmpdir(), 'openvle-demo-logs-'));
    const bin = join(packageRoot(), 'bin', 'openvle-rq');
    const children: ChildProcess[] = [];
    for (const role of ROLES) {
      const log = createWriteStream(join(logDir, `${role}.log`));
      const child = spawn(process.execPath, [bin, 'serve', '--role', role, '--name', `demo-${role}`], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.pipe(log);
      child.stderr!.pipe(log);
      children.push(child);
    }
    cleanups.push(async () => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
      await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    });
    say(`started ${ROLES.map((r) => `serve --role ${r}`).join(', ')} (logs in ${logDir})`);

    // One transient fault, so a retry shows: the first clone meets a cluster lock timeout.
    world.proxmox.faults.cloneCfsLockTimeouts = 1;

    const services = createTaskServices({ config, pool: runtime.pool, redis });
    const store = new TaskStore(runtime.pool);
    const eventTask = (name: string) => EVENT_TASKS.find((t) => t.name === name)!;
    const eventStatus = async () => {
      const [rows] = await runtime.pool.query('SELECT status FROM events WHERE id = ?', [demo.eventId]);
      return (rows as Array<{ status: string }>)[0]?.status ?? 'missing';
    };
    const waitFor = async (phase: string, done: (status: string) => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const status = await eventStatus();
        const [info, tasks] = await Promise.all([infoSnapshot(redis, [...QUEUE_NAMES]), store.listTasks({ limit: 200 })]);
        view.render({ phase: `${phase}: event ${status}`, info, tasks });
        if (done(status)) return status;
        if (Date.now() > deadline) throw new Error(`${phase} did not end within ${ms / 1000} s (event ${status}; worker logs in ${logDir})`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };

    const started = Date.now();
    say('deploying the event (openvle.events.deploy)...');
    await enqueueTracked(services, eventTask('openvle.events.deploy'), { event_id: demo.eventId }, { jobId: `demo-deploy-${demo.eventId}`, eventId: demo.eventId });
    const deployed = await waitFor('deploy', (s) => s === 'deployed' || s === 'deployment_failed', 120_000);
    view.clear();
    say(`event ${deployed} after ${((Date.now() - started) / 1000).toFixed(1)} s: ${world.proxmox.state.listVms().filter((v) => !v.template).length} VMs, ${world.guacamole.connections().length} Guacamole connections`);

    say('archiving the event (openvle.events.archive)...');
    const archivedAt = Date.now();
    await enqueueTracked(services, eventTask('openvle.events.archive'), { event_id: demo.eventId }, { jobId: `demo-archive-${demo.eventId}`, eventId: demo.eventId });
    const archived = await waitFor('archive', (s) => s === 'archived' || s === 'archive_failed', 120_000);
    view.clear();
    say(`event ${archived} after ${((Date.now() - archivedAt) / 1000).toFixed(1)} s: ${world.proxmox.state.listVms().filter((v) => !v.template).length} VMs left`);

    const tasks = await store.listTasks({ limit: 500 });
    const subTasks = new Map<number, SubTaskRow[]>();
    for (const t of tasks) subTasks.set(t.id, await store.subTasks(t.id));
    say('');
    for (const line of summaryTable(tasks, subTasks)) say(line);
    const retried = tasks.filter((t) => t.attempts > 1).length;
    say('');
    say(`${tasks.length} Tasks, ${tasks.filter((t) => t.status === 'success').length} succeeded, ${retried} needed a retry, ${tasks.filter((t) => t.status === 'failed').length} failed; ${world.smtp.messages.length} mails delivered; ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
    await services.close();
    return { deployed, archived, tasks: tasks.length, failedTasks: tasks.filter((t) => t.status === 'failed').length };
  } finally {
    view.clear();
    await cleanup();
  }
}
