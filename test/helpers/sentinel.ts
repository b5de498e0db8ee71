/**
 * A Sentinel deployment of Debian's redis-server on free ports: one master,
 * one replica, three sentinels (quorum 2, down after 1 s, a short failover
 * timeout), each sentinel with a config file of its own in a temp dir
 * (sentinels rewrite it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, RedisServer } from './redis.js';
import { until } from './util.js';

export const MASTER_NAME = 'mymaster';
export const DOWN_AFTER_MS = 1000;
export const FAILOVER_TIMEOUT_MS = 3000;

/** A direct connection that gives up at once (for probes). */
function probe(port: number): Redis {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 2000 });
  r.on('error', () => {});
  return r;
}

/** Runs `fn` on a fresh probe connection; null when the server does not answer. */
async function ask<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T | null> {
  const r = probe(port);
  try {
    await r.connect();
    return await fn(r);
  } catch {
    return null;
  } finally {
    r.disconnect();
  }
}

class SentinelProc {
  proc: ChildProcess | undefined;
  log = '';
  constructor(
    readonly port: number,
    readonly conf: string,
  ) {}

  async start(): Promise<void> {
    this.proc = spawn('redis-server', [this.conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => (this.log = (this.log + d.toString()).slice(-50_000));
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    await until(() => ask(this.port, (r) => r.ping()), 15_000, 50).catch(() => {
      throw new Error(`sentinel on ${this.port} did not start:\n${this.log}`);
    });
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }
}

export class SentinelCluster {
  readonly sentinels: SentinelProc[] = [];
  private constructor(
    readonly dir: string,
    readonly master: RedisServer,
    readonly replica: RedisServer,
  ) {}

  /** redis+sentinel:// URL naming all three sentinels. */
  get url(): string {
    return `redis+sentinel://${this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${MASTER_NAME}`;
  }

  static async start(): Promise<SentinelCluster> {
    // Diskless sync at once: the default waits 5 s for more replicas to join.
    const sync = ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];
    const master = await RedisServer.start(sync);
    const replica = await RedisServer.start([...sync, '--replicaof', '127.0.0.1', String(master.port)]);
    const c = new SentinelCluster(mkdtempSync(join(tmpdir(), 'ovrq-sentinel-')), master, replica);
    try {
      await until(async () => /master_link_status:up/.test((await ask(replica.port, (r) => r.info('replication'))) ?? ''), 20_000, 50);
      for (let i = 0; i < 3; i++) {
        const port = await freePort();
        const conf = join(c.dir, `sentinel-${i}.conf`);
        writeFileSync(
          conf,
          [
            `port ${port}`,
            'bind 127.0.0.1',
            `dir ${c.dir}`,
            `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} 2`,
            `sentinel down-after-milliseconds ${MASTER_NAME} ${DOWN_AFTER_MS}`,
            `sentinel failover-timeout ${MASTER_NAME} ${FAILOVER_TIMEOUT_MS}`,
            `sentinel parallel-syncs ${MASTER_NAME} 1`,
            '',
          ].join('\n'),
        );
        c.sentinels.push(new SentinelProc(port, conf));
      }
      await Promise.all(c.sentinels.map((s) => s.start()));
      // Ready when every sentinel knows the other two (hello messages, every
      // 2 s) and the replica: only then can they agree on a failover.
      await until(
        async () => {
          for (const s of c.sentinels) {
            const ok = await ask(s.port, async (r) => {
              const others = (await r.call('SENTINEL', 'SENTINELS', MASTER_NAME)) as unknown[];
              const replicas = (await r.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as string[][];
              const up = replicas.filter((fields) => {
                const flags = fields[fields.indexOf('flags') + 1] ?? '';
                return !/s_down|o_down|disconnected/.test(flags);
              });
              return others.length === 2 && up.length === 1;
            });
            if (!ok) return false;
          }
          return true;
        },
        30_000,
        200,
      ).catch(() => {
        throw new Error(`the sentinels did not find each other and the replica:\n${c.logs()}`);
      });
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  /** The master's port as each live sentinel reports it (null for a sentinel that does not answer). */
  async reportedMasterPorts(): Promise<(number | null)[]> {
    return Promise.all(
      this.sentinels.map((s) =>
        ask(s.port, async (r) => {
          const addr = (await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as [string, string] | null;
          return addr ? Number(addr[1]) : null;
        }),
      ),
    );
  }

  /** Resolves when every sentinel names the replica as master; rejects after ms. */
  async waitForReplicaPromoted(ms = 60_000): Promise<void> {
    await until(async () => (await this.reportedMasterPorts()).every((p) => p === this.replica.port), ms, 50);
    // and the replica itself agrees
    await until(async () => /role:master/.test((await ask(this.replica.port, (r) => r.info('replication'))) ?? ''), ms, 50);
  }

  /** Sentinel logs, for failure messages. */
  logs(): string {
    return this.sentinels.map((s, i) => `--- sentinel ${i} (${s.port})\n${s.log.slice(-3000)}`).join('\n');
  }

  async destroy(): Promise<void> {
    await Promise.all(this.sentinels.map((s) => s.stop()));
    await Promise.all([this.master.destroy(), this.replica.destroy()]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
