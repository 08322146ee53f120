import { z } from 'zod';
import { toConversation, type Conversation, type ConversationPatch, type Store } from '../../core/storage/store.js';
import type { JsonObject } from '../../core/types.js';
import { HubError } from '../../core/errors.js';

/**
 * Where a conversation's case lives in Slack, kept in `conversation.escalationRef`. While a worker
 * posts the case message the ref carries `pendingSince` + `owner` (others wait instead of posting a
 * second case); afterwards `ts` is the case message = thread root.
 */
export const caseRefSchema = z.object({
  desk: z.literal('slack'),
  channel: z.string(),
  escalationId: z.string(),
  ts: z.string().optional(),
  pendingSince: z.number().optional(),
  owner: z.string().optional(),
});
export type CaseRef = z.infer<typeof caseRefSchema>;
export type PostedCase = CaseRef & { ts: string };

export function parseCaseRef(ref: JsonObject | null): CaseRef | undefined {
  const r = caseRefSchema.safeParse(ref);
  return r.success ? r.data : undefined;
}

export function isPosted(ref: CaseRef | undefined): ref is PostedCase {
  return typeof ref?.ts === 'string';
}

/** What the case message shows that is computed once per escalation (summary, suggestions). */
export interface CaseSnapshot {
  escalationId: string;
  summary: string;
  suggestions: { question: string; answer: string }[];
  sentiment: number | null;
  locale: string;
}

const POST_EVENT = 'slack_post';
const SNAPSHOT_EVENT = 'slack_case';
const CAS_TRIES = 8;

/** The desk's reads and writes of core storage (conversation refs and its own events). */
export class CaseStore {
  constructor(private readonly store: Store) {}

  /** The case whose thread root is (channel, ts), if any. */
  async findByThread(channel: string, ts: string): Promise<{ conversation: Conversation; ref: PostedCase } | undefined> {
    // The ref is stored as JSON text written by us (`"ts":"<ts>"`); the LIKE narrows, the parse decides.
    const rows = await this.store.db
      .selectFrom('conversations')
      .selectAll()
      .where('escalation_ref', 'like', `%"ts":"${ts.replace(/[^0-9.]/g, '')}"%`)
      .orderBy('updated_at', 'desc')
      .limit(10)
      .execute();
    for (const row of rows) {
      const conversation = toConversation(row);
      const ref = parseCaseRef(conversation.escalationRef);
      if (isPosted(ref) && ref.ts === ts && ref.channel === channel) return { conversation, ref };
    }
    return undefined;
  }

  async conversation(id: string): Promise<Conversation> {
    const c = await this.store.getConversation(id);
    if (!c) throw new HubError('NOT_FOUND', `conversation ${id} not found`, { retry: 'final' });
    return c;
  }

  /**
   * Compare-and-set of the ref: `decide` sees the fresh conversation and returns the new ref, or
   * undefined to leave it. Returns the conversation after the change.
   */
  async setRef(id: string, decide: (c: Conversation) => CaseRef | null | undefined): Promise<Conversation> {
    for (let i = 0; i < CAS_TRIES; i++) {
      const c = await this.conversation(id);
      const next = decide(c);
      if (next === undefined) return c;
      const patch: ConversationPatch = { escalationRef: next as unknown as JsonObject | null };
      if (await this.store.updateConversation(this.store.db, c.id, c.version, patch)) return this.conversation(id);
    }
    throw new HubError('VERSION_CONFLICT', `conversation ${id} kept changing`, { retry: 'retry' });
  }

  /** The id of the conversation's current escalation: the message that caused the latest one. */
  async escalationId(conversationId: string): Promise<string> {
    const events = await this.store.events(conversationId);
    const last = events.filter((e) => e.type === 'escalated').pop();
    return typeof last?.data.messageId === 'string' ? last.data.messageId : `conv-${conversationId}`;
  }

  /** ts of what the desk posted under `key` (a relay, a note), if it did. */
  async posted(conversationId: string, key: string): Promise<string | undefined> {
    const events = await this.store.events(conversationId);
    const e = events.find((x) => x.type === POST_EVENT && x.data.key === key);
    return typeof e?.data.ts === 'string' ? e.data.ts : undefined;
  }

  async recordPost(conversationId: string, key: string, ts: string): Promise<void> {
    await this.store.transaction((trx) =>
      this.store.appendEvent(trx, { conversationId, type: POST_EVENT, actor: 'desk:slack', data: { key, ts } }),
    );
  }

  async snapshot(conversationId: string, escalationId: string): Promise<CaseSnapshot | undefined> {
    const events = await this.store.events(conversationId);
    const e = events.filter((x) => x.type === SNAPSHOT_EVENT && x.data.escalationId === escalationId).pop();
    return e ? (e.data as unknown as CaseSnapshot) : undefined;
  }

  async saveSnapshot(conversationId: string, s: CaseSnapshot): Promise<void> {
    await this.store.transaction((trx) =>
      this.store.appendEvent(trx, {
        conversationId,
        type: SNAPSHOT_EVENT,
        actor: 'desk:slack',
        data: s as unknown as JsonObject,
      }),
    );
  }

  /** Latest sentiment the bot measured (-1..1), if any. */
  async sentiment(conversationId: string): Promise<number | null> {
    const events = await this.store.events(conversationId);
    for (const e of [...events].reverse()) {
      if (e.type === 'bot_turn' && typeof e.data.sentiment === 'number') return e.data.sentiment;
    }
    return null;
  }
}
