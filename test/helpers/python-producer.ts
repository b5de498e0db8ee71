import { deflateSync } from 'node:zlib';
import type { Redis } from 'ioredis';
import { keys } from '../../src/index.js';

/** What a Python RQ producer writes: the job hash and a plain RPUSH, no wake-up signal. */
export async function pushLikePython(redis: Redis, queue: string, id: string, args: [number, number]): Promise<void> {
  await redis
    .multi()
    .hset(keys.job(id), {
      data: deflateSync(Buffer.from(JSON.stringify(['tasks.add', null, args, {}]))),
      status: 'queued',
      origin: queue,
      created_at: '2026-01-01T00:00:00.000000Z',
      enqueued_at: '2026-01-01T00:00:00.000000Z',
      timeout: '180',
      description: `tasks.add(${args.join(', ')})`,
    })
    .rpush(keys.queue(queue), id)
    .sadd(keys.queues, keys.queue(queue))
    .exec();
}
