import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelAdapter } from '../../src/core/adapter.js';
import { isHubError, type HubError } from '../../src/core/errors.js';
import { splitText } from '../../src/core/pipeline/split.js';
import { validateInbound } from '../../src/core/pipeline/validate.js';
import type { ConversationRef, OutboundMessage } from '../../src/core/types.js';
import { RecordingContext, sleep, until } from './recording-context.js';

export { RecordingContext, until } from './recording-context.js';

/** A property the platform cannot show, and why; the suite reports the test as skipped with it. */
export interface Unsupported {
  readonly unsupported: string;
}

export function unsupported(reason: string): Unsupported {
  return { unsupported: reason };
}

/** A hook of the fake platform, or the reason it cannot have one. */
export type Hook<F> = F | Unsupported;

function isUnsupported<F>(h: Hook<F>): h is Unsupported {
  return typeof h === 'object' && h !== null && 'unsupported' in h;
}

/** One platform event handed to the adapter. */
export interface Delivery {
  /** The platform delivers the same event again (a lost acknowledgement, a retry, a resync). */
  redeliver(): Promise<void>;
}

/** Ways the fake platform refuses the next send to a chat. */
export interface SendFailures {
  /** The platform answers "too many requests"; resolves to the wait it asked for (ms). */
  rateLimited: Hook<(chatId: string) => Promise<{ retryAfterMs: number }>>;
  /** The user blocked the bot, or the chat cannot be reached any more. */
  unreachable: Hook<(chatId: string) => Promise<void>>;
  /** The send fails in transit (connection reset, bus down). */
  network: Hook<(chatId: string) => Promise<void>>;
}

export interface ContractHarness<D extends Delivery = Delivery> {
  adapter: ChannelAdapter;
  ctx: RecordingContext;
  /** The fake platform delivers a text from `userId`; resolves once it is on its way to the adapter (not acknowledged). */
  deliverText(userId: string, text: string): Promise<D>;
  /** The bot's texts the fake platform received for `chatId`, in order. */
  sentTexts(chatId: string): Promise<string[]>;
  failNextSend: SendFailures;
  /** Whether the platform has been acknowledged for `d` (webhook answered 2xx, offset moved, ack frame...). */
  acknowledged: Hook<(d: D) => Promise<boolean>>;
  /** The platform shows the adapter a message the bot's own account sent into `userId`'s chat. */
  deliverOwnMessage: Hook<(userId: string, text: string) => Promise<void>>;
  close(): Promise<void>;
}

/** Mixed Latin, CJK and emoji (surrogate pairs), as replies are. */
const SAMPLE = 'Your order 12345 ships today, tracking follows. 您的订单今天发货，单号稍后发送。Thanks 🙏 ';

/** A text of exactly `n` UTF-16 units that does not end on half an emoji or on a space. */
function textOfLength(n: number): string {
  const s = SAMPLE.repeat(Math.ceil(n / SAMPLE.length) + 1).slice(0, n);
  const last = s.charCodeAt(n - 1);
  return (last >= 0xd800 && last <= 0xdbff) || /\s/.test(s.charAt(n - 1)) ? `${s.slice(0, n - 1)}.` : s;
}

let outSeq = 0;
function outbound(ref: ConversationRef, text: string, id = `contract-out-${++outSeq}`): OutboundMessage {
  return { id, conversationId: 'contract-conversation', ref, text, author: 'bot' };
}

/**
 * The contract every channel adapter passes against its fake platform: it normalizes inbound
 * messages the core accepts, sends to a stored reference within its declared limits, classifies the
 * platform's refusals into the hub's retry classes, acknowledges the platform only once the hub has
 * the message, keeps a redelivered event's id, and never takes its own messages for a customer's.
 * `makeHarness` must mount the adapter with `ctx` (and connect it when it is a long connection).
 * A property the platform cannot show is declared `unsupported(reason)` and reported as skipped.
 */
