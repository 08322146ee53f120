/**
 * What agents do on another desk (the web console), shown in the Slack case thread: the two desks
 * change the same conversations through the same agent actions and events, so a case claimed,
 * answered, noted, resolved or returned to the bot elsewhere says so in its thread, once per event
 * (`postOnce` keyed by the event id), and the case message is refreshed (status, assignee). The
 * desk's own actions carry Slack user ids and are left out (`when`: no job is even queued for them);
 * a conversation that never had a Slack case gets none from this.
 */
import type { EventSubscriptions } from '../../core/events.js';
import type { Storage } from '../../core/storage/storage.js';
import { isPosted, type CaseStore, type PostedCase } from './case-store.js';
import { esc } from './blocks.js';

/** What this takes of the desk's CaseJobs (structurally: jobs.ts registers it). */
interface Poster {
  postOnce(conversationId: string, key: string, c: Pick<PostedCase, 'threadChannel' | 'threadTs'>, text: string): Promise<string>;
  refresh(conversationId: string): Promise<void>;
}

/** Slack user ids (what the desk's own actions carry as agent id). */
const SLACK_USER = /^[UW][A-Z0-9]{2,}$/;
const elsewhere = (p: { agentId: string }) => !SLACK_USER.test(p.agentId);

/** `console:Lin` -> `Lin (console)`. */
function who(agentId: string): string {
  const i = agentId.indexOf(':');
  return esc(i > 0 ? `${agentId.slice(i + 1)} (${agentId.slice(0, i)})` : agentId);
}

export function subscribeElsewhere(subs: EventSubscriptions, d: { jobs: Poster; cases: CaseStore; storage: Storage }): void {
  const name = 'desk-slack';
  const post = async (conversationId: string, eventId: string, text: string) => {
    const c = await d.cases.latestPosted(conversationId);
    if (!isPosted(c)) return;
    await d.jobs.postOnce(conversationId, `elsewhere:${eventId}`, c, text);
    await d.jobs.refresh(conversationId);
  };
  const when = { when: elsewhere };
  subs
    .on(name, 'conversation.claimed', (e) => post(e.conversationId, e.id, `:raising_hand: Claimed on another desk by *${who(e.payload.agentId)}*`), when)
    .on(
      name,
      'agent.replied',
      async (e) => {
        const m = await d.storage.messages.get(e.payload.messageId);
        await post(e.conversationId, e.id, `:speech_balloon: *${who(e.payload.agentId)}* replied to the customer: ${esc(m?.text ?? '')}`);
      },
      when,
    )
    .on(name, 'note.added', (e) => post(e.conversationId, e.id, `:memo: Note by *${who(e.payload.agentId)}*: ${esc(e.payload.text)}`), when)
    .on(name, 'conversation.resolved', (e) => post(e.conversationId, e.id, `:white_check_mark: Resolved on another desk by *${who(e.payload.agentId)}*`), when)
    .on(name, 'conversation.returned_to_bot', (e) => post(e.conversationId, e.id, `:robot_face: Returned to the bot on another desk by *${who(e.payload.agentId)}*`), when);
}
