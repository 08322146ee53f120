/**
 * The analytics rebuild: a conversation touched by an event the read models depend on (the feed,
 * src/analytics/feed.ts, finds them in the event log) has its rows rebuilt from its latest case on
 * (read, fold, write in one transaction, serialized per conversation), then the customer's recent
 * cases settle whether the customer came back about the same thing within 24 h. Rebuilding instead
 * of applying each event makes the read models independent of the order in which events are read
 * and of how often (a late commit, a run read again after a crash).
 */
import type { EventType } from '../core/events.js';
import type { Storage } from '../core/storage/storage.js';
import type { AnalyticsCase } from '../core/storage/analytics.js';
import { foldConversation, type FoldOptions } from './fold.js';
import { questionTerms, sameThing } from './terms.js';

/** How long after a case the customer "comes back" about the same thing. */
export const COME_BACK_MS = 86_400_000;

/** The event types the read models are built from. */
export const ANALYTICS_EVENTS: readonly EventType[] = [
  'message.received',
  'bot.answered',
  'bot.clarified',
  'conversation.escalated',
  'agent.replied',
  'conversation.resolved',
  'conversation.reopened',
  'conversation.returned_to_bot',
  'csat.given',
  'message.queued',
];

export const defaultFoldOptions: FoldOptions = { idleMs: 30 * 60_000, lowConfidence: 0.5, terms: questionTerms };

/** Folds with terms `opts` may not know computed here (the fold never misses one). */
function termsHere(opts: FoldOptions): FoldOptions {
  return { idleMs: opts.idleMs, lowConfidence: opts.lowConfidence, terms: (text) => opts.terms(text) ?? questionTerms(text) };
}

/**
 * Rebuilds one conversation's read-model rows (idempotent). When the fold meets question texts
 * whose terms `opts.terms` does not know (the feed's thread asks the hub's: remote-terms.ts), it
 * writes nothing, fetches them after its transaction ended (never waiting on another thread while
 * holding the write lock) and rebuilds again; a second miss (a message that arrived in between)
 * computes them here.
 */
export async function rebuildConversation(storage: Storage, conversationId: string, opts: FoldOptions = defaultFoldOptions): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const fold = opts.fetchTerms && attempt < 2 ? opts : termsHere(opts);
    const missing = await storage.transaction(async (tx): Promise<string[]> => {
      await tx.analytics.lockConversation(conversationId, storage.dialect);
      const src = await tx.analytics.source(conversationId);
      if (!src) return [];
      const { missingTerms, ...folded } = foldConversation(src, fold);
      if (missingTerms.length > 0) return missingTerms;
      await tx.analytics.apply({ ...folded, optOuts: src.optOuts });
      const from = Math.min(...folded.cases.map((c) => c.openedAt), Number.POSITIVE_INFINITY);
      if (Number.isFinite(from)) await settleCameBack(tx.analytics, src.customerId, from - 2 * COME_BACK_MS);
      return [];
    });
    if (missing.length === 0) return;
    await opts.fetchTerms?.(missing);
  }
}

/** Marks each of the customer's cases since `from` whose customer came back about the same thing within 24 h. */
async function settleCameBack(repo: Storage['analytics'], customerId: string, from: number): Promise<void> {
  const cases = await repo.customerCases(customerId, from);
  const yes: AnalyticsCase[] = [];
  const no: AnalyticsCase[] = [];
  for (const c of cases) {
    const back = cameBack(c, cases);
    if (back !== c.cameBack) (back ? yes : no).push(c);
  }
  await repo.setCameBack(yes, true);
  await repo.setCameBack(no, false);
}

/** Whether a later case of the same customer opened within 24 h after `c`'s last message is about the same thing. */
export function cameBack(c: AnalyticsCase, all: readonly AnalyticsCase[]): boolean {
  return all.some((o) => o.id !== c.id && o.openedAt > c.lastCustomerAt && o.openedAt <= c.lastCustomerAt + COME_BACK_MS && sameThing(c, o));
}

/** Rebuilds every conversation (after an upgrade, or to apply new definitions); returns how many. */
export async function rebuildAll(storage: Storage, opts: FoldOptions = defaultFoldOptions): Promise<number> {
  await storage.analytics.clear();
  let after: string | null = null;
  let n = 0;
  for (;;) {
    const ids = await storage.analytics.conversationIds(after, 500);
    if (ids.length === 0) return n;
    for (const id of ids) await rebuildConversation(storage, id, opts);
    n += ids.length;
    after = ids[ids.length - 1] ?? null;
  }
}
