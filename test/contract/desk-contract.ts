import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import type { StoredEvent } from '../../src/core/events.js';
import type { Conversation } from '../../src/core/model.js';
import type { BotDecision, Responder, ResponderTurn } from '../../src/core/responder.js';
import type { OutboundMessage } from '../../src/core/types.js';
import type { Hub } from '../../src/hub/hub.js';
import { until } from '../helpers/hub.js';

/**
 * The bot every desk harness runs its hub with: a message that mentions "human" asks for a person,
 * anything else is answered `bot: <text>`.
 */
export class DeskContractResponder implements Responder {
  async respond(turn: ResponderTurn): Promise<BotDecision> {
    if (/\bhuman\b/i.test(turn.text)) return { kind: 'escalate', reason: 'asked_for_human', priority: 'normal', sentiment: -0.2 };
    return { kind: 'answer', text: `bot: ${turn.text}`, confidence: 0.9, sentiment: 0.1 };
  }
}

export type DeskAction = 'claim' | 'resolve' | 'return';

/**
 * A desk mounted in a real hub, driven through its fake platform. The hub runs `DeskContractResponder`
 * and one customer channel (`customer`); the desk is the hub's desk.
 */
export interface DeskHarness {
  hub: Hub;
  /** The customers' channel: `receive` plays a customer writing, `sentTo` what the hub sent them. */
  customer: LoopbackAdapter;
  /** The desk's event subscriber name (receipts and jobs are keyed by it). */
  subscriberName: string;
  /** The desk user id `agentReply` and `action` act as (what the conversation's assignee becomes). */
  agentId: string;
  /** How many cases the desk platform shows for this conversation (opened cases, not thread posts). */
  casesOf(conversationId: string): Promise<number>;
  /**
   * What the desk shows in the conversation's case besides the agents' own messages, as plain texts
   * (relayed customer messages, notices such as a failed delivery, the customer's rating as `n/5`).
   * Empty when there is no case.
   */
  caseMessages(conversationId: string): Promise<string[]>;
  /**
   * An agent answers in the case; resolves once the desk platform has its answer (for a webhook:
   * the desk answered 2xx). `redeliver`: the platform delivers the same reply event again (a retry
   * and a duplicate delivery), as platforms do.
   */
  agentReply(conversationId: string, text: string, opts?: { redeliver?: boolean }): Promise<void>;
  /** An agent presses claim / resolve / return to bot on the case; resolves once the desk answered. */
  action(conversationId: string, action: DeskAction): Promise<void>;
  /** From now on the customer's channel refuses every send to `userId` (RECIPIENT_UNREACHABLE, `reason`). */
  blockCustomer(userId: string, reason: string): void;
  close(): Promise<void>;
}

let seq = 0;
/** A user id unique to this run (several hubs may share storage names across runs). */
function user(label: string): string {
  return `desk-${label}-${Date.now().toString(36)}-${++seq}`;
}

/**
 * The contract every agent desk passes: one case per escalation however often the escalation is
 * delivered, customer messages shown in the case once each, an agent reply sent once to the
 * customer's own channel (claiming the case), claim / resolve / return to bot changing the
 * conversation as the core's AgentActions say, failed deliveries and CSAT ratings shown in the case.
 * Everything goes through the harness: nothing here knows the desk's platform.
 */
