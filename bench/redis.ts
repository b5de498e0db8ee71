// The bench's private redis-server: the tests' RedisServer (a free port,
// no persistence, its own empty directory), stopped and removed by stop().
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
