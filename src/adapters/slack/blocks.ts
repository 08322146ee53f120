import type { ConversationStatus } from '../../core/types.js';
import { clip } from '../../core/conversation/summary.js';

/** Button action ids; the value of every button is the conversation id. */
export const ACTIONS = {
  claim: 'sb_claim',
  resolve: 'sb_resolve',
  returnToBot: 'sb_return',
  save: 'sb_save',
} as const;
export type ActionKind = keyof typeof ACTIONS;

/** Customer button action ids start with this (`sbc_<n>`; the desk's start with `sb_`, which this does not match). */
export const CUSTOMER_ACTION_PREFIX = 'sbc_';

export function actionKind(actionId: string): ActionKind | undefined {
  return (Object.keys(ACTIONS) as ActionKind[]).find((k) => ACTIONS[k] === actionId);
}

export interface CaseView {
  conversationId: string;
  customerName: string;
  channel: string;
  identities: { channel: string; name: string }[];
  locale: string;
  sentiment: number | null;
  reason: string | null;
  priority: string | null;
  summary: string;
  lastMessages: { author: string; channel: string; text: string }[];
  suggestions: { question: string; answer: string }[];
  status: ConversationStatus;
  assignee: string | null;
  csat: number | null;
}

/** How agents read a channel's name in a badge (other channels: their own name). */
const CHANNEL_LABELS: Readonly<Record<string, string>> = { telegram: 'Telegram', email: 'Email', webchat: 'Web chat', wechat: 'WeChat', slack: 'Slack' };

/** A message's channel badge, `[Telegram]`, `[Web chat]`… (escaped: the label of an unknown channel is its configured name). */
export function channelBadge(channel: string): string {
  return `[${esc(CHANNEL_LABELS[channel] ?? channel)}]`;
}

/** True when the messages came on more than one channel (a customer linked across channels): then each one carries its badge. */
export function spansChannels(messages: readonly { channel: string }[]): boolean {
  return new Set(messages.map((m) => m.channel)).size > 1;
}

/**
 * The one escape for everything Slack renders that did not come from us (customer names and texts,
 * platform names, summaries, suggestions, error texts): Slack's control characters `&`, `<`, `>` as
 * entities, so nobody can mention @channel, fake a link or a user through what they type.
 */
export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A user mention when `id` looks like a Slack user id, else the escaped text (never markup). */
export function mention(id: string): string {
  return /^[UW][A-Z0-9]{2,}$/.test(id) ? `<@${id}>` : esc(id);
}

/**
 * A Slack link `<url|label>`: only http(s) URLs, with `|`, `<`, `>` percent-encoded and `&` as an
 * entity so the URL cannot end the link early; the label escaped. Anything else: the label alone.
 */
export function slackLink(url: string, label: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return esc(label);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return esc(label);
  const href = u.href.replace(/\|/g, '%7C').replace(/</g, '%3C').replace(/>/g, '%3E').replace(/&/g, '&amp;');
  return `<${href}|${esc(label)}>`;
}

/** A mrkdwn text object that Slack shows as written: no automatic linking of names, channels or URLs. */
function mrkdwn(text: string): object {
  return { type: 'mrkdwn', text, verbatim: true };
}

const REASONS: Record<string, string> = {
  low_confidence: 'Bot was not confident',
  asked_for_human: 'Customer asked for a person',
  three_strikes: 'Three unresolved answers in a row',
  angry: 'Customer is upset',
  workflow: 'Workflow handed over',
  bot_error: 'Bot error',
  action_failed: 'A bot action failed',
};

export function reasonText(reason: string | null): string {
  return reason ? (REASONS[reason] ?? reason) : 'unknown';
}

export function statusText(status: ConversationStatus, assignee: string | null): string {
  switch (status) {
    case 'waiting_agent':
      return ':hourglass_flowing_sand: Waiting for an agent';
    case 'agent':
      return assignee ? `:raising_hand: Claimed by ${mention(assignee)}` : ':raising_hand: With an agent';
    case 'resolved':
      return ':white_check_mark: Resolved';
    case 'bot':
      return ':robot_face: Returned to the bot';
  }
}

function sentimentText(s: number | null): string {
  if (s === null) return 'not measured';
  const label = s <= -0.5 ? ':rage: angry' : s < -0.1 ? ':slightly_frowning_face: negative' : s > 0.3 ? ':slightly_smiling_face: positive' : ':neutral_face: neutral';
  return `${label} (${s.toFixed(2)})`;
}

function button(text: string, actionId: string, value: string, style?: 'primary' | 'danger'): object {
  return { type: 'button', text: { type: 'plain_text', text }, action_id: actionId, value, ...(style ? { style } : {}) };
}

/** Fallback text of the case message (notifications, clients without blocks): rendered by Slack too. */
export function caseText(v: CaseView): string {
  const status = statusText(v.status, v.assignee).replace(/:[a-z_]+: /, '');
  return `Case: ${esc(clip(v.customerName, 80))} on ${esc(v.channel)} — ${esc(reasonText(v.reason))} — ${status}`;
}