export function deskContract(name: string, makeHarness: () => Promise<DeskHarness>): void {
  describe(`desk contract: ${name}`, () => {
    let h: DeskHarness;
    before(async () => {
      h = await makeHarness();
    });
    after(async () => {
      await h.close();
    });

    const storage = () => h.hub.storage;

    async function conversationOf(userId: string): Promise<Conversation> {
      return until(async () => {
        const ident = await storage().customers.findIdentity(h.customer.channel, userId);
        if (!ident) return undefined;
        return (await storage().conversations.ofCustomer(ident.customerId)).at(-1);
      }, 10_000, `conversation of ${userId}`);
    }

    async function fresh(id: string): Promise<Conversation> {
      const c = await storage().conversations.get(id);
      assert.ok(c, `conversation ${id} exists`);
      return c;
    }

    async function eventsOf(conversationId: string, type: string): Promise<StoredEvent[]> {
      return (await storage().events.ofConversation(conversationId)).filter((e) => e.type === type);
    }

    /** Waits until the conversation has exactly `n` events of `type` and returns them. */
    async function waitEvents(conversationId: string, type: string, n: number): Promise<StoredEvent[]> {
      const got = await until(async () => {
        const es = await eventsOf(conversationId, type);
        return es.length >= n && es;
      }, 10_000, `${n} ${type} event(s)`);
      assert.equal(got.length, n, `${type} events`);
      return got;
    }

    function sent(userId: string, f: (m: OutboundMessage) => boolean): OutboundMessage[] {
      return h.customer.sentTo(userId).filter(f);
    }

    /**
     * Delivers a stored event to the desk's subscriber again, past its receipt, as an at-least-once
     * redelivery does (a job run again after a crash, the sweep): once the first delivery is done
     * (its receipt written), the desk gets the same event again. Resolves to whether it handles the type.
     */
    async function redeliver(e: StoredEvent): Promise<boolean> {
      await until(() => storage().events.hasReceipt(h.subscriberName, e.id), 10_000, `${h.subscriberName} done with ${e.type}`);
      return h.hub.subs.deliver(h.subscriberName, e);
    }

    /** Texts of the case that contain `s`. */
    async function shown(conversationId: string, s: string): Promise<string[]> {
      return (await h.caseMessages(conversationId)).filter((t) => t.includes(s));
    }

    function waitShown(conversationId: string, s: string, what: string): Promise<string[]> {
      return until(async () => {
        const t = await shown(conversationId, s);
        return t.length > 0 && t;
      }, 10_000, what);
    }

    /** The customer asks for a person; resolves once the desk shows the case. */
    async function escalate(userId: string): Promise<Conversation> {
      await h.customer.receive(userId, 'I want a human please', { userName: `Customer ${userId}` });
      const conv = await conversationOf(userId);
      await until(async () => (await storage().conversations.get(conv.id))?.status === 'waiting_agent', 10_000, 'status waiting_agent');
      await until(async () => (await h.casesOf(conv.id)) >= 1, 10_000, `case of ${userId} on the desk`);
      return fresh(conv.id);
    }

    async function waitStatus(conversationId: string, status: Conversation['status']): Promise<Conversation> {
      await until(async () => (await storage().conversations.get(conversationId))?.status === status, 10_000, `status ${status}`);
      return fresh(conversationId);
    }

    it('an escalation opens exactly one case; the escalation delivered to the desk again opens none', async () => {
      const u = user('esc');
      await h.customer.receive(u, 'hello there', { userName: 'Esme' });
      await until(() => sent(u, (m) => m.text === 'bot: hello there').length === 1, 10_000, 'bot answer');
      const bot = await conversationOf(u);

      const conv = await escalate(u);
      assert.equal(conv.id, bot.id, 'the escalation continues the bot conversation');
      assert.equal(conv.status, 'waiting_agent');
      assert.equal(conv.assignee, null);
      assert.ok(conv.escalationId, 'the conversation has an escalation id');
      assert.equal(await h.casesOf(conv.id), 1, 'one case for one escalation');

      const [escalated] = await waitEvents(conv.id, 'conversation.escalated', 1);
      assert.ok(escalated);
      assert.ok(h.hub.subs.subscribersOf('conversation.escalated').includes(h.subscriberName), 'the desk subscribes to escalations');
      // Delivered again past the receipt (a redelivered job, a sweep after a crash): no second case.
      assert.equal(await redeliver(escalated), true);
      assert.equal(await redeliver(escalated), true);
      assert.equal(await h.casesOf(conv.id), 1, 'no second case after redelivery');

      // Later work on the case (a relay) still finds that one case.
      await h.customer.receive(u, 'still there esc-marker');
      await waitShown(conv.id, 'esc-marker', 'relay after redelivery');
      assert.equal(await h.casesOf(conv.id), 1, 'still one case');
    });

    it('customer messages while the case waits are shown in the case, each once, and the bot stays silent', async () => {
      const u = user('relay');
      const conv = await escalate(u);
      const texts = ['relay-one about my parcel', 'relay-two it was due monday', 'relay-three order 4711'];
      const inbound: string[] = [];
      for (const t of texts) inbound.push((await h.customer.receive(u, t, { userName: 'Rita' })).platformMessageId);
      for (const t of texts) await waitShown(conv.id, t, `"${t}" in the case`);

      const received = (await eventsOf(conv.id, 'message.received')).filter((e) => JSON.stringify(e.payload).includes('"toAgent":true'));
      assert.equal(received.length, texts.length, 'each message went to the agent, not the bot');
      // The desk gets each message event again: still shown once each.
      for (const e of received) assert.equal(await redeliver(e), true);
      for (const t of texts) assert.equal((await shown(conv.id, t)).length, 1, `"${t}" shown once`);

      const stored = await storage().messages.ofConversation(conv.id, 100);
      const ids = new Set(stored.filter((m) => m.direction === 'in' && texts.includes(m.text)).map((m) => m.id));
      assert.equal(ids.size, texts.length);
      assert.deepEqual(stored.filter((m) => m.direction === 'out' && m.causedBy !== null && ids.has(m.causedBy)), [], 'no reply to the relayed messages');
      assert.equal((await fresh(conv.id)).status, 'waiting_agent');
      assert.equal(await h.casesOf(conv.id), 1);
    });

    it('an agent reply reaches the customer once, even delivered twice by the desk platform, and claims the case', async () => {
      const u = user('reply');
      const conv = await escalate(u);
      await h.agentReply(conv.id, 'Hello, this is support: first answer', { redeliver: true });
      const c = await waitStatus(conv.id, 'agent');
      assert.equal(c.assignee, h.agentId, 'the reply claimed the case for its author');

      const first = await until(() => sent(u, (m) => m.author === 'agent')[0], 10_000, 'agent reply at the customer');
      assert.equal(first.text, 'Hello, this is support: first answer');
      assert.equal(first.ref.channel, h.customer.channel, "on the customer's own channel");
      assert.equal(first.conversationId, conv.id);

      const rows = (await storage().messages.ofConversation(conv.id, 100)).filter((m) => m.author === 'agent');
      assert.equal(rows.length, 1, 'one outbound row for the redelivered reply');
      const replied = await waitEvents(conv.id, 'agent.replied', 1);
      assert.match(JSON.stringify(replied[0]?.payload), /"claimed":true/);

      // Replies of a conversation go out in order: once the second is out, a duplicate of the first would be too.
      await h.agentReply(conv.id, 'second answer');
      await until(() => sent(u, (m) => m.author === 'agent' && m.text === 'second answer').length === 1, 10_000, 'second agent reply');
      assert.deepEqual(
        sent(u, (m) => m.author === 'agent').map((m) => m.text),
        ['Hello, this is support: first answer', 'second answer'],
      );
      const again = await fresh(conv.id);
      assert.equal(again.status, 'agent');
      assert.equal(again.assignee, h.agentId);
      assert.equal((await eventsOf(conv.id, 'agent.replied')).length, 2);
    });

    it('claim and resolve change the conversation as the core says; the customer is asked for a rating with 5 buttons', async () => {
      const u = user('resolve');
      const conv = await escalate(u);
      await h.action(conv.id, 'claim');
      let c = await waitStatus(conv.id, 'agent');
      assert.equal(c.assignee, h.agentId);
      const [claimed] = await waitEvents(conv.id, 'conversation.claimed', 1);
      assert.equal(claimed?.actor, `agent:${h.agentId}`);

      await h.action(conv.id, 'resolve');
      c = await waitStatus(conv.id, 'resolved');
      assert.ok(c.resolvedAt !== null, 'resolvedAt set');
      assert.equal(c.botState.csatPending, true);
      await waitEvents(conv.id, 'conversation.resolved', 1);
      const q = await until(() => sent(u, (m) => (m.buttons?.length ?? 0) > 0)[0], 10_000, 'CSAT question');
      assert.deepEqual(q.buttons?.map((b) => b.value), ['csat:1', 'csat:2', 'csat:3', 'csat:4', 'csat:5']);
      assert.equal(q.conversationId, conv.id);

      // Resolving again changes nothing and asks no second time.
      await h.action(conv.id, 'resolve');
      assert.equal((await fresh(conv.id)).status, 'resolved');
      assert.equal((await eventsOf(conv.id, 'conversation.resolved')).length, 1);
    });

    it('return to bot gives the conversation back: unassigned, escalation cleared, the bot answers the next message', async () => {
      const u = user('return');
      const conv = await escalate(u);
      await h.action(conv.id, 'claim');
      await waitStatus(conv.id, 'agent');
      await h.action(conv.id, 'return');
      const c = await waitStatus(conv.id, 'bot');
      assert.equal(c.assignee, null);
      assert.equal(c.escalationReason, null);
      assert.equal(c.strikes, 0);
      const [returned] = await waitEvents(conv.id, 'conversation.returned_to_bot', 1);
      assert.equal(returned?.actor, `agent:${h.agentId}`);

      await h.customer.receive(u, 'hello again');
      const answer = await until(() => sent(u, (m) => m.text === 'bot: hello again')[0], 10_000, 'bot answer after return');
      assert.equal(answer.author, 'bot');
      const last = (await eventsOf(conv.id, 'message.received')).at(-1);
      assert.match(JSON.stringify(last?.payload), /"toAgent":false/, 'not relayed to the desk');
    });

    it('a failed delivery of an agent reply is reported in the case', async () => {
      const u = user('blocked');
      const conv = await escalate(u);
      const reason = 'the user blocked the bot';
      h.blockCustomer(u, reason);
      await h.agentReply(conv.id, 'Are you still there?');
      const [failed] = await waitEvents(conv.id, 'message.failed', 1);
      assert.ok(failed);
      assert.match(JSON.stringify(failed.payload), /"code":"RECIPIENT_UNREACHABLE"/);
      const note = await waitShown(conv.id, reason, 'failure reported in the case');
      assert.equal(note.length, 1);
      assert.equal(sent(u, (m) => m.author === 'agent').length, 0, 'nothing reached the customer');
      const row = (await storage().messages.ofConversation(conv.id, 100)).find((m) => m.author === 'agent');
      assert.equal(row?.deliveryStatus, 'failed');

      // The failure delivered to the desk again is reported once.
      assert.equal(await redeliver(failed), true);
      assert.equal((await shown(conv.id, reason)).length, 1, 'reported once');
    });

    it('a CSAT answer is shown in the case', async () => {
      const u = user('csat');
      const conv = await escalate(u);
      await h.agentReply(conv.id, 'Fixed it for you.');
      await until(() => sent(u, (m) => m.author === 'agent').length === 1, 10_000, 'agent reply');
      await h.action(conv.id, 'resolve');
      await waitStatus(conv.id, 'resolved');
      await until(() => sent(u, (m) => m.buttons?.length === 5)[0], 10_000, 'CSAT question');
      assert.equal((await shown(conv.id, '4/5')).length, 0, 'no rating shown before the answer');

      await h.customer.receive(u, '4', { kind: 'button', buttonValue: 'csat:4' });
      const [given] = await waitEvents(conv.id, 'csat.given', 1);
      assert.ok(given);
      assert.equal((await fresh(conv.id)).botState.csat, 4);
      await waitShown(conv.id, '4/5', 'rating in the case');
      assert.equal(await redeliver(given), true);
      assert.equal((await shown(conv.id, '4/5')).length, 1, 'rating shown once');
      assert.equal((await fresh(conv.id)).status, 'resolved', 'a rating does not reopen the case');
    });
  });
}
