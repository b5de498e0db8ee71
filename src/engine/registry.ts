import type { Redis } from 'ioredis';
import { keys, type RegistryKind } from './keys.js';

/**
 * One of RQ's per-queue registries (sorted sets). Reading never changes
 * state here, unlike RQ's count/get_job_ids, which clean as they read.
 */
export class Registry {
  readonly key: string;
  constructor(
    readonly connection: Redis,
    readonly kind: RegistryKind,
    readonly queueName: string,
  ) {
    this.key = keys.registry(kind, queueName);
  }

  count(): Promise<number> {
    return this.connection.zcard(this.key);
  }

  /** Job ids (for wip: the job part of `job:execution` members), oldest score first. */
  async jobIds(start = 0, end = -1): Promise<string[]> {
    const members = await this.connection.zrange(this.key, String(start), String(end));
    return this.kind === 'wip' ? members.map((m) => m.replace(/:[^:]*$/, '')) : members;
  }

  /** Members with their scores (epoch seconds). */
  async entries(): Promise<Array<{ member: string; score: number }>> {
    const flat = await this.connection.zrange(this.key, "0", "-1", "WITHSCORES");
    const out: Array<{ member: string; score: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ member: flat[i]!, score: Number(flat[i + 1]) });
    return out;
  }

  /** Drops entries whose expiry score has passed (finished and failed registries). */
  async cleanup(nowSeconds = Math.floor(Date.now() / 1000)): Promise<number> {
    if (this.kind !== 'finished' && this.kind !== 'failed') return 0;
    return this.connection.zremrangebyscore(this.key, 0, nowSeconds);
  }
}
