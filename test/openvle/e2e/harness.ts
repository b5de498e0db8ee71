// Real OpenVLE processes for the end-to-end tests: `openvle-rq serve --role`
// and `openvle-rq cron`, pointed at the test's Redis, MariaDB database and
// simulated world through their environment, as a deployment would be.
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import type { MariaDbConfig } from '../../../src/openvle/config/mariadb.js';
import { until } from '../../helpers/util.js';

export const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin/openvle-rq');

export interface Proc {
  child: ChildProcess;
  output(): string;
  /** SIGKILL, as a container killed mid-job. */
  kill(): Promise<void>;
  /** SIGTERM (warm shutdown), then SIGKILL if it lingers. */
  stop(): Promise<void>;
}

export function mariadbEnv(c: MariaDbConfig): Record<string, string> {
  return { MARIADB_HOST: c.host, MARIADB_PORT: String(c.port), MARIADB_USER: c.user, MARIADB_PASSWORD: c.password, MARIADB_DATABASE: c.database };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

export function openvleRq(args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    child,
    output: () => out,
    kill: async () => {
      child.kill('SIGKILL');
      await exited(child);
    },
    stop: async () => {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited(child);
      clearTimeout(t);
    },
  };
}

/** Starts `serve --role <role>` and waits until its worker is registered in Redis (it has migrated and set up by then). */
export async function serveRole(redis: Redis, url: string, role: string, name: string, env: Record<string, string>): Promise<Proc> {
  const p = openvleRq(['serve', '--role', role, '--name', name, '-u', url], env);
  await until(async () => {
    if (p.child.exitCode !== null) throw new Error(`serve --role ${role} exited: ${p.output()}`);
    return (await redis.sismember('rq:workers', `rq:worker:${name}`)) === 1;
  }, 90_000, 100).catch((err) => {
    throw new Error(`${(err as Error).message}; output of serve --role ${role}:\n${p.output()}`);
  });
  return p;
}
