import { HubError } from '../../src/core/errors.js';
import type { OutboundMessage } from '../../src/core/types.js';
import { deskContract, DeskContractResponder, type DeskAction, type DeskHarness } from '../contract/desk-contract.js';
import { CASES, clickButton, sendEvent, startSlackHub, threadPosts, threadReply, waitFor, type SlackHub } from './helpers.js';

const AGENT = 'UCONTRACT';
const BUTTONS: Record<DeskAction, string> = { claim: 'sb_claim', resolve: 'sb_resolve', return: 'sb_return' };

/** Slack mrkdwn entities back to text. */
function unescape(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

async function makeSlackHarness(): Promise<DeskHarness> {
  const blocked = new Map<string, string>();
  const h: SlackHub = await startSlackHub({
    responder: new DeskContractResponder(),
    slack: { unclaimedReminderMinutes: 0 },
    loopback: {
      onSend: (m: OutboundMessage) => {
        const reason = blocked.get(m.ref.chatId);
        if (reason !== undefined) throw new HubError('RECIPIENT_UNREACHABLE', reason, { retry: 'final' });
      },
    },
  });

  /** Thread ts of the conversation's case (its latest posted one). */
  async function thread(conversationId: string): Promise<string | undefined> {
    const c = await h.t.hub.storage.deskCases.latestPosted('slack', conversationId);
    return c?.state === 'posted' && c.threadChannel === CASES && c.threadTs ? c.threadTs : undefined;
  }

  /**
   * The thread an agent acts in. Slack shows the case message a moment before the desk has recorded
   * its ts (between chat.postMessage and markPosted); an agent finds the thread once it is recorded.
   */
  function threadOf(conversationId: string): Promise<string> {
    return waitFor(() => thread(conversationId), `Slack case thread of conversation ${conversationId}`, 5000);
  }

  async function ok(what: string, p: Promise<{ status: number }>): Promise<void> {
    const r = await p;
    if (r.status !== 200) throw new Error(`${what}: Slack got HTTP ${r.status}`);
  }

  return {
    hub: h.t.hub,
    customer: h.lb,
    subscriberName: 'desk-slack',
    agentId: AGENT,
    // A case is a top-level message in the case channel; its buttons carry the conversation id.
    casesOf: async (conversationId) =>
      h.fake
        .ok('chat.postMessage')
        .filter((c) => c.body.channel === CASES && c.body.thread_ts === undefined && JSON.stringify(c.body.blocks ?? '').includes(`"${conversationId}"`)).length,
    caseMessages: async (conversationId) => {
      const ts = await thread(conversationId);
      return ts ? threadPosts(h, ts).map((p) => unescape(p.text)) : [];
    },
    agentReply: async (conversationId, text, opts = {}) => {
      const ev = threadReply(AGENT, text, await threadOf(conversationId));
      await ok('agent reply', sendEvent(h, ev, {}, `EvContract${String(ev.ts)}`));
      if (opts.redeliver) {
        // Slack's retry of the same event, then the same message under another event id.
        await ok('agent reply retry', sendEvent(h, ev, { retryNum: 1 }, `EvContract${String(ev.ts)}`));
        await ok('agent reply duplicate', sendEvent(h, ev));
      }
    },
    action: async (conversationId, action) => {
      await ok(action, clickButton(h, AGENT, BUTTONS[action], conversationId, await threadOf(conversationId)));
    },
    blockCustomer: (userId, reason) => {
      blocked.set(userId, reason);
    },
    close: () => h.stop(),
  };
}

deskContract('slack (HTTP Events API, fake Slack)', makeSlackHarness);
