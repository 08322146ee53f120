/**
 * The turn handler of email codes (docs/identity.md): on a chat channel, a claim of an address
 * ("my email is a@b.example", "email: a@b.example", "我的邮箱是 a@b.example", "邮箱 a@b.example",
 * or an address alone as the whole message) mails a code; a message that is only a 6-digit code
 * (spaces, dashes and full-width digits allowed) from an identity that has asked for a code is
 * checked. Anything else passes on: an address inside other text is not a claim, and a 6-digit
 * number from someone who never asked for a code goes to the bot as usual.
 *
 * The link merges customers, so the pipeline may decide the turn again on the moved conversation:
 * the outcome is kept per message so the second decision says the same and does nothing twice.
 */
import type { Templates } from '../templates.js';
import type { Button, InboundMessage } from '../types.js';
import { normalizeLocale } from '../locale.js';
import type { TurnHandler } from '../conversation/turn.js';
import { EMAIL_CHANNEL, claimAddress, verifyCode, type ClaimOutcome, type EmailCodeDeps, type VerifyOutcome } from './email-code.js';
import { followChannel } from './preferred-channel.js';

/** The template of each outcome (config/templates/identity.yaml). */
export const EMAIL_TEXTS = {
  sent: 'email_code_sent',
  claim_already: 'email_already_linked',
  rate_limited: 'email_code_rate_limited',
  failed: 'email_code_failed',
  invalid_address: 'email_invalid',
  linked: 'email_linked',
  already_linked: 'email_already_linked',
  wrong: 'email_code_wrong',
  last_wrong: 'email_code_locked',
  locked: 'email_code_locked',
  expired: 'email_code_expired',
  used: 'email_code_used',
  none: 'email_code_none',
  linked_elsewhere: 'email_linked_elsewhere',
  mail_subject: 'email_code_mail_subject',
  mail_body: 'email_code_mail_body',
  ask: 'email_link_ask',
  button: 'email_link_button',
} as const;

/**
 * The value of the "Link my email" button (docs/identity.md "Email one-time codes"): a business
 * offers it on a channel with buttons (`POST /api/messages` `buttons`, a workflow step); a press, or
 * the words "link my email" / "绑定邮箱", gets the request for the address, whose answer starts the code.
 */
export const LINK_EMAIL_BUTTON_VALUE = 'sb:link-email';

/** The button, labelled in `locale` (for a business that builds its messages with the hub's texts). */
export function linkEmailButton(texts: Templates, locale: string): Button {
  return { label: texts.render(EMAIL_TEXTS.button, locale), value: LINK_EMAIL_BUTTON_VALUE };
}

const ASKS_TO_LINK = [/^(?:please\s+)?(?:link|connect|add|verify)\s+(?:my\s+)?e-?mail(?:\s+address)?$/i, /^(?:请)?(?:绑定|关联|添加|验证)(?:我的)?(?:电子)?(?:邮箱|邮件地址)$/];

/** A press of the "Link my email" button, or the words for it as the whole message. */
export function asksToLinkEmail(msg: Pick<InboundMessage, 'kind' | 'buttonValue' | 'text'>): boolean {
  if (msg.kind === 'button') return msg.buttonValue === LINK_EMAIL_BUTTON_VALUE;
  if (msg.kind !== 'text') return false;
  const t = (msg.text ?? '').normalize('NFKC').trim().replace(/[.。!！]+$/u, '');
  return ASKS_TO_LINK.some((re) => re.test(t));
}

const ADDRESS = /^(?=.{3,254}$)[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const CLAIMS = [/^(?:my\s+)?e-?mail(?:\s+address)?(?:\s+is|\s*:)?\s*(\S+)$/i, /^(?:我的)?(?:电子)?(?:邮箱|邮件)(?:地址)?(?:是|为)?\s*:?\s*(\S+)$/];

export type Said = { kind: 'claim'; address: string } | { kind: 'bad_address' } | { kind: 'code'; code: string } | undefined;

/** What a message says for email linking: a claim (valid or not), a code, or nothing. Exported for tests. */
export function readMessage(text: string): Said {
  const t = text.normalize('NFKC').trim().replace(/[.。!！]+$/u, '');
  const code = t.replace(/[\s-]/g, '').replace(/^(?:code|验证码)(?:is|是)?:?/i, '');
  if (/^\d{6}$/.test(code)) return { kind: 'code', code };
  const clean = (a: string) => a.replace(/^mailto:/i, '').replace(/^<(.*)>$/, '$1').toLowerCase();
  for (const re of CLAIMS) {
    const m = re.exec(t);
    if (m?.[1]?.includes('@')) {
      const address = clean(m[1]);
      return ADDRESS.test(address) ? { kind: 'claim', address } : { kind: 'bad_address' };
    }
  }
  const alone = clean(t);
  return ADDRESS.test(alone) ? { kind: 'claim', address: alone } : undefined;
}

type Outcome = ClaimOutcome | VerifyOutcome | 'invalid_address';

export function emailCodeTurn(d: EmailCodeDeps & { texts: Templates; available(channel: string): boolean }): TurnHandler {
  const decided = new Map<string, Outcome | 'pass'>();
  return {
    name: 'email-code',
    async handle(turn, next) {
      const msg: InboundMessage = turn.msg;
      if (msg.channel === EMAIL_CHANNEL || !d.available(EMAIL_CHANNEL)) return next();
      const locale = normalizeLocale(msg.locale) ?? normalizeLocale(turn.customer.locale) ?? turn.locale;
      if (asksToLinkEmail(msg)) return { patch: {}, replies: [{ author: 'system', text: d.texts.render(EMAIL_TEXTS.ask, locale) }], events: [] };
      if (msg.kind !== 'text') return next();
      const said = readMessage(msg.text ?? '');
      if (!said) return next();
      let outcome = decided.get(turn.message.id);
      if (outcome === undefined) {
        const c = { channel: msg.channel, platformUserId: msg.platformUserId, customerId: turn.customer.id, conversationId: turn.conversation.id, messageId: turn.message.id };
        if (said.kind === 'bad_address') outcome = 'invalid_address';
        else if (said.kind === 'claim') {
          const mail = (code: string) => `${d.texts.render(EMAIL_TEXTS.mail_subject, locale)}\n\n${code}\n\n${d.texts.render(EMAIL_TEXTS.mail_body, locale)}`;
          outcome = await claimAddress(d, c, said.address, mail);
        } else outcome = (await verifyCode(d, c, said.code)) ?? 'pass';
        // The code was typed here: after the link, this is the channel the customer wrote from last.
        if (outcome === 'linked') await followChannel(d.storage, turn.customer.id, msg.channel);
        decided.set(turn.message.id, outcome);
        if (decided.size > 1000) decided.delete(decided.keys().next().value ?? '');
      }
      if (outcome === 'pass') return next();
      const key = outcome === 'already_linked' && said.kind === 'claim' ? EMAIL_TEXTS.claim_already : EMAIL_TEXTS[outcome];
      return { patch: {}, replies: [{ author: 'system', text: d.texts.render(key, locale) }], events: [] };
    },
  };
}
