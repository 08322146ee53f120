/**
 * Consent not to store messages, on a real hub (Telegram against the fake Bot API, the chain as
 * src/hub/identity.ts composes it): the customer's phrase is confirmed in their language and
 * recorded; after it, a message the hub answers itself keeps no text in the database, a message
 * that goes to a person is kept; the opposite phrase restores storing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { processInbound } from '../../src/core/conversation/inbound.js';
import { normalizePhrase } from '../../src/core/customers/consent.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { DIALECTS } from '../helpers/env.js';
import { inbound } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`consent: don't store my messages (${dialect})`, () => {
    let tg: FakeTelegram;
    let t: TestHub;
    before(async () => {
      tg = await startFakeTelegram();
      t = await startTestHub({ dialect, config: { channels: { telegram: { enabled: true, token: tg.token, apiRoot: tg.apiRoot, pollingTimeoutSec: 0 } } } });
    });
    after(async () => {
      await t?.stop();
      await tg?.close();
    });

    /** Sends `text`; the stored inbound row and the latest reply. */
    async function tell(user: string, text: string, locale = 'en') {
      const start = /^\/start (\S+)$/.exec(text);
      const msg = inbound('telegram', user, text, { locale, ...(start ? { kind: 'command' as const, command: { name: 'start', payload: start[1] ?? '' } } : {}) });
      await processInbound(t.hub.inboundDeps(), msg);
      const id = await t.hub.storage.customers.findIdentity('telegram', user);
      assert.ok(id);
      const all = (await t.hub.storage.messages.ofCustomer(id.customerId, 200)).sort((a, b) => a.createdAt - b.createdAt);
      const row = all.find((m) => m.direction === 'in' && m.platformMessageId === msg.platformMessageId);
      // The turn's own reply (a subscriber's notice about an earlier message may land after it).
      return { row, reply: all.filter((m) => m.direction === 'out' && m.causedBy === row?.id).at(-1)?.text ?? '', customerId: id.customerId };
    }

    it('normalizes the phrases', () => {
      assert.equal(normalizePhrase('  Don’t   store my messages! '), "don't store my messages");
      assert.equal(normalizePhrase('不要保存记录。'), '不要保存记录');
    });

    it('confirms, records, redacts what the hub answers, keeps what goes to a person, and can be undone', async () => {
      const user = '951000001';
      // A mistyped link token: the hub answers it itself (no person involved).
      const bad = (n: number) => `/start L${String(n).repeat(43).slice(0, 43)}`;
      const first = await tell(user, bad(1));
      assert.match(first.reply, /isn't valid/);
      assert.equal(first.row?.text, bad(1), 'stored as usual before');
      const asked = await tell(user, '不要保存记录！', 'zh');
      assert.match(asked.reply, /不会被保存/);
      const customer = await t.hub.storage.customers.get(asked.customerId);
      assert.equal((customer?.consent.noStore as { channel?: string } | undefined)?.channel, 'telegram');
      // Answered by the hub itself: the text is gone from storage.
      const answered = await tell(user, bad(2));
      assert.match(answered.reply, /isn't valid/);
      assert.equal(answered.row?.text, '');
      // Handed to a person (the hub's default responder hands over): kept for them.
      const handover = await tell(user, 'I need help with order 10001001');
      assert.equal(handover.row?.text, 'I need help with order 10001001');
      const relayed = await tell(user, 'it is the blue one');
      assert.equal(relayed.row?.text, 'it is the blue one');
      // Changed their mind.
      const back = await tell(user, 'store my messages again');
      assert.match(back.reply, /keep your messages/);
      assert.equal((await t.hub.storage.customers.get(back.customerId))?.consent.noStore, undefined);
      const later = await tell(user, bad(3));
      assert.equal(later.row?.text, bad(3));
    });
  });
}
