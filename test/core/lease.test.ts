import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Lease, LeaseKeeper } from '../../src/core/lease.js';
import { REDIS_URL, uniqueName } from '../helpers/env.js';
import { until } from '../helpers/hub.js';

describe('lease', () => {
  const redis = new Redis(REDIS_URL);
  after(() => redis.disconnect());

  it('one holder at a time; renew and release need the token', async () => {
    const key = uniqueName('sbtlease:');
    const a = new Lease(redis, key, 2000);
    const b = new Lease(redis, key, 2000);
    assert.equal(await a.acquire(), true);
    assert.equal(await b.acquire(), false);
    assert.equal(await b.renew(), false);
    await b.release();
    assert.equal(await redis.get(key), a.token);
    assert.equal(await a.renew(), true);
    await a.release();
    assert.equal(await b.acquire(), true);
    await b.release();
  });

  it('when the holder dies, another keeper takes over after the TTL', async () => {
    const key = uniqueName('sbtlease:');
    const log: string[] = [];
    const k1 = new LeaseKeeper(new Lease(redis, key, 300), {
      onAcquire: async () => void log.push('k1 up'),
      onLose: async () => void log.push('k1 down'),
    });
    k1.start();
    await until(() => k1.isHeld, 2000, 'k1 holds');
    const k2 = new LeaseKeeper(new Lease(redis, key, 300), {
      onAcquire: async () => void log.push('k2 up'),
      onLose: async () => void log.push('k2 down'),
    });
    k2.start();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(k2.isHeld, false, 'no second holder while k1 renews');
    // k1 "dies": its timers stop without releasing the lease.
    (k1 as unknown as { timer: NodeJS.Timeout }).timer && clearInterval((k1 as unknown as { timer: NodeJS.Timeout }).timer);
    await until(() => k2.isHeld, 3000, 'k2 takes over');
    assert.deepEqual(log, ['k1 up', 'k2 up']);
    await k2.stop();
    assert.deepEqual(log, ['k1 up', 'k2 up', 'k2 down']);
    assert.equal(await redis.get(key), null);
  });
});
