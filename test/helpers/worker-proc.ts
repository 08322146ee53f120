// A hub worker process for multi-process tests: config from SB_TEST_CONFIG (JSON), a slow echo bot,
// and the shared Redis-list platform. Prints "ready" when its workers run.
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { hubConfigSchema } from '../../src/hub/config-schema.js';
import { Hub } from '../../src/hub/hub.js';
import type { Responder } from '../../src/core/responder.js';
import { RedisListAdapter } from './redis-list-adapter.js';

const config = hubConfigSchema.parse(JSON.parse(process.env.SB_TEST_CONFIG ?? '{}'));
const delay = Number(process.env.SB_BOT_DELAY_MS ?? 100);
const redis = new Redis(config.redis.url);
const bot: Responder = {
  respond: async (turn) => {
    await new Promise((r) => setTimeout(r, delay));
    return { kind: 'answer', text: `echo: ${turn.text}` };
  },
};
const hub = await Hub.start({
  config,
  role: 'worker',
  log: pino({ level: process.env.TEST_LOG ? 'debug' : 'silent' }),
  adapters: [new RedisListAdapter(redis, `${config.redis.prefix}:sent`)],
  responder: bot,
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void hub.stop().then(() => {
    redis.disconnect();
    process.exit(0);
  });
});
