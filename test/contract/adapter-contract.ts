import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { AdapterContext, Bus, HttpHandler, UpgradeHandler, ChannelAdapter } from '../../src/core/adapter.js';
import { validateInbound } from '../../src/core/pipeline/validate.js';
import type { InboundMessage } from '../../src/core/types.js';
import { Router } from '../../src/http/router.js';

/** A context that records what an adapter hands to the hub, for adapter tests without a hub. */
export class RecordingContext implements AdapterContext {
  readonly accepted: InboundMessage[] = [];
  readonly router = new Router();
  readonly log = pino({ level: process.env.TEST_LOG ? 'debug' : 'silent' });
  private readonly topics = new Map<string, Set<(p: string) => void>>();
  private waiters: (() => void)[] = [];
  /** Make accept fail (e.g. Redis away) to test that the platform is not acknowledged. */
  failAccept: Error | undefined;

  readonly http = {
    route: (method: string, path: string, h: HttpHandler) => this.router.route(method, path, h),
    upgrade: (path: string, h: UpgradeHandler) => this.router.upgrade(path, h),
  };

  readonly bus: Bus = {
    publish: async (topic, payload) => {
      for (const h of this.topics.get(topic) ?? []) h(payload);
    },
    subscribe: async (topic, handler) => {
      const s = this.topics.get(topic) ?? new Set();
      s.add(handler);
      this.topics.set(topic, s);
      return async () => void s.delete(handler);
    },
  };

  async accept(m: InboundMessage): Promise<{ jobId: string }> {
    if (this.failAccept) throw this.failAccept;
    const clean = validateInbound(m);
    this.accepted.push(clean);
    for (const w of this.waiters.splice(0)) w();
    return { jobId: `${m.channel}~${m.platformMessageId}` };
  }

  async history(): Promise<[]> {
    return [];
  }

  async waitForAccepted(n: number, timeoutMs = 5000): Promise<InboundMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.accepted.length < n) {
      if (Date.now() > deadline) throw new Error(`expected ${n} accepted messages, got ${this.accepted.length}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.accepted;
  }
}

export interface ContractHarness {
  adapter: ChannelAdapter;
  ctx: RecordingContext;
  /** The fake platform delivers a text message from `userId` to the adapter. */
  deliverText(userId: string, text: string): Promise<void>;
  /** The texts the fake platform received for the chat of `ref.chatId`. */
  sentTexts(chatId: string): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * The contract every channel adapter passes against its fake platform: it normalizes inbound
 * messages the core accepts, sends to a stored reference, honours its declared capabilities.
 * `makeHarness` must mount the adapter with `ctx` (and connect it when it is a long connection).
 */
export function adapterContract(name: string, makeHarness: () => Promise<ContractHarness>): void {
  describe(`adapter contract: ${name}`, () => {
    let h: ContractHarness;
    before(async () => {
      h = await makeHarness();
    });
    after(async () => {
      await h.close();
    });

    it('declares sane capabilities and a connection kind', () => {
      const c = h.adapter.capabilities;
      assert.ok(c.maxTextLength >= 100, 'maxTextLength');
      assert.equal(typeof c.buttons, 'boolean');
      assert.ok(['long', 'stateless'].includes(h.adapter.connection));
      if (h.adapter.sendNeedsConnection) assert.equal(h.adapter.connection, 'long');
    });

    it('normalizes an inbound text into a message the core accepts', async () => {
      const before = h.ctx.accepted.length;
      await h.deliverText('contract-user-1', 'hello contract 你好');
      const all = await h.ctx.waitForAccepted(before + 1);
      const m = all[before];
      assert.ok(m);
      assert.equal(m.channel, h.adapter.channel);
      assert.equal(m.ref.channel, h.adapter.channel);
      assert.equal(m.kind, 'text');
      assert.equal(m.text, 'hello contract 你好');
      assert.ok(m.platformMessageId.length > 0);
      assert.ok(m.platformUserId.length > 0);
      assert.ok(Math.abs(m.receivedAt - Date.now()) < 60_000);
      assert.doesNotThrow(() => validateInbound(m));
    });

    it('sends a reply to the stored reference, with buttons when it has them', async () => {
      const m = h.ctx.accepted.at(-1);
      assert.ok(m, 'a message was accepted before');
      const res = await h.adapter.send({
        id: 'contract-out-1',
        conversationId: 'c1',
        ref: m.ref,
        text: 'reply from the hub *_[`<b>',
        author: 'bot',
        ...(h.adapter.capabilities.buttons ? { buttons: [{ label: 'Yes', value: 'yes' }] } : {}),
      });
      assert.ok(res.platformMessageIds.length >= 1);
      const texts = await h.sentTexts(m.ref.chatId);
      assert.ok(
        texts.some((t) => t.includes('reply from the hub *_[`<b>')),
        `platform got the exact text; got ${JSON.stringify(texts)}`,
      );
    });

    it('stops cleanly, twice', async () => {
      await h.adapter.stop();
      await h.adapter.stop();
    });
  });
}
