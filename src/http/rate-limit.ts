import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import type { HttpRateLimit } from '../core/adapter.js';

/** The bucket of a request: its client IP as the server computed it (IPv6 by /64), never a header. */
export function clientKey(request: FastifyRequest): string {
  return normalizeIP(request.ip);
}

/**
 * A Redis connection for the limits that fails fast: while Redis is away a check errors at once
 * and the request is served (fail open) instead of waiting for the reconnection.
 */
export function rateLimitRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false });
}

/**
 * @fastify/rate-limit with its Redis store, keys `<redis.prefix>:rl:…` that expire with their
 * window (bounded state): nothing is limited unless a route asks (`config.rateLimit`, a route's
 * `rateLimit` option in the port) or a scope adds `app.rateLimit()` (the API: `api` limit, keys
 * `<prefix>:rl:api:<ip>`).
 */
export async function registerRateLimit(app: FastifyInstance, o: { redis: Redis; prefix: string; api: HttpRateLimit }): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    redis: o.redis,
    nameSpace: `${o.prefix}:rl:`,
    max: o.api.max,
    timeWindow: o.api.windowMs,
    keyGenerator: (request) => `api:${clientKey(request)}`,
    skipOnError: true,
  });
}
