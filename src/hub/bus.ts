import type { Redis } from 'ioredis';
import type { Bus } from '../core/adapter.js';

/** Redis pub/sub under the hub's prefix; one subscriber connection per process, made on first use. */
export class RedisBus implements Bus {
  private sub: Redis | undefined;
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async publish(topic: string, payload: string): Promise<void> {
    await this.redis.publish(`${this.prefix}:bus:${topic}`, payload);
  }

  async subscribe(topic: string, handler: (payload: string) => void): Promise<() => Promise<void>> {
    const channel = `${this.prefix}:bus:${topic}`;
    if (!this.sub) {
      this.sub = this.redis.duplicate();
      this.sub.on('error', () => undefined);
      this.sub.on('message', (ch: string, payload: string) => {
        for (const h of this.handlers.get(ch) ?? []) h(payload);
      });
    }
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      await this.sub.subscribe(channel);
    }
    set.add(handler);
    return async () => {
      const s = this.handlers.get(channel);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.handlers.delete(channel);
        await this.sub?.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
    if (this.sub) {
      this.sub.disconnect();
      this.sub = undefined;
    }
  }
}
