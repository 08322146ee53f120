/**
 * Sliding-window limits shared by every process (Redis): how many email codes one chat identity
 * may ask for, and how many one address may receive, per window. One Lua script checks both and
 * records the request under both only when both admit it, so two processes never both take the
 * last slot. A request is recorded under its own id: a redelivered message does not count twice.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

const ADMIT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local member = ARGV[5]
for i = 1, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
end
if redis.call('ZSCORE', KEYS[1], member) and redis.call('ZSCORE', KEYS[2], member) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return -2 end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, member)
  redis.call('PEXPIRE', KEYS[i], window)
end
return 1
`;

export interface CodeLimits {
  /** Codes one chat identity may ask for per window. */
  perIdentity: number;
  /** Codes one address may receive per window (whoever asks). */
  perAddress: number;
  windowMs: number;
}

/** @defaultValue 3 codes per identity and 3 per address, per hour. */
export const DEFAULT_CODE_LIMITS: CodeLimits = { perIdentity: 3, perAddress: 3, windowMs: 60 * 60_000 };

export type Admission = 'ok' | 'identity' | 'address';

export interface CodeLimiter {
  admit(r: { identity: string; address: string; request: string; now: number }): Promise<Admission>;
}

/** The Redis implementation (keys under `<prefix>:identity:codes:`; the address only as a hash). */
export function redisCodeLimiter(redis: Redis, prefix: string, limits: CodeLimits = DEFAULT_CODE_LIMITS): CodeLimiter {
  const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);
  return {
    async admit(r) {
      const keys = [`${prefix}:identity:codes:id:${hash(r.identity)}`, `${prefix}:identity:codes:addr:${hash(r.address)}`];
      const got = Number(await redis.eval(ADMIT, 2, ...keys, String(r.now), String(limits.windowMs), String(limits.perIdentity), String(limits.perAddress), r.request));
      return got === 1 ? 'ok' : got === -1 ? 'identity' : 'address';
    },
  };
}
