import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A redis-server of the test's own on a free port, which the test may stop and restart. */
export class RedisServer {
  proc: ChildProcess | undefined;
  readonly dir: string;
  constructor(
    readonly port: number,
    readonly extraArgs: string[] = [],
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'ovrq-redis-'));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(extraArgs: string[] = []): Promise<RedisServer> {
    const s = new RedisServer(await freePort(), extraArgs);
    await s.start();
    return s;
  }

  async start(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.extraArgs],
      { stdio: 'ignore' },
    );
    const probe = new Redis(this.port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not start`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /**
   * A server with append-only persistence as OpenVLE runs it (every write
   * fsynced before its reply), so that restart() keeps what was acknowledged.
   */
  static async startPersistent(extraArgs: string[] = []): Promise<RedisServer> {
    return RedisServer.start(['--appendonly', 'yes', '--appendfsync', 'always', ...extraArgs]);
  }

  /** Kills the server (SIGKILL: no shutdown save) and starts it again on the same port and --dir. */
  async restart(downMs = 0): Promise<void> {
    await this.stop('SIGKILL');
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.start();
  }

  /** SIGKILL (or SIGTERM) and wait for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The Redis for a test file: REDIS_URL if set, else a server of its own. */
export async function testRedis(): Promise<{ url: string; close: () => Promise<void> }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, close: async () => {} };
  const s = await RedisServer.start();
  return { url: s.url, close: () => s.destroy() };
}
