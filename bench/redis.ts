// The bench's private redis-server: the tests' RedisServer (a free port,
// no persistence, its own empty directory), stopped and removed by stop().
import type { Redis } from 'ioredis';
import { RedisServer } from '../test/helpers/redis.js';

export class BenchRedis {
  private constructor(private readonly server: RedisServer) {}

  static async start(): Promise<BenchRedis> {
    return new BenchRedis(await RedisServer.start());
  }

  get port(): number {
    return this.server.port;
  }

  get url(): string {
    return this.server.url;
  }

  stop(): Promise<void> {
    return this.server.destroy();
  }
}

/** INFO's `key:value` lines. */
export function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** Redis' CPU time so far (user + sys), µs. */
export async function redisCpuUs(admin: Redis): Promise<number> {
  const info = parseInfo(await admin.info('cpu'));
  return (Number(info.get('used_cpu_user')) + Number(info.get('used_cpu_sys'))) * 1e6;
}
