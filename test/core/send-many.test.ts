/**
 * `FallbackSends.sendMany` (the workflow engine's step batches send through it): each request
 * settles as `send` would settle it — the channel picked the same way, the open conversation reused
 * or a new one opened, a key used before coming back as a duplicate, an unreachable customer or a
 * missing one refused by name — while the new sends are written together in one transaction; every
 * message reaches its customer once. Real hub, loopback channels, both databases.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import type { Responder } from '../../src/core/responder.js';
import { HubError } from '../../src/core/errors.js';
import type { FallbackResult } from '../../src/core/conversation/fallback.js';
import { startTestHub, until } from '../helpers/hub.js';
import { DIALECTS } from '../helpers/env.js';

const echo: Responder = { respond: async (t) => ({ kind: 'answer', text: `echo: ${t.text}`, confidence: 0.9 }) };
const value = (s: PromiseSettledResult<FallbackResult> | undefined): FallbackResult => {
  assert.equal(s?.status, 'fulfilled', s?.status === 'rejected' ? String(s.reason) : 'missing');
  return (s as PromiseFulfilledResult<FallbackResult>).value;
};

for (const dialect of DIALECTS) {
  describe(`sendMany (${dialect})`, () => {
    it('settles each request like send, writes the new ones together and delivers each once', async () => {
      const tg = new LoopbackAdapter({ channel: 'tg' });
      const mail = new LoopbackAdapter({ channel: 'mail' });
      const t = await startTestHub({ dialect, adapters: [tg, mail], responder: echo });
      after(() => t.stop());
      const { storage, sends } = t.hub;
      await tg.receive('ann', 'hi');
      await mail.receive('bo', 'hello');
      await tg.receive('cat', 'hey');
      await until(() => tg.sent.length + mail.sent.length === 3 || undefined);
      const id = async (channel: string, user: string) => (await storage.customers.findIdentity(channel, user))!.customerId;
      const [ann, bo, cat] = [await id('tg', 'ann'), await id('mail', 'bo'), await id('tg', 'cat')];
      const [annOpen] = await storage.conversations.ofCustomer(ann);
      // bo's conversation is resolved: the send opens a new one; cat cannot be reached any more.
      const [boOld] = await storage.conversations.ofCustomer(bo);
      await storage.conversations.update(boOld!.id, boOld!.version, { status: 'resolved', resolvedAt: Date.now() });
      await storage.customers.markUnreachable('tg', 'cat', 'blocked');
      const earlier = await sends.send({ customerId: ann, content: { text: 'Earlier notice' }, kind: 'reminder', key: 'k-earlier' });

      // The requests that need it go through send itself; the new ones are written together.
      const alone: string[] = [];
      const send = sends.send.bind(sends);
      sends.send = (req) => {
        alone.push(req.key);
        return send(req);
      };
      const settled = await sends.sendMany([
        { customerId: ann, content: { text: 'Renewal in 7 days' }, kind: 'reminder', key: 'k-ann-1' },
        { customerId: ann, content: { text: 'Renewal in 1 day' }, kind: 'reminder', key: 'k-ann-2' },
        { customerId: bo, content: { text: 'Your plan renews' }, kind: 'reminder', key: 'k-bo' },
        { customerId: ann, content: { text: 'Earlier notice' }, kind: 'reminder', key: 'k-earlier' },
        { customerId: ann, content: { text: 'Renewal in 7 days' }, kind: 'reminder', key: 'k-ann-1' },
        { customerId: cat, content: { text: 'Never' }, kind: 'reminder', key: 'k-cat' },
        { customerId: 'no-such-customer', content: { text: 'Never' }, kind: 'reminder', key: 'k-ghost' },
      ]);
      const [a1, a2, b, dupEarlier, dupInCall] = settled.slice(0, 5).map(value);
      sends.send = send;
      assert.deepEqual(alone.sort(), ['k-ann-1', 'k-cat', 'k-earlier', 'k-ghost'], 'only the repeated key, the used one, the unreachable and the missing customer went alone');
      assert.equal(a1!.duplicate, false);
      assert.equal(a2!.duplicate, false);
      assert.equal(b!.duplicate, false);
      assert.equal(dupEarlier!.duplicate, true);
      assert.equal(dupEarlier!.send.id, earlier.send.id, 'a key used before comes back with its send');
      assert.equal(dupInCall!.duplicate, true);
      assert.equal(dupInCall!.send.id, a1!.send.id, 'a key repeated in the call is sent once');
      const [unreachable, ghost] = settled.slice(5);
      assert.equal(unreachable?.status, 'rejected');
      assert.ok(unreachable?.status === 'rejected' && unreachable.reason instanceof HubError && unreachable.reason.code === 'RECIPIENT_UNREACHABLE' && /tg: unreachable: blocked/.test(unreachable.reason.message));
      assert.ok(ghost?.status === 'rejected' && ghost.reason instanceof HubError && ghost.reason.code === 'NOT_FOUND');

      // Stored like send stores: the attempt in flight, its row, its event, the conversation it belongs to.
      for (const r of [a1!, a2!, b!]) {
        const stored = await storage.proactiveSends.byKey(r.send.key);
        assert.deepEqual(stored, r.send);
        assert.equal(stored?.attempts.at(-1)?.messageId, stored?.messageId);
        const m = await storage.messages.get(stored!.messageId!);
        const queued = (await storage.events.ofConversation(m!.conversationId)).filter((e) => e.type === 'message.queued' && (e.payload as { messageId: string }).messageId === m!.id);
        assert.deepEqual(queued[0]?.payload, { messageId: m!.id, kind: 'reminder', key: r.send.key, channel: m!.channel });
      }
      const convOf = async (r: FallbackResult) => (await storage.messages.get(r.send.messageId!))!.conversationId;
      assert.equal(await convOf(a1!), annOpen!.id, "ann's open conversation is reused");
      assert.equal(await convOf(a2!), annOpen!.id);
      assert.notEqual(await convOf(b!), boOld!.id, "bo's resolved conversation is not reopened");
      assert.equal(b!.send.attempts.at(-1)?.channel, 'mail', 'the channel bo last used');

      // Each message once, in order per customer.
      await until(() => tg.sentTo('ann').length === 4 || undefined);
      await until(() => mail.sentTo('bo').length === 2 || undefined);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(tg.sentTo('ann').map((m) => m.text), ['echo: hi', 'Earlier notice', 'Renewal in 7 days', 'Renewal in 1 day']);
      assert.deepEqual(mail.sentTo('bo').map((m) => m.text), ['echo: hello', 'Your plan renews']);
      assert.deepEqual(tg.sentTo('cat').map((m) => m.text), ['echo: hey']);
    });

    it('a key taken meanwhile by a concurrent send: each request settles on its own, every message goes once', async () => {
      const tg = new LoopbackAdapter({ channel: 'tg' });
      const t = await startTestHub({ dialect, adapters: [tg], responder: echo });
      after(() => t.stop());
      const { storage, sends } = t.hub;
      for (const u of ['dan', 'eve']) await tg.receive(u, 'hi');
      await tg.waitForSent(2);
      const dan = (await storage.customers.findIdentity('tg', 'dan'))!.customerId;
      const eve = (await storage.customers.findIdentity('tg', 'eve'))!.customerId;
      const reqs = [
        { customerId: dan, content: { text: 'Alert for dan' }, kind: 'alert' as const, key: 'race-dan' },
        { customerId: eve, content: { text: 'Alert for eve' }, kind: 'alert' as const, key: 'race-eve' },
      ];
      // dan's key is taken after sendMany read the keys and before its bulk write.
      const read = storage.customers.identitiesOfMany.bind(storage.customers);
      let single: FallbackResult | undefined;
      storage.customers.identitiesOfMany = async (ids) => {
        single ??= await sends.send(reqs[0]!);
        return read(ids);
      };
      const many = await sends.sendMany(reqs);
      storage.customers.identitiesOfMany = read;
      const [d, e] = many.map(value);
      assert.equal(single?.duplicate, false);
      assert.equal(d!.duplicate, true, 'the bulk write met the key taken: dan settles on the send stored first');
      assert.equal(d!.send.id, single?.send.id);
      assert.equal(e!.duplicate, false, 'eve is sent all the same');
      await until(() => tg.sent.length === 4 || undefined);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(tg.sentTo('dan').map((m) => m.text), ['echo: hi', 'Alert for dan']);
      assert.deepEqual(tg.sentTo('eve').map((m) => m.text), ['echo: hi', 'Alert for eve']);
    });
  });
}