/** The case message (Block Kit); rebuilt from the conversation on every status change. */
export function caseBlocks(v: CaseView): object[] {
  const urgent = v.priority === 'high' ? ':red_circle: ' : '';
  const fields = [
    `*Customer*\n${esc(clip(v.customerName, 100))}`,
    `*Channel*\n${esc(v.channel)}`,
    `*Linked identities*\n${v.identities.length ? v.identities.map((i) => `${esc(i.channel)}: ${esc(clip(i.name, 60))}`).join('\n') : '—'}`,
    `*Language*\n${esc(v.locale)}`,
    `*Sentiment*\n${sentimentText(v.sentiment)}`,
    `*Why*\n${urgent}${esc(reasonText(v.reason))}`,
    `*Status*\n${statusText(v.status, v.assignee)}`,
    `*Assignee*\n${v.assignee ? mention(v.assignee) : 'nobody yet'}`,
  ];
  if (v.csat !== null) fields.push(`*CSAT*\n${'★'.repeat(v.csat)}${'☆'.repeat(5 - v.csat)} (${v.csat}/5)`);
  const blocks: object[] = [
    // plain_text as well: Slack decodes the entities there, and a raw `<!channel>` must never be sent.
    { type: 'header', text: { type: 'plain_text', text: clip(`${v.priority === 'high' ? '🔴 ' : ''}Case: ${esc(clip(v.customerName, 100))} (${esc(v.channel)})`, 150) } },
    { type: 'section', fields: fields.slice(0, 10).map((text) => mrkdwn(clip(text, 1900))) },
    { type: 'section', text: mrkdwn(clip(`*Summary*\n${esc(v.summary || '—')}`, 2900)) },
  ];
  if (v.lastMessages.length) {
    // One channel: named once in the fields. Several (after a link): each line starts with its channel's badge.
    const badges = spansChannels(v.lastMessages);
    const lines = v.lastMessages.map((m) =>
      badges ? `>*${channelBadge(m.channel)}* *${esc(m.author)}*: ${esc(clip(m.text, 300))}` : `>*${esc(m.author)}* _(${esc(m.channel)})_: ${esc(clip(m.text, 300))}`,
    );
    blocks.push({ type: 'section', text: mrkdwn(clip(`*Last messages*\n${lines.join('\n')}`, 2900)) });
  }
  if (v.suggestions.length) {
    const lines = v.suggestions.map((s, i) => `${i + 1}. _${esc(clip(s.question, 120))}_\n${esc(clip(s.answer, 400))}`);
    blocks.push({ type: 'section', text: mrkdwn(clip(`*Suggested replies*\n${lines.join('\n')}`, 2900)) });
  }
  const id = v.conversationId;
  const buttons =
    v.status === 'resolved'
      ? [button('Save answer to knowledge base', ACTIONS.save, id)]
      : [
          ...(v.status !== 'agent' ? [button('Claim', ACTIONS.claim, id, 'primary')] : []),
          button('Resolve', ACTIONS.resolve, id),
          ...(v.status !== 'bot' ? [button('Return to bot', ACTIONS.returnToBot, id, 'danger')] : []),
          button('Save answer to knowledge base', ACTIONS.save, id),
        ];
  blocks.push({ type: 'actions', block_id: 'sb_case', elements: buttons });
  blocks.push({
    type: 'context',
    elements: [mrkdwn(`Reply in this thread to answer the customer · start with the note prefix to keep it internal · conversation \`${esc(id)}\``)],
  });
  return blocks;
}

/** Slack mrkdwn of an agent's reply turned into plain text for the customer. */
export function slackToPlain(text: string): string {
  return text
    .replace(/<(https?:[^|>]+)\|([^>]+)>/g, '$2 ($1)')
    .replace(/<(https?:[^>]+)>/g, '$1')
    .replace(/<mailto:([^|>]+)\|([^>]+)>/g, '$2')
    .replace(/<[@#!][^|>]*\|([^>]+)>/g, '$1')
    .replace(/<[@#!][^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .trim();
}

/** Slack's limits on a button: its label (plain text) and its value. */
const LABEL_MAX = 75;
const VALUE_MAX = 2000;

/** A button label escaped and within Slack's limit (counted on the escaped text). */
function label(text: string): string {
  for (let n = LABEL_MAX; ; n--) {
    const e = esc(clip(text, n));
    if (e.length <= LABEL_MAX || n <= 1) return e;
  }
}

/**
 * A customer reply with the bot's choices: the text as a section, the choices as buttons (`sbc_<n>`,
 * the choice's value as the button's value; 25 to an actions block, Slack's limit). The text is
 * plain (escaped, no mrkdwn), as every customer reply is.
 */
export function choiceBlocks(text: string, buttons: readonly { label: string; value: string }[]): object[] {
  const blocks: object[] = [{ type: 'section', text: { type: 'plain_text', text: esc(text) || ' ', emoji: true } }];
  for (let i = 0; i < buttons.length; i += 25) {
    blocks.push({
      type: 'actions',
      block_id: `${CUSTOMER_ACTION_PREFIX}choices_${i / 25}`,
      elements: buttons.slice(i, i + 25).map((b, j) => ({
        type: 'button',
        action_id: `${CUSTOMER_ACTION_PREFIX}${i + j}`,
        text: { type: 'plain_text', text: label(b.label.trim() || b.value), emoji: true },
        value: b.value.slice(0, VALUE_MAX),
      })),
    });
  }
  return blocks;
}
