import { Redis, type RedisOptions } from 'ioredis';

/** Connections for BullMQ: workers need `maxRetriesPerRequest: null` so they wait out outages. */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false, ...opts });
}
