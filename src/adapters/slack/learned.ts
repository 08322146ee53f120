import type { Logger } from 'pino';
import type { DeskContext } from '../../core/desk.js';
import { detectLocale } from '../../core/locale.js';
import type { StoredMessage } from '../../core/model.js';
import type { PendingAnswer } from '../../core/storage/pending-answers.js';
import type { SlackApi } from './api.js';
import { esc } from './blocks.js';

export interface SaveAnswerDeps {
  ctx: DeskContext;
  api: Pick<SlackApi, 'userName'>;
  log: Logger;
}

/** The conversation's last agent answer with text, and the customer question before it. */
export function lastAnswer(msgs: readonly StoredMessage[]): { question: StoredMessage; answer: StoredMessage } | undefined {
  for (let i = msgs.length - 1; i >= 0; i--) {
    const answer = msgs[i];
    if (!answer || answer.author !== 'agent' || answer.text.trim() === '') continue;
    for (let j = i - 1; j >= 0; j--) {
      const question = msgs[j];
      if (question && question.author === 'customer' && question.text.trim() !== '') return { question, answer };
    }
    return undefined;
  }
  return undefined;
}

/**
 * "Save answer to knowledge base": proposes the last agent answer of the conversation, with the
 * customer question before it, as a pending answer in the database (any worker may; the answer's
 * message id is the idempotency key, so a redelivered action or a second click stores it once). An
 * admin approves it into the knowledge files with `switchboard kb pending --approve ID`. Returns
 * the note for the case thread.
 */
export async function saveAnswer(d: SaveAnswerDeps, conversationId: string, user: string): Promise<string> {
  const { ctx, log } = d;
  const found = lastAnswer(await ctx.storage.messages.ofConversation(conversationId, 200));
  if (!found) {
    return `:information_source: ${mention(user)} nothing to save yet: answer the customer in this thread first, then press *Save answer*.`;
  }
  const name = await d.api.userName(user); // cached; undefined when Slack does not answer in time
  const proposedBy = `slack:${user}`;
  const { answer, created } = await ctx.proposeAnswer({
    key: `message:${found.answer.id}`,
    question: found.question.text.trim(),
    answer: found.answer.text.trim(),
    locale: detectLocale(found.question.text),
    conversationId,
    proposedBy,
    proposedByName: name,
  });
  log.info({ conversationId, pendingAnswer: answer.id, created }, 'agent answer proposed for the knowledge base (pending approval)');
  // A retry of this very save (same agent, still pending) gets the same note as the first run.
  if (created || (answer.status === 'pending' && answer.proposedBy === proposedBy)) {
    return `:books: ${mention(user)} proposed the last answer for the knowledge base as *#${answer.id}*. It awaits an admin's approval (\`npx switchboard kb pending\`); the bot uses it once approved.`;
  }
  return `:information_source: ${mention(user)} this answer was already proposed as *#${answer.id}* by ${proposer(answer)}: ${statusText(answer)}.`;
}

function statusText(a: PendingAnswer): string {
  if (a.status === 'approved') return `approved${a.entryId ? ` as \`${esc(a.entryId)}\`` : ''}`;
  if (a.status === 'rejected') return 'rejected by an admin';
  return "awaiting an admin's approval";
}

function proposer(a: PendingAnswer): string {
  const m = /^slack:(.+)$/.exec(a.proposedBy);
  return m?.[1] ? mention(m[1]) : esc(a.proposedByName ?? a.proposedBy);
}

/** A user mention when `id` looks like a Slack user id, else the escaped text (never markup). */
function mention(id: string): string {
  return /^[UW][A-Z0-9]{2,}$/.test(id) ? `<@${id}>` : esc(id);
}
