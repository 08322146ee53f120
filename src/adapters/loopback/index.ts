import type { AdapterContext, ChannelAdapter } from '../../core/adapter.js';
import { HubError } from '../../core/errors.js';
import type { Capabilities, InboundMessage, OutboundMessage, SendResult } from '../../core/types.js';

export interface LoopbackOptions {
  channel?: string;
  capabilities?: Partial<Capabilities>;
  /** Called for every send; throw a HubError to simulate platform failures. */
  onSend?: (m: OutboundMessage) => void | Promise<void>;
  /** false: `sent` stays empty (a benchmark's long run would otherwise hold every reply it sent). */
  keepSent?: boolean;
}

/**
 * An in-process channel for tests and benchmarks: `receive` plays a platform delivering a message,
 * `sent` records what the hub sent (unless `keepSent: false`; `waitForSent` counts what it keeps). It goes through the whole real pipeline (queues, storage).
 */
export class LoopbackAdapter implements ChannelAdapter {
  readonly channel: string;
  readonly capabilities: Capabilities;
  readonly connection = 'stateless' as const;
  readonly sendNeedsConnection = false;
  readonly sent: OutboundMessage[] = [];
  private ctx: AdapterContext | undefined;
  private seq = 0;
  private sends = 0;
  private readonly waiters: { n: number; resolve: () => void }[] = [];

  constructor(private readonly opts: LoopbackOptions = {}) {
    this.channel = opts.channel ?? 'loopback';
    this.capabilities = { threads: false, buttons: true, maxTextLength: 4096, attachments: false, authorNames: true, ...opts.capabilities };
  }

  async mount(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
  }

  /** Delivers a customer message as a platform would; resolves when it is durably queued. */
  async receive(userId: string, text: string, extra: Partial<InboundMessage> = {}): Promise<InboundMessage> {
    if (!this.ctx) throw new HubError('INTERNAL', 'loopback adapter is not mounted');
    const msg: InboundMessage = {
      channel: this.channel,
      platformMessageId: `m${++this.seq}-${Date.now()}`,
      platformUserId: userId,
      ref: { channel: this.channel, chatId: userId },
      kind: 'text',
      text,
      attachments: [],
      receivedAt: Date.now(),
      ...extra,
    };
    await this.ctx.accept(msg);
    return msg;
  }

  async send(m: OutboundMessage): Promise<SendResult> {
    await this.opts.onSend?.(m);
    this.sends++;
    if (this.opts.keepSent !== false) this.sent.push(m);
    for (const w of [...this.waiters]) {
      if (this.sent.length >= w.n) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    return { platformMessageIds: [`lb-${this.sends}`] };
  }

  /** Resolves once `n` messages in total have been sent (rejects after `timeoutMs`). */
  waitForSent(n: number, timeoutMs = 10_000): Promise<OutboundMessage[]> {
    if (this.sent.length >= n) return Promise.resolve(this.sent);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${n} sent messages (have ${this.sent.length})`)), timeoutMs);
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(t);
          resolve(this.sent);
        },
      });
    });
  }

  sentTo(userId: string): OutboundMessage[] {
    return this.sent.filter((m) => m.ref.chatId === userId);
  }

  async stop(): Promise<void> {
    this.ctx = undefined;
  }
}
