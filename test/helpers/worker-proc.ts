// A hub worker process for multi-process tests: config from SB_TEST_CONFIG (JSON), a slow echo bot,
// and the shared Redis-list platform. Prints "ready" when its workers run.
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { hubConfigSchema } from '../../src/hub/config-schema.js';
import { Hub } from '../../src/hub/hub.js';
import type { Responder } from '../../src/core/responder.js';
import type { EventSubscriptions } from '../../src/core/events.js';
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
// SB_KILL_AFTER_COMMIT=1: die (SIGKILL) right after the first conversation change commits, before
// its events are dispatched. SB_PROBE=1: a subscriber counting, per event id, how often its effect ran.
const killAfterCommit = process.env.SB_KILL_AFTER_COMMIT === '1';
const probe = process.env.SB_PROBE === '1';
const hub = await Hub.start({
  config,
  role: 'worker',
  sweepAfterMs: Number(process.env.SB_SWEEP_MS ?? 60_000),
  ...(killAfterCommit ? { afterCommitHook: () => process.kill(process.pid, 'SIGKILL') } : {}),
  ...(probe
    ? {
        subscribe: (subs: EventSubscriptions) => {
          const count = (e: { id: string; type: string }) => redis.hincrby(`${config.redis.prefix}:probe`, `${e.type}|${e.id}`, 1).then(() => undefined);
          subs.on('probe', 'message.received', count).on('probe', 'bot.answered', count).on('probe', 'message.sent', count);
        },
      }
    : {}),
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
