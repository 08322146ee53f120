import type { DeskContext } from '../../core/desk.js';

/**
 * The desk's own `remind` jobs, by key:
 * - `unclaimed:<escalationId>`: the unclaimed-case reminder;
 * - `after:<claim|resolve|return|reply|save|fail-…>:<user>:<action ts>`: follow-up of an agent action
 *   (case message refresh, thread note, knowledge-base save);
 * - `edit:<ts>`: an agent edited or deleted a relayed reply.
 */
export type RemindKey =
  | { kind: 'unclaimed'; escalationId: string }
  | { kind: 'after'; action: string; user: string; ts: string }
  | { kind: 'edit'; ts: string };

export function parseRemindKey(key: string): RemindKey | undefined {
  const [kind, ...rest] = key.split(':');
  if (kind === 'unclaimed' && rest.length >= 1) return { kind, escalationId: rest.join(':') };
  if (kind === 'after' && rest.length === 3) return { kind, action: rest[0] ?? '', user: rest[1] ?? '', ts: rest[2] ?? '' };
  if (kind === 'edit' && rest.length === 1) return { kind, ts: rest[0] ?? '' };
  return undefined;
}

export async function scheduleRemind(ctx: DeskContext, conversationId: string, key: string, delayMs = 0): Promise<void> {
  await ctx.remind({ conversationId, key }, delayMs);
}

/** Dedupe key of an agent reply made from a Slack thread message (AgentActions adds `agent:`). */
export function replyEventKey(channel: string, ts: string): string {
  return `slack:${channel}:${ts}`;
}

/** Where an agent reply came from in Slack, from its outbound row's dedupe key. */
export function slackOrigin(dedupeKey: string | null): { channel: string; ts: string } | undefined {
  const m = /^agent:slack:([^:]+):([0-9.]+)$/.exec(dedupeKey ?? '');
  return m ? { channel: m[1] ?? '', ts: m[2] ?? '' } : undefined;
}