export function adapterContract<D extends Delivery>(name: string, makeHarness: () => Promise<ContractHarness<D>>): void {
  describe(`adapter contract: ${name}`, () => {
    let h: ContractHarness<D>;
    before(async () => {
      h = await makeHarness();
    });
    after(async () => {
      await h.close();
    });

    /** A customer message from `userId` accepted by the hub: its reference is where replies go. */
    async function conversationWith(userId: string): Promise<ConversationRef> {
      const before = h.ctx.accepted.length;
      await h.deliverText(userId, `hello from ${userId}`);
      const m = (await h.ctx.waitForAccepted(before + 1, 10_000))[before];
      assert.ok(m);
      return m.ref;
    }

    /** The next `n` texts the platform receives for `chatId` after `from` (then checks no more came). */
    async function received(chatId: string, from: number, n: number): Promise<string[]> {
      const got = await until(async () => {
        const texts = await h.sentTexts(chatId);
        return texts.length >= from + n && texts;
      }, 10_000, `${n} platform message(s) to ${chatId}`);
      await sleep(150);
      const settled = await h.sentTexts(chatId);
      assert.equal(settled.length, got.length, 'no further platform messages');
      return settled.slice(from);
    }

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
        ...outbound(m.ref, 'reply from the hub *_[`<b>'),
        ...(h.adapter.capabilities.buttons ? { buttons: [{ label: 'Yes', value: 'yes' }] } : {}),
      });
      assert.ok(res.platformMessageIds.length >= 1);
      const texts = await until(async () => {
        const t = await h.sentTexts(m.ref.chatId);
        return t.some((x) => x === 'reply from the hub *_[`<b>') && t;
      }, 5000, 'the exact text on the platform');
      assert.ok(texts.length >= 1);
    });

    describe('splitting at capabilities.maxTextLength', () => {
      it('a text of exactly maxTextLength arrives as one platform message', async () => {
        const max = h.adapter.capabilities.maxTextLength;
        const ref = await conversationWith('contract-split-exact');
        const from = (await h.sentTexts(ref.chatId)).length;
        const text = textOfLength(max);
        assert.equal(text.length, max);
        const res = await h.adapter.send(outbound(ref, text));
        assert.equal(res.platformMessageIds.length, 1);
        assert.deepEqual(await received(ref.chatId, from, 1), [text]);
      });

      it('every part of a longer reply, split by the core with splitText, fits the limit and arrives whole', async () => {
        const max = h.adapter.capabilities.maxTextLength;
        const ref = await conversationWith('contract-split-long');
        const from = (await h.sentTexts(ref.chatId)).length;
        const parts = splitText(textOfLength(max * 2 + Math.floor(max / 2)), max);
        assert.ok(parts.length >= 3, `split into ${parts.length} parts`);
        const base = `contract-long-${++outSeq}`;
        // As processOutbound sends them: one adapter.send per part, ids `<row id>#<part>`.
        for (const [i, part] of parts.entries()) {
          const res = await h.adapter.send(outbound(ref, part, `${base}#${i}`));
          assert.equal(res.platformMessageIds.length, 1, `part ${i} is one platform message`);
        }
        const got = await received(ref.chatId, from, parts.length);
        assert.deepEqual(got, parts);
        for (const t of got) assert.ok(t.length <= max, `a platform message of ${t.length} > ${max}`);
      });
    });

    describe('error classification of a refused send', () => {
      async function expectRefusal<R>(t: TestContext, hook: Hook<(chatId: string) => Promise<R>>, userId: string, check: (e: HubError, arranged: R) => void) {
        if (isUnsupported(hook)) {
          t.skip(hook.unsupported);
          return;
        }
        const ref = await conversationWith(userId);
        const arranged = await hook(ref.chatId);
        await assert.rejects(h.adapter.send(outbound(ref, 'will the platform take this?')), (e: unknown) => {
          assert.ok(isHubError(e), `a HubError, got ${String(e)}`);
          check(e, arranged);
          return true;
        });
        // The refusal was one answer of the platform: the adapter is not stuck, the next send goes out.
        const from = (await h.sentTexts(ref.chatId)).length;
        await h.adapter.send(outbound(ref, 'and this one?'));
        assert.deepEqual(await received(ref.chatId, from, 1), ['and this one?']);
      }

      it("rate limited (429): HubError PLATFORM_RATE_LIMITED, retry 'delay' after the platform's wait", async (t) => {
        await expectRefusal(t, h.failNextSend.rateLimited, 'contract-429', (e, arranged) => {
          assert.equal(e.code, 'PLATFORM_RATE_LIMITED');
          assert.equal(e.retry, 'delay');
          assert.equal(e.retryAfterMs, arranged.retryAfterMs);
        });
      });

      it("blocked or unreachable user: HubError RECIPIENT_UNREACHABLE, retry 'final'", async (t) => {
        await expectRefusal(t, h.failNextSend.unreachable, 'contract-blocked', (e) => {
          assert.equal(e.code, 'RECIPIENT_UNREACHABLE');
          assert.equal(e.retry, 'final');
        });
      });

      it("network failure: HubError NETWORK, retry 'retry'", async (t) => {
        await expectRefusal(t, h.failNextSend.network, 'contract-network', (e) => {
          assert.equal(e.code, 'NETWORK');
          assert.equal(e.retry, 'retry');
        });
      });
    });

    it('acknowledges the platform only after accept resolved (not while slow, not when it failed)', async (t) => {
      const acknowledged = h.acknowledged;
      if (isUnsupported(acknowledged)) {
        t.skip(acknowledged.unsupported);
        return;
      }
      const before = h.ctx.accepted.length;
      const calls = h.ctx.acceptCalls;
      const hold = h.ctx.holdAccepts();
      let d: D;
      try {
        d = await h.deliverText('contract-ack', 'acknowledge me only once queued');
        await until(() => h.ctx.acceptCalls > calls, 10_000, 'the adapter calling accept');
        await sleep(300);
        assert.equal(await acknowledged(d), false, 'acknowledged while accept was still pending');
        h.ctx.failAccept = new Error('simulated: Redis unreachable');
        hold.fail(h.ctx.failAccept);
        await sleep(400); // the adapter answers its platform now (non-2xx, error frame, offset kept)
        assert.equal(await acknowledged(d), false, 'acknowledged although accept failed');
      } finally {
        hold.release();
        h.ctx.failAccept = undefined;
      }
      // The platform tries again (webhook retry, the widget resending); a poller retries by itself.
      await d.redeliver();
      const all = await h.ctx.waitForAccepted(before + 1, 10_000);
      assert.equal(all[before]?.text, 'acknowledge me only once queued');
      await until(() => acknowledged(d), 10_000, 'the acknowledgement once accept resolved');
    });

    it('a redelivered platform event keeps its platformMessageId', async () => {
      const before = h.ctx.accepted.length;
      const d = await h.deliverText('contract-redelivery', 'said once, delivered twice');
      await h.ctx.waitForAccepted(before + 1, 10_000);
      await d.redeliver();
      const [first, second] = (await h.ctx.waitForAccepted(before + 2, 10_000)).slice(before);
      assert.ok(first && second);
      assert.equal(second.text, first.text);
      assert.equal(second.platformMessageId, first.platformMessageId);
    });

    it("never accepts the bot's own messages echoed back by the platform", async (t) => {
      const own = h.deliverOwnMessage;
      if (isUnsupported(own)) {
        t.skip(own.unsupported);
        return;
      }
      const userId = 'contract-own';
      await conversationWith(userId);
      const before = h.ctx.accepted.length;
      await own(userId, 'sent by the bot itself');
      await sleep(300);
      await h.deliverText(userId, 'a customer message after it');
      await h.ctx.waitForAccepted(before + 1, 10_000);
      await sleep(200);
      assert.deepEqual(
        h.ctx.accepted.slice(before).map((m) => m.text),
        ['a customer message after it'],
      );
    });

    it('stops cleanly, twice', async () => {
      await h.adapter.stop();
      await h.adapter.stop();
    });
  });
}
