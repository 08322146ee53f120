import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { HubError, errorMessage } from '../core/errors.js';
import { durabilityWarnings, redisDurability } from '../core/queues/redis.js';

/** Waits up to 10 s for Redis to answer a PING; then fails naming the URL. */
export async function waitForRedis(redis: Redis, url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await redis.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new HubError('NETWORK', `Redis at ${url} does not answer: ${errorMessage(err)}`, { cause: err });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Loud warnings, naming the fix, when Redis would lose acknowledged work in a crash. */
export async function warnIfRedisForgets(redis: Redis, url: string, log: Logger): Promise<void> {
  const d = await redisDurability(redis);
  if (!d) {
    log.info('redis: CONFIG GET is not allowed here; make sure it persists (appendonly yes, maxmemory-policy noeviction)');
    return;
  }
  for (const w of durabilityWarnings(d, url)) log.warn(`WARNING: ${w}`);
}
