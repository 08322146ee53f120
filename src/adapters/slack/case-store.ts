import { z } from 'zod';
import type { Conversation, DeskCase } from '../../core/model.js';
import type { Storage } from '../../core/storage/storage.js';
import type { JsonObject } from '../../core/types.js';
import { HubError } from '../../core/errors.js';

export const DESK = 'slack';

/** A case that is in Slack: its thread root is (threadChannel, threadTs). */
export type PostedCase = DeskCase & { state: 'posted'; threadChannel: string; threadTs: string };

export function isPosted(c: DeskCase | undefined): c is PostedCase {
  return c?.state === 'posted' && c.threadChannel !== null && c.threadTs !== null;
}

/** What the case message shows that is computed once per escalation (summary, suggestions). */
const snapshotSchema = z.object({
  summary: z.string(),
  suggestions: z.array(z.object({ question: z.string(), answer: z.string() })),
  sentiment: z.number().nullable(),
  locale: z.string(),
});
export type CaseSnapshot = z.infer<typeof snapshotSchema>;

/** The Slack desk's reads and writes: its cases and posts (own tables), conversations and events. */
export class CaseStore {
  constructor(private readonly storage: Storage) {}

  /** The case whose thread root is (channel, ts), with its conversation. */
  async findByThread(channel: string, ts: string): Promise<{ conversation: Conversation; case: PostedCase } | undefined> {
    const c = await this.storage.deskCases.byThread(DESK, channel, ts);
    if (!isPosted(c)) return undefined;
    const conversation = await this.storage.conversations.get(c.conversationId);
    return conversation ? { conversation, case: c } : undefined;
  }

  async conversation(id: string): Promise<Conversation> {
    const c = await this.storage.conversations.get(id);
    if (!c) throw new HubError('NOT_FOUND', `conversation ${id} not found`, { retry: 'final' });
    return c;
  }

  /** The id of the conversation's current escalation. */
  escalationId(c: Conversation): string {
    return c.escalationId ?? `conv-${c.id}`;
  }

  get(escalationId: string): Promise<DeskCase | undefined> {
    return this.storage.deskCases.get(DESK, escalationId);
  }

  latestPosted(conversationId: string): Promise<DeskCase | undefined> {
    return this.storage.deskCases.latestPosted(DESK, conversationId);
  }

  claim(escalationId: string, conversationId: string, owner: string, staleBefore: number): Promise<{ case: DeskCase; claimed: boolean }> {
    return this.storage.deskCases.claim(DESK, escalationId, conversationId, owner, staleBefore);
  }

  insertPosted(escalationId: string, conversationId: string, channel: string, ts: string): Promise<{ case: DeskCase; created: boolean }> {
    return this.storage.deskCases.insertPosted(DESK, escalationId, conversationId, channel, ts);
  }

  markPosted(id: string, channel: string, ts: string): Promise<void> {
    return this.storage.deskCases.markPosted(id, channel, ts);
  }

  release(id: string, owner: string): Promise<void> {
    return this.storage.deskCases.release(id, owner);
  }

  /** ts of what the desk posted under `key` (a relay, a note), if it did. */
  posted(key: string): Promise<string | undefined> {
    return this.storage.deskCases.posted(DESK, key);
  }

  claimPost(key: string, conversationId: string, owner: string, staleBefore: number) {
    return this.storage.deskCases.claimPost(DESK, key, conversationId, owner, staleBefore);
  }

  completePost(key: string, ts: string): Promise<void> {
    return this.storage.deskCases.completePost(DESK, key, ts);
  }

  releasePost(key: string, owner: string): Promise<void> {
    return this.storage.deskCases.releasePost(DESK, key, owner);
  }

  /** true when a case message is being posted right now (its thread is not known yet). */
  posting(since: number): Promise<boolean> {
    return this.storage.deskCases.posting(DESK, since);
  }

  snapshot(c: DeskCase): CaseSnapshot | undefined {
    const r = snapshotSchema.safeParse(c.snapshot);
    return r.success ? r.data : undefined;
  }

  async saveSnapshot(c: DeskCase, s: CaseSnapshot): Promise<void> {
    const json: JsonObject = { summary: s.summary, suggestions: s.suggestions, sentiment: s.sentiment, locale: s.locale };
    await this.storage.deskCases.saveSnapshot(c.id, json);
  }

  /** Latest sentiment the bot measured (-1..1), if any. */
  async sentiment(conversationId: string): Promise<number | null> {
    const events = await this.storage.events.ofConversation(conversationId);
    for (const e of [...events].reverse()) {
      const p = e.payload;
      if (p && typeof p === 'object' && 'sentiment' in p && typeof p.sentiment === 'number') return p.sentiment;
    }
    return null;
  }
}
