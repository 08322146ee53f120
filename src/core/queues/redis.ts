import { Redis } from 'ioredis';

/** Connections for BullMQ: workers need `maxRetriesPerRequest: null` so they wait out outages. */
export function createRedis(url: string): Redis {
  // Auto-pipelining was measured (bench/pipeline.ts): fewer write syscalls, same throughput, and a
  // p50 latency at 500 msg/s of 270 ms instead of 8 ms. So it stays off.
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
}
