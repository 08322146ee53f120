/**
 * Writes a conversation history into real storage the way the core does (messages, then their
 * events, at the times a test sets), and runs the analytics feed after every event (as if a tick of
 * its job scheduler came after each), unless told not to (`feed: false`: the events only).
 */
import type { ManualClock } from '../../src/core/clock.js';
import type { NewEvent } from '../../src/core/events.js';
import type { Storage } from '../../src/core/storage/storage.js';
import type { MessageAuthor } from '../../src/core/types.js';
import { feedOnce } from '../../src/analytics/feed.js';

export const at = (iso: string): number => Date.parse(iso);

export interface Conv {
  id: string;
  customerId: string;
  channel: string;
  user: string;
}

export class History {
  private n = 0;
  private readonly tag = Math.random().toString(36).slice(2, 8);
  constructor(
    readonly storage: Storage,
    readonly clock: ManualClock,
    readonly opts: { feed: boolean } = { feed: true },
  ) {}

  async conversation(channel: string, user: string): Promise<Conv> {
    const customer = await this.storage.customers.create({});
    const conv = await this.storage.conversations.create(customer.id, channel, null);
    return { id: conv.id, customerId: customer.id, channel, user };
  }

  private async events(c: Conv, events: NewEvent[]): Promise<void> {
    await this.storage.events.append(c.id, c.customerId, events, () => false);
    if (this.opts.feed) await feedOnce(this.storage);
  }

  /** A customer message at `iso` (and its `message.received`). */
  async customer(c: Conv, iso: string, text: string): Promise<string> {
    this.clock.set(at(iso));
    const m = await this.storage.messages.insertInbound(
      { channel: c.channel, platformMessageId: `p${this.tag}-${++this.n}`, platformUserId: c.user, ref: { channel: c.channel, chatId: c.user }, kind: 'text', text, attachments: [], receivedAt: at(iso) },
      c.id,
      c.customerId,
    );
    if (!m) throw new Error('duplicate inbound');
    await this.events(c, [{ type: 'message.received', actor: 'customer', payload: { messageId: m.id, channel: c.channel, toAgent: false } }]);
    return m.id;
  }

  /** A reply written at `iso` and sent `sentAfterMs` later. */
  async reply(c: Conv, iso: string, author: MessageAuthor, text: string, sentAfterMs: number, causedBy?: string): Promise<string> {
    this.clock.set(at(iso));
    const m = await this.storage.messages.insertOutbound({ conversationId: c.id, customerId: c.customerId, channel: c.channel, ref: { channel: c.channel, chatId: c.user }, author, text, ...(causedBy ? { causedBy } : {}) });
    this.clock.set(at(iso) + sentAfterMs);
    await this.storage.messages.markSent(m.id, [`s${++this.n}`]);
    return m.id;
  }

  async event(c: Conv, iso: string, e: NewEvent): Promise<void> {
    this.clock.set(at(iso));
    await this.events(c, [e]);
  }
}
