import { Redis, type RedisOptions } from 'ioredis';

/** Connections for BullMQ: workers need `maxRetriesPerRequest: null` so they wait out outages. */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  // Auto-pipelining batches the commands of one tick into one socket write: the pipeline's hot path
  // issues many small commands, and one syscall each was a sixth of its CPU time.
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    enableAutoPipelining: true,
    // Blocking pops wait on their own connection; never batch them with other commands.
    autoPipeliningIgnoredCommands: ['bzpopmin', 'bzpopmax', 'blpop', 'brpop', 'brpoplpush', 'blmove', 'xread', 'xreadgroup'],
    ...opts,
  });
}
