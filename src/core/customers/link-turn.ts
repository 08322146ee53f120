/**
 * The turn handler that takes a link token opened on a channel (docs/identity.md): a Telegram
 * deep link arrives as `/start <token>`, the web chat's link parameter as the command `link`, an
 * email to the `+link-<tag>` reply address as `extra.linkToken` beside the mail's text. It
 * links the identity to the token's business customer (`linkByToken`: one transaction, audited with
 * the token as proof) and tells the customer, in their language, what happened. Anything else
 * passes on: a `/start` without a token still gets the welcome.
 *
 * It goes FIRST in the chain (before the core's `/start` welcome). The link merges the customer
 * (the conversation moves, its version with it), so the turn is decided again on the moved
 * conversation: the outcome is kept per message so the second decision says the same.
 */
import type { Templates } from '../templates.js';
import type { Storage } from '../storage/storage.js';
import type { InboundMessage } from '../types.js';
import { normalizeLocale } from '../locale.js';
import type { TurnHandler } from '../conversation/turn.js';
import { linkByToken, type LinkOutcome, type LinkResult } from './link-tokens.js';
import { followChannel } from './preferred-channel.js';

/** What looks like a link token (a mistyped or cut one still gets a clear answer, not the welcome), or its email tag. */
const TOKEN_LIKE = /^(L[A-Za-z0-9_-]{30,63}|[A-Za-z2-7]{45})$/;

/**
 * The documented field by which an adapter hands over a link token that came BESIDE a message
 * (`msg.extra.linkToken`): the email channel sets it from a `+link-<tag>` reply address. The token
 * is linked and the message is then answered as usual.
 */
export const LINK_TOKEN_EXTRA = 'linkToken';

/** The template of each outcome (config/templates/identity.yaml). */
export const LINK_TEXTS: Readonly<Record<LinkOutcome | 'failed', string>> = {
  linked: 'link_done',
  already_linked: 'link_already',
  invalid: 'link_invalid',
  expired: 'link_expired',
  used: 'link_used',
  other_channel: 'link_other_channel',
  linked_elsewhere: 'link_elsewhere',
  unknown_customer: 'link_unknown_customer',
  failed: 'link_failed',
};

/** The token a message is: `/start <token>` (Telegram deep links) or `link <token>` (the web chat). */
export function linkTokenOf(msg: InboundMessage): string | undefined {
  if (msg.kind !== 'command' || (msg.command?.name !== 'start' && msg.command?.name !== 'link')) return undefined;
  const payload = msg.command.payload?.trim();
  return payload !== undefined && TOKEN_LIKE.test(payload) ? payload : undefined;
}

/**
 * The token a message carries beside its text (`extra.linkToken`, the email reply-address tag).
 * A mail that must not be answered (an auto-reply, a bounce: `noReply`) links nothing.
 */
export function carriedLinkToken(msg: InboundMessage): string | undefined {
  const v = msg.extra?.[LINK_TOKEN_EXTRA];
  if (typeof v !== 'string' || msg.noReply !== undefined) return undefined;
  const token = v.trim();
  return token === '' ? undefined : token.slice(0, 100);
}

export function linkTokenTurn(d: { storage: Storage; texts: Templates; now(): number }): TurnHandler {
  const decided = new Map<string, LinkResult>();
  return {
    name: 'link-token',
    async handle(turn, next) {
      const command = linkTokenOf(turn.msg);
      const token = command ?? carriedLinkToken(turn.msg);
      if (token === undefined) return next();
      let result = decided.get(turn.message.id);
      if (!result) {
        result = await linkByToken(d.storage, { token, channel: turn.msg.channel, platformUserId: turn.msg.platformUserId, now: d.now() });
        // Opened here: after the link, this is the channel the customer wrote from last (docs/identity.md "Preferred channel").
        if (result.outcome === 'linked' && result.customerId) await followChannel(d.storage, result.customerId, turn.msg.channel);
        decided.set(turn.message.id, result);
        if (decided.size > 1000) decided.delete(decided.keys().next().value ?? '');
      }
      // A token says nothing of the customer's language: their app's language does.
      const locale = normalizeLocale(turn.msg.locale) ?? normalizeLocale(turn.customer.locale) ?? turn.locale;
      const said = { author: 'system' as const, text: d.texts.render(LINK_TEXTS[result.outcome], locale) };
      if (command !== undefined) return { patch: {}, replies: [said], events: [] };
      // A token beside a message (an email to the tagged address): the message itself is answered as usual, after the link's answer.
      // Writing to the same address again (saved in an address book) says nothing more about the link.
      const plan = await next();
      return result.outcome === 'already_linked' ? plan : { ...plan, replies: [said, ...plan.replies] };
    },
  };
}
