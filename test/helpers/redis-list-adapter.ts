import type { Redis } from 'ioredis';
import type { AdapterContext, ChannelAdapter } from '../../src/core/adapter.js';
import type { Capabilities, OutboundMessage, SendResult } from '../../src/core/types.js';

const DELIVER_ONCE = `if redis.call('set', KEYS[1], '1', 'EX', 600, 'NX') then redis.call('rpush', KEYS[2], ARGV[1]) end return 1`;

/**
 * A fake platform shared by several processes: sends land in a Redis list. Like platforms with
 * idempotency keys, a send with an id already seen is accepted but not delivered again.
 */
export class RedisListAdapter implements ChannelAdapter {
  readonly channel = 'rec';
  readonly capabilities: Capabilities = { threads: false, buttons: false, maxTextLength: 4096, attachments: false, authorNames: true };
  readonly connection = 'stateless' as const;
  readonly sendNeedsConnection = false;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  async mount(_ctx: AdapterContext): Promise<void> {}

  async send(m: OutboundMessage): Promise<SendResult> {
    // Atomic, like a real platform's idempotency key: a process killed mid-call either delivered or not.
    await this.redis.eval(DELIVER_ONCE, 2, `${this.key}:id:${m.id}`, this.key, JSON.stringify({ chat: m.ref.chatId, text: m.text }));
    return { platformMessageIds: [m.id] };
  }

  async stop(): Promise<void> {}
}
